"""The two SKOS schemes (concepts.ttl), the tagging rules and label matching, checked on the real data."""
from __future__ import annotations

import doctest
import random
import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rdflib import BNode, Graph, URIRef
from rdflib.namespace import RDF, SKOS

import kg.normalize.concepts as concepts_module
from kg.errors import NotFound
from kg.normalize.concepts import DATA, SCHEMES, ConceptDataError, ConceptSchemes

REQUIRED_TARGET_GROUPS = (
    "elderly", "older-men", "youth", "teens", "children", "school-refusal", "hikikomori", "parents",
    "foreign-residents", "disaster-affected", "low-income", "addiction-recovery", "jobless", "young-carers",
    "special-needs", "dementia", "gender-minorities", "all-generations",
)
PROJECTS_FILE = DATA / "r6_kodoku_koritsu_npo_model_projects.txt"


@pytest.fixture(scope="module")
def schemes() -> ConceptSchemes:
    return ConceptSchemes.load()


def read_projects() -> dict[int, tuple[str, str]]:
    """number -> (organisation, title) from the table lines: number TAB org TAB title TAB region TAB R5."""
    projects = {}
    for line in PROJECTS_FILE.read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if cols[0].isdigit():
            projects[int(cols[0])] = (cols[1], cols[2])
    return projects


PROJECTS = read_projects()


def tag_ids(schemes: ConceptSchemes, title: str, description: str | None = None, org: str | None = None) -> set[str]:
    tags = schemes.tag(title, description, org)
    ids = {t.concept for t in tags}
    assert len(ids) == len({(t.scheme, t.concept) for t in tags}), "an id is in both schemes: use (scheme, id)"
    return ids


# -- the schemes ----------------------------------------------------------------------------------

def test_ttl_parses_without_blank_nodes():
    graph = Graph().parse(DATA / "concepts.ttl", format="turtle")
    assert len(graph) > 500
    assert not [t for t in graph if any(isinstance(x, BNode) for x in t)]
    schemes = set(graph.subjects(RDF.type, SKOS.ConceptScheme))
    assert schemes == {URIRef(f"https://w3id.org/tsunagari/concept/{s}") for s in SCHEMES}


def test_required_target_groups_have_ja_and_en_labels(schemes):
    for id in REQUIRED_TARGET_GROUPS:
        concept = schemes.get("target-group", id)
        assert concept.ja and concept.en and concept.id == id


def test_every_concept_is_complete(schemes):
    graph = schemes.graph()
    for scheme in SCHEMES:
        assert len(schemes.concepts(scheme)) >= 15
        for c in schemes.concepts(scheme):
            node = schemes.iri(scheme, c.id)
            assert str(graph.value(node, SKOS.notation)) == c.id
            assert c.ja and c.en and c.definition, c.id
            assert c.alt_ja and c.alt_en, f"{c.id}: give words a user would type, in ja and en"
            assert c.id == c.id.lower() and " " not in c.id


def test_every_concept_has_labels_in_nine_languages(schemes):
    graph = schemes.graph()
    for scheme in SCHEMES:
        scheme_node = URIRef(f"https://w3id.org/tsunagari/concept/{scheme}")
        assert {o.language for o in graph.objects(scheme_node, SKOS.prefLabel)} == {"ja", "en", "zh", "ko"}
        for c in schemes.concepts(scheme):
            node = schemes.iri(scheme, c.id)
            langs = sorted(o.language for o in graph.objects(node, SKOS.prefLabel))
            assert langs == ["en", "es", "ja", "ko", "ne", "pt", "tl", "vi", "zh"], \
                f"{c.id}: one skos:prefLabel in each of ja, en, zh, ko, vi, pt, tl, ne, es"
            spanish = [o for o in graph.objects(node, SKOS.altLabel) if o.language == "es"]
            assert spanish, f"{c.id}: give words a Spanish-speaking user would type (skos:altLabel @es)"
            assert len(c.more_labels) >= 4 and c.more_labels[0] in c.labels, c.id
            nepali = [label for label in c.more_labels if any("\u0900" <= ch <= "\u097f" for ch in label)]
            assert nepali, f"{c.id}: give words a Nepali user would type (Devanagari)"
            assert c.zh and c.ko and c.zh in c.labels and c.ko in c.labels, c.id
            assert c.alt_zh and c.alt_ko, f"{c.id}: give words a Chinese and a Korean user would type"
            assert not any(any("\uac00" <= ch <= "\ud7a3" for ch in label) for label in c.alt_zh), c.id
            assert all(any("\uac00" <= ch <= "\ud7a3" for ch in label) for label in (c.ko,) + c.alt_ko), c.id
            for label in c.labels:
                assert len(label) >= 2, f"{c.id}: {label!r} is one character: it would match everywhere"


def test_two_preferred_labels_in_one_language_are_refused(tmp_path):
    ttl, rules = write(tmp_path)
    ttl.write_text(TINY_TTL.replace(" ; skos:broader g:{broader} .", " .")
                   .replace('"丙"@ja, "C"@en', '"丙"@ja, "C"@en, "丙一"@zh, "丙二"@zh'), encoding="utf-8")
    with pytest.raises(ConceptDataError, match="more than one skos:prefLabel in zh or ko"):
        ConceptSchemes.load(ttl, rules)


def test_labels_are_unambiguous_within_a_scheme(schemes):
    for scheme in SCHEMES:
        owner: dict[str, str] = {}
        for c in schemes.concepts(scheme):
            own = [unicodedata.normalize("NFKC", label).casefold() for label in c.labels]
            assert len(own) == len(set(own)), f"{c.id} repeats a label (pref and alt must differ)"
            for label in own:
                assert owner.setdefault(label, c.id) == c.id, f"{label!r} is a label of {owner[label]} and {c.id}"


def test_hierarchy_is_a_consistent_dag(schemes):
    graph = schemes.graph()
    for scheme in SCHEMES:
        scheme_node = URIRef(f"https://w3id.org/tsunagari/concept/{scheme}")
        tops = set(graph.objects(scheme_node, SKOS.hasTopConcept))
        for c in schemes.concepts(scheme):
            node = schemes.iri(scheme, c.id)
            for b in c.broader:
                schemes.get(scheme, b)  # exists
                assert (schemes.iri(scheme, b), SKOS.narrower, node) in graph, f"{b} must list {c.id} as narrower"
            narrower = set(graph.objects(node, SKOS.narrower))
            assert narrower == {schemes.iri(scheme, d.id) for d in schemes.concepts(scheme) if c.id in d.broader}
            assert c.id not in schemes.ancestors(scheme, c.id)
            is_top = (node, SKOS.topConceptOf, scheme_node) in graph
            assert is_top == (not c.broader) == (node in tops), c.id
            assert (node, SKOS.inScheme, scheme_node) in graph


@pytest.mark.parametrize("scheme, id, expected", [
    ("target-group", "older-men", ("middle-aged",)),
    ("target-group", "teens", ("children", "youth")),
    ("target-group", "school-refusal", ("children",)),
    ("target-group", "dementia", ("elderly",)),
    ("target-group", "parents", ("families",)),
    ("theme", "men-shed", ("crafts", "place-to-belong")),
    ("theme", "vacant-houses", ("vacant-spaces",)),
    ("theme", "oshi-katsu", ("interests",)),
    ("theme", "place-to-belong", ()),
])
def test_ancestors(schemes, scheme, id, expected):
    assert schemes.ancestors(scheme, id) == expected


def test_lookup_errors_name_the_fix(schemes):
    with pytest.raises(NotFound, match="use one of: .*elderly"):
        schemes.get("target-group", "pensioners")
    with pytest.raises(NotFound, match="target-group, theme"):
        schemes.concepts("audience")
    assert str(schemes.iri("theme", "men-shed")) == "https://w3id.org/tsunagari/concept/theme/men-shed"


def test_graph_is_a_copy(schemes):
    g = schemes.graph()
    g.remove((None, None, None))
    assert len(schemes.graph()) > 500


def test_load_is_cached():
    assert ConceptSchemes.load() is ConceptSchemes.load()


def test_docstring_examples_run():
    from kg.normalize import inflection

    result = doctest.testmod(concepts_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 4 and result.failed == 0
    result = doctest.testmod(inflection)
    assert result.attempted >= 2 and result.failed == 0


# -- tagging: cases from the real list (title, description, organisation) -----------------------

TAGGING = [
    # title, description, organisation, must have, must not have
    ("石巻地域の不登校中高生 応援ホットスペースプロジェクト", None, "特定非営利活動法人 まなびのたねネットワーク",
     "school-refusal teens place-to-belong", "elderly children platforms"),
    ("空家再生型メンズシェッドとおやじ講を融合させた孤独・孤立対策", None, "特定非営利活動法人 しんしろドリーム荘",
     "men-shed vacant-houses older-men", "elderly events"),
    ("在日ミャンマー人の孤独・孤立を防ぐ定住支援相談事業", None, "特定非営利活動法人 リンクトゥマンマー",
     "foreign-residents counselling", "parents"),
    ("ペット版フードバンクによる、寄り添い相談見守り事業", None, "特定非営利活動法人 人と動物の共生センター",
     "animals food counselling watching-over", ""),
    ("ひきこもり遍路2024", None, "特定非営利活動法人 ニュースタート事務局", "hikikomori pilgrimage", "youth"),
    ("認知症啓発、健康相談、地域のつながり", None, "特定非営利活動法人 くじら", "dementia health counselling", ""),
    ("“メンズ・シェッド”によるシニア男性の孤独・孤立の予防", None, "札幌メンズ・シェッド ポツケコタン",
     "men-shed older-men", "elderly"),
    ("中高年男性の孤独・孤立予防対策", None, "NPO法人 SKY", "older-men", "elderly middle-aged"),
    ("アート創作やアートを通じた対話（ARTRIP）による孤独孤立防止事業：子育て世代を対象に", None, "一般社団法人 Arts Alive",
     "arts conversation parents", "children"),
    ("多世代で取り組む小中学生の居場所づくり", None, "NPO法人 地域で子どもを育む会",
     "all-generations multigenerational children place-to-belong", "teens"),
    ("見守り・居場所等孤独孤立防止の活動における情報受発信", None, "特定非営利活動法人 じゃんけんぽん",
     "watching-over place-to-belong digital-media", "elderly"),
    ("地域の居場所と連携した地域主体の社会的処方モデルづくり",
     "能登半島地震の広域避難者を対象に、地域の居場所等と連携した社会的処方のモデルづくり。対象者同士が集い交流する"
     "機会を提供し、コミュニティ形成や地域参加につなげる取組。", "特定非営利活動法人 クロスフィールズ（石川県）",
     "place-to-belong social-prescribing disaster-affected disaster-recovery community-building", ""),
    ("依存症回復者等を対象とした地域内居場所事業", None, "あけぼのインクルージョン",
     "addiction-recovery place-to-belong", ""),
    ("国籍を問わないママパパのためのつながり支援", None, "RMJ", "foreign-residents parents multicultural", "children"),
    ("滋賀県在住の移民ルーツを持つ若者を対象としたレジリエンス育成事業", None, "immi lab",
     "foreign-residents youth resilience", "supporter-training"),
    ("生活困窮の当事者と共に学ぶ地域共生社会の担い手育成事業", None, "特定非営利活動法人 ささしまサポートセンター",
     "low-income peer-support community-building supporter-training", ""),
    ("薩摩の“おせ”から“ちご”へ文化伝承の多世代交流“かごつま弁サロン”事業", None,
     "特定非営利活動法人 かごしまヤングケアラー支援ネットワーク",
     "young-carers all-generations multigenerational culture-heritage community-cafe", "platforms"),
    ("退職者・離職者のための居場所運営と、つながりをつくる支援人材育成",
     "外出機会が減った休職者・離職者に対し、「誰かの役に立てていると感じる」機会を提供。また、支援ノウハウを"
     "まとめ、つながりをつくる支援人材の育成を実施。", "一般社団法人 NIMO ALCAMO",
     "jobless place-to-belong supporter-training", "elderly"),
    ("孤立・クローゼットの奥にある新世界ジェンダーフリーシェッド", None, "特定非営利活動法人 釜ヶ崎支援機構",
     "gender-minorities place-to-belong", "men-shed older-men"),
    ("災害公営住宅における市民交流プラザを活用した交流機会のコーディネート", None,
     "特定非営利活動法人 陸前高田まちづくり協働センター", "disaster-affected disaster-recovery", "community-building"),
    ("特別なニーズを抱える子ども向けの居場所と職業トレーニング", None, "特定非営利活動法人 KOMPOSITION",
     "special-needs children place-to-belong work-preparation", ""),
    ("安心して暮らせるための地域共生社会の実現に向けた包括的な支援に資する事業", None,
     "特定非営利活動法人 くまもと災害ボランティア団体ネットワーク",
     "community-building holistic-support", "disaster-affected disaster-recovery volunteering platforms"),
    ("あいりん地区単身高齢者のつながりづくり・支援者間のネットワークづくり", None, "ハレトケの会",
     "living-alone elderly platforms", ""),
    ("誰もが気軽に集う居場所を孤立家庭にとっての身近な相談室に", None, "NPO法人 街カフェ大倉山ミエル",
     "families place-to-belong counselling", "community-cafe"),
    ("推し活は若者の孤立を防げるか？ 推しからセーフティネットへ", None, "特定非営利活動法人 みなと計画",
     "oshi-katsu youth", "platforms"),
    ("コミュニティスペースを拠点とした中高生のキャリア自律を目指したソーシャルサポートネットワーク形成プロジェクト",
     None, "一般社団法人 ハンズオン", "teens place-to-belong work-preparation", "platforms children"),
    ("こどもから高齢者まで、繋がりが続けられる地域づくりを目指して", None, "一般社団法人 UMEプロジェクト",
     "all-generations multigenerational community-building", "children elderly"),
    ("青少年を持つ家族と地域ボランティアの連携による見守り強化", None, "一般社団法人 青少年を守る父母の連絡協議会",
     "youth families volunteering watching-over", "parents"),
    ("買物困難や交通不便を補う地域社会システムの立ち上げ活動", None, "社会福祉法人 光養会",
     "shopping-and-transport", ""),
    ("商店街でつながろう！わくわくと安心を育むコミュニティ作り", None, "HAPPY PARK プロジェクト",
     "shopping-street community-building", ""),
    ("ユニバーサル・ファクトリー（日本版メンズ・シェッド）の提供事業", None, "特定非営利活動法人かみああと",
     "men-shed crafts", "older-men"),
    ("困った時、誰でも、いつでも来れるみんなの居場所ワクワクピース", None, "NPO法人 子育て応援ワクワクピース",
     "parents place-to-belong", "children"),
    ("第二期・食で結ぶ「孤独・孤立対策プラットフォーム」の構築",
     "八王子独自の孤独・孤立対策プラットフォームとして、孤立者を支援するための官民が連携した会議体を構成。孤立者と"
     "繋がり続ける「フード・カフェ」開催のほか、大学と連携した学生支援等。", "一般社団法人 フードバンク八王子（東京都）",
     "food platforms community-cafe students", "children teens"),
    ("3世代によるワークショップ・セミナー交流", None, "筑波大生による、みんなの食堂（つくしよく）",
     "all-generations multigenerational events", "food students"),
    ("「つながるアグリ」 野菜づくりと地域づくり", None, "一般社団法人 徳島県就業支援機構",
     "farming community-building", "work-preparation"),
    ("集まろう、話そう、心も身体も元気になれるコミュニティづくり事業", None, "一般社団法人 石巻じちれん",
     "conversation health community-building", "neighbourhood-associations"),
    ("自治会運営の変革(地域デジタル化推進支援)×住民の孤独・孤立世帯を防ぐ取組み", None, "一般社団法人 Shien",
     "neighbourhood-associations digital-media families", ""),
    ("早朝・夜間帯に実施するコミュニティカフェ “よなが” の運営", None, "特定非営利活動法人 風の家",
     "community-cafe out-of-hours", ""),
    ("不登校が居場所につながり社会的自立を目指せる環境づくり", None, "特定非営利活動法人 教育支援協会南関東",
     "school-refusal place-to-belong", "work-preparation"),
    ("ケアサポーターネットワーク活用事業", None, "社会福祉法人 おきなわ長寿会",
     "elderly volunteering platforms", ""),
    ("地域に潜在するスペースを利用した居場所づくりと効果", None, "鳥取医療生活協同組合 健康まちづくり部",
     "vacant-spaces place-to-belong", "health community-building"),
    # full-width and half-width input folds (NFKC)
    ("ｼﾆｱ男性のための ＭＥＮ'Ｓ ＳＨＥＤ と ﾌｰﾄﾞﾊﾞﾝｸ", None, None, "older-men men-shed food", "elderly"),
]


@pytest.mark.parametrize("title, description, org, present, absent", TAGGING, ids=[row[0][:24] for row in TAGGING])
def test_tagging_cases(schemes, title, description, org, present, absent):
    got = tag_ids(schemes, title, description, org)
    assert set(present.split()) <= got, f"missing {set(present.split()) - got}; got {sorted(got)}"
    assert not set(absent.split()) & got, f"disputed {set(absent.split()) & got}"


# General words of the rules, in the phrasing of a project list (title, must have, must not have).
GENERAL_WORDS = [
    ("身寄りのない高齢者の見守り", "living-alone elderly watching-over", ""),
    ("長期欠席の中学生への学習支援", "school-refusal teens", ""),
    ("学校に通えない子どもの居場所", "school-refusal children place-to-belong", ""),
    ("家にこもりがちな若者のための居場所", "hikikomori youth place-to-belong", ""),
    ("妊産婦と産後の母親の集い", "parents", "children"),
    ("経済的に困っている世帯への食料支援", "low-income families food", ""),
    ("菜園での野菜づくりと稲刈り体験", "farming", ""),
    ("陶芸と書道の教室", "arts", ""),
    ("免許返納後の移動手段の確保", "shopping-and-transport", "elderly"),
    ("同じ境遇の親どうしの分かち合い", "peer-support", ""),
    ("アルバイト体験と就職相談", "work-preparation counselling", ""),
    ("体操教室と保健師の健康相談", "health counselling", ""),
    ("炊き出しと会食", "food", ""),
    ("国籍を問わず集える多文化カフェ", "foreign-residents multicultural community-cafe", ""),
]


@pytest.mark.parametrize("title, present, absent", GENERAL_WORDS, ids=[row[0][:16] for row in GENERAL_WORDS])
def test_general_words_of_the_rules(schemes, title, present, absent):
    got = tag_ids(schemes, title)
    assert set(present.split()) <= got, f"missing {set(present.split()) - got}; got {sorted(got)}"
    assert not set(absent.split()) & got, f"disputed {set(absent.split()) & got}"


# Tags the rules give the bundled projects since issue 9's retrieval targets, each read against the
# project's own words: number -> (scheme, concept, evidence, field).
NEW_TAGS = {
    21: ("theme", "multicultural", ("国籍を問わない",), "title"),   # mothers and fathers of any nationality
}


@pytest.mark.parametrize("number", sorted(NEW_TAGS))
def test_new_tags_of_the_bundled_projects_carry_their_evidence(schemes, number):
    org, title = PROJECTS[number]
    scheme, concept, evidence, field = NEW_TAGS[number]
    found = [(t.evidence, t.field) for t in schemes.tag(title, None, org) if (t.scheme, t.concept) == (scheme, concept)]
    assert found == [(evidence, field)]


def test_tags_are_ordered_and_carry_their_evidence(schemes):
    title = "子どもの居場所を活用した高齢者の孤独・孤立防止のための多世代・多文化交流コミュニティーの形成"
    tags = schemes.tag(title, None, "特定非営利活動法人 キッズドア")
    order = [(t.scheme, t.concept, ("title", "description", "organization").index(t.field)) for t in tags]
    assert order == sorted(order)
    assert len(order) == len(set(order)), "one Tag per concept per field"
    for t in tags:
        text = unicodedata.normalize("NFKC", title if t.field == "title" else "特定非営利活動法人 キッズドア")
        assert t.evidence and all(word in text for word in t.evidence)
    children = [t for t in tags if t.concept == "children"]
    assert [(t.field, t.evidence) for t in children] == [("title", ("子ども",)), ("organization", ("キッズ",))]
    assert schemes.tag(title) == schemes.tag(title)


def test_exclusion_applies_to_its_span_only(schemes):
    assert "elderly" not in tag_ids(schemes, "シニア男性の集い")
    assert "elderly" in tag_ids(schemes, "シニア男性と高齢者の集い")


def test_young_carers_comes_from_the_organisation_name(schemes):
    number = 75
    org, title = PROJECTS[number]
    (tag,) = [t for t in schemes.tag(title, None, org) if t.concept == "young-carers"]
    assert (tag.field, tag.evidence) == ("organization", ("ヤングケアラー",))


def test_empty_input_gives_no_tags(schemes):
    assert schemes.tag("") == ()
    assert schemes.tag("地域のつながりサポートプロジェクト", "", "") == ()


# -- the 77 bundled projects ------------------------------------------------------------------

# Titles that carry no who and no how; checked by hand, not a bug in the rules.
NO_TAGS_EXPECTED = {
    74: "地域のつながりサポートプロジェクト: 'local ties support' says neither who nor how",
}

# Tags a reader would dispute, mostly from organisation names: they must never appear.
DISPUTED = [
    (70, "disaster-affected"), (70, "disaster-recovery"), (70, "volunteering"),  # くまもと災害ボランティア… runs a 地域共生 project
    (7, "elderly"), (46, "elderly"), (1, "elderly"),  # 中高生 / 中高年男性 / シニア男性 are not 高齢者
    (19, "children"),               # 子育て世代 are the parents
    (48, "men-shed"), (48, "older-men"),  # a gender-free shed
    (3, "platforms"),               # セーフティネット is not a partnership platform
    (66, "platforms"),              # a teen's social support network
    (17, "parents"),                # 父母の連絡協議会 names the members, not whom the project serves
    (60, "children"), (60, "elderly"),    # こどもから高齢者まで = everyone
    (10, "food"), (10, "students"), # みんなの食堂 / 筑波大生 are the organisers
    (61, "work-preparation"),       # 就業支援機構 runs a farming project
    (4, "community-building"), (11, "community-building"),  # まちづくり only in the names
    (6, "neighbourhood-associations"),  # 石巻じちれん is the organiser
    (36, "animals"),                # わんず is a name
    (55, "health"),                 # 健康まちづくり部 is a department name
    (26, "community-cafe"),         # 街カフェ is a name
    (25, "work-preparation"),       # 社会的自立 for 不登校 is about growing up
    (41, "supporter-training"),     # レジリエンス育成 builds the young people
]


def test_the_table_has_77_projects():
    assert sorted(PROJECTS) == list(range(1, 78))


def test_every_project_gets_a_target_group_or_a_theme(schemes):
    untagged = {n for n, (org, title) in PROJECTS.items() if not schemes.tag(title, None, org)}
    assert untagged == set(NO_TAGS_EXPECTED), f"untagged: {sorted(untagged)}"


def test_coverage_numbers(schemes):
    tags = {n: schemes.tag(title, None, org) for n, (org, title) in PROJECTS.items()}
    with_group = sum(any(t.scheme == "target-group" for t in ts) for ts in tags.values())
    with_theme = sum(any(t.scheme == "theme" for t in ts) for ts in tags.values())
    # Floors, not exact counts: many titles say how but not who (居場所づくり, 地域づくり).
    assert with_group >= 45 and with_theme >= 72


@pytest.mark.parametrize("number, concept", DISPUTED, ids=[f"{n}-{c}" for n, c in DISPUTED])
def test_disputed_tags_never_appear(schemes, number, concept):
    org, title = PROJECTS[number]
    assert concept not in tag_ids(schemes, title, None, org)


def test_organisation_names_never_give_themes(schemes):
    for org, title in PROJECTS.values():
        assert not [t for t in schemes.tag(title, None, org) if t.field == "organization" and t.scheme == "theme"]


# -- labels in free-text queries --------------------------------------------------------------

@pytest.mark.parametrize("query, expected, unexpected", [
    ("men's shed in Shizuoka", {("theme", "men-shed")}, set()),
    ("Men’s Sheds for older men", {("theme", "men-shed"), ("target-group", "older-men")}, set()),
    ("不登校の子ども", {("target-group", "school-refusal"), ("target-group", "children")}, set()),
    ("food bank for pets", {("theme", "food"), ("theme", "animals")}, set()),
    ("ｼﾆｱ男性の居場所", {("target-group", "older-men"), ("theme", "place-to-belong")}, {("target-group", "elderly")}),
    ("多世代交流", {("target-group", "all-generations"), ("theme", "multigenerational")}, set()),
    ("メンズ・シェッド", {("theme", "men-shed")}, set()),
    ("コミュニティーカフェ", {("theme", "community-cafe")}, set()),
    ("social prescribing for evacuees", {("theme", "social-prescribing"), ("target-group", "disaster-affected")}, set()),
    ("HIKIKOMORI support", {("target-group", "hikikomori")}, set()),
    ("school-refusal", {("target-group", "school-refusal")}, set()),
    ("LGBTQ+ youth", {("target-group", "gender-minorities"), ("target-group", "youth")}, set()),
    ("start a party", {("theme", "events")}, {("theme", "arts")}),
    ("ヤングケアラー", {("target-group", "young-carers")}, {("target-group", "children")}),
    ("nothing to see", set(), set()),
])
def test_match_labels(schemes, query, expected, unexpected):
    got = {(s, c) for s, c, _ in schemes.match_labels(query)}
    assert expected <= got and not unexpected & got, got


def test_match_labels_returns_the_label_in_query_order(schemes):
    assert schemes.match_labels("不登校の子ども") == [
        ("target-group", "school-refusal", "不登校"), ("target-group", "children", "子ども")]


TG, TH = "target-group", "theme"

# Queries in Chinese, Korean, everyday Japanese and English: (query, must find, must not find).
MULTILINGUAL = [
    # Chinese (simplified)
    ("社区咖啡馆", {(TH, "community-cafe")}, {(TH, "food")}),
    ("男人的工作坊", {(TH, "men-shed")}, {(TH, "crafts"), (TH, "events")}),  # 工作 (ja: crafts) inside
    ("找工作", {(TH, "work-preparation")}, {(TH, "crafts")}),
    ("独居老人的孤独问题", {(TG, "living-alone"), (TG, "elderly")}, set()),
    ("家里蹲的年轻人", {(TG, "hikikomori"), (TG, "youth")}, set()),
    ("拒绝上学的孩子", {(TG, "school-refusal"), (TG, "children")}, set()),
    ("在日外国人的育儿支援", {(TG, "foreign-residents"), (TG, "parents")}, set()),
    ("食物银行和儿童食堂", {(TH, "food"), (TG, "children")}, set()),
    ("宠物和志愿者", {(TH, "animals"), (TH, "volunteering")}, set()),
    ("二十几岁的年轻人", {(TG, "youth")}, {(TG, "teens")}),
    ("许多代表参加了会议", set(), {(TG, "all-generations"), (TH, "multigenerational")}),
    # Korean: particles after a label, spacing either way
    ("어르신 돌봄", {(TG, "elderly")}, set()),
    ("어르신들을 위한 모임", {(TG, "elderly"), (TH, "events")}, set()),
    ("은둔형 외톨이 청년 지원", {(TG, "hikikomori"), (TG, "youth")}, set()),
    ("등교거부 학생", {(TG, "school-refusal")}, set()),
    ("멘즈셰드", {(TH, "men-shed")}, set()),
    ("외국인 주민을 위한 푸드뱅크", {(TG, "foreign-residents"), (TH, "food")}, set()),
    ("독거노인", {(TG, "living-alone"), (TG, "elderly")}, set()),
    ("다문화 가정 아이들", {(TG, "foreign-residents"), (TH, "multicultural"), (TG, "families"), (TG, "children")}, set()),
    ("커뮤니티 카페에서 수다", {(TH, "community-cafe"), (TH, "conversation")}, set()),
    ("아이돌봄 서비스", set(), {(TH, "oshi-katsu")}),                      # 아이돌 "idol" inside "childcare"
    ("오십대 남성", {(TG, "middle-aged")}, {(TG, "teens")}),               # 십대 inside 오십대
    # Japanese, everyday words
    ("学校に行けない子ども", {(TG, "school-refusal"), (TG, "children")}, set()),
    ("定年後の男性の居場所", {(TG, "older-men"), (TH, "place-to-belong")}, {(TG, "elderly")}),
    ("家から出られない人", {(TG, "hikikomori")}, set()),
    ("一人で暮らすおじいちゃん", {(TG, "living-alone"), (TG, "elderly")}, set()),
    ("おやじの居場所", {(TH, "men-shed"), (TG, "older-men")}, set()),
    ("みんなでごはん", {(TH, "food")}, set()),
    ("シングルマザーの悩み", {(TG, "parents"), (TH, "counselling")}, set()),
    ("日本語が苦手な外国の方", {(TG, "foreign-residents")}, set()),
    # English
    ("lonely seniors", {(TG, "elderly")}, set()),
    ("NEET and hikikomori", {(TG, "jobless"), (TG, "hikikomori")}, set()),
    ("refugee families", {(TG, "foreign-residents"), (TG, "families")}, set()),
    ("a shut-in teenager", {(TG, "hikikomori"), (TG, "teens")}, set()),
    ("gay and lesbian elders", {(TG, "gender-minorities"), (TG, "elderly")}, set()),
    ("senior high school students", {(TG, "teens")}, {(TG, "elderly"), (TG, "students")}),
    ("application catalogue", set(), {(TH, "digital-media"), (TH, "animals")}),  # app, cat are whole words only
    ("train station", set(), {(TH, "supporter-training")}),          # English is not stemmed (training -> train)
    # Spanish
    ("hombres jubilados", {(TG, "older-men")}, {(TG, "elderly")}),
    ("niños que no van a la escuela", {(TG, "children"), (TG, "school-refusal")}, set()),
    ("banco de alimentos para estudiantes", {(TH, "food"), (TG, "students")}, set()),
    ("voluntarios y mascotas", {(TH, "volunteering"), (TH, "animals")}, set()),
    ("un cafetín", set(), {(TH, "community-cafe")}),                 # café is a whole word, accents included
    # Portuguese and Spanish in another gender or number than the label (same Snowball stem)
    ("apoio a famílias estrangeiras isoladas", {(TG, "families"), (TG, "foreign-residents")}, set()),
    ("idosas que moram sozinhas", {(TG, "elderly"), (TG, "living-alone")}, set()),
    ("personas mayores que viven solas", {(TG, "elderly"), (TG, "living-alone")}, set()),
    ("apoyo para familias extranjeras", {(TG, "families"), (TG, "foreign-residents")},
     {(TG, "jobless")}),                                              # "para": a short stem finds nothing
    ("comedores comunitarios", {(TH, "food")}, set()),
    ("personas de orientación sexual diversa", {(TG, "gender-minorities")}, {(TH, "counselling")}),
    ("pessoas de orientação sexual diversa", {(TG, "gender-minorities")}, {(TH, "counselling")}),
    # everyday words added for issue 9 (labels in every language), and words they must not catch
    ("老人家和小朋友", {(TG, "elderly"), (TG, "children")}, set()),
    ("학교를 안 가는 아이", {(TG, "school-refusal")}, set()),
    ("trẻ nhỏ và ông bà", {(TG, "children"), (TG, "elderly")}, set()),
    ("mga lolo at lola sa probinsya", {(TG, "elderly")}, set()),
    ("personas de edad sin familia", {(TG, "elderly"), (TG, "living-alone")}, set()),
    ("身寄りのないお年寄り", {(TG, "living-alone"), (TG, "elderly")}, set()),
    ("comunidade brasileira e idosos", {(TG, "foreign-residents"), (TG, "elderly")}, set()),
    ("people in their twenties who lost their jobs", {(TG, "youth"), (TG, "jobless")}, set()),
    ("kindergarten teachers", set(), {(TH, "farming")}),               # garden is a whole word only
    ("a transparent process", set(), {(TG, "gender-minorities")}),     # so is trans
    ("seniority rules", set(), {(TG, "elderly")}),
    ("한 가구당 지원금", set(), {(TG, "families")}),                    # 가구 (furniture, household) is no label
    ("一家公司的员工", set(), {(TG, "families")}),                      # 一家 (zh: "a" company) is no label
]


@pytest.mark.parametrize("query, expected, unexpected", MULTILINGUAL, ids=[row[0] for row in MULTILINGUAL])
def test_match_labels_in_every_language(schemes, query, expected, unexpected):
    got = {(s, c) for s, c, _ in schemes.match_labels(query)}
    assert expected <= got, f"missing {expected - got}; got {sorted(got)}"
    assert not unexpected & got, f"disputed {unexpected & got}"


def test_inflected_labels_report_the_label_and_follow_the_nesting_rule(schemes):
    # "famílias" is found as written, "estrangeiras" through the stem of the label *estrangeiros*.
    got = schemes.match_labels("famílias estrangeiras")
    assert [c for _, c, _ in got] == ["families", "foreign-residents"] and got[1][2] == "estrangeiros"
    # A label inside a longer matched one (here found by its stems) is ignored: no "jobless" for jubiladas.
    assert [c for _, c, _ in schemes.match_labels("hombres jubiladas")] == ["older-men"]


def test_inflected_labels_match_whole_runs_of_words():
    from kg.normalize.inflection import InflectedLabels, stem

    finder = InflectedLabels([("es", "target-group", "living-alone", "viven solos"),
                              ("es", "target-group", "jobless", "parados"),
                              ("en", "theme", "supporter-training", "training")])
    assert finder.find("que viven solas") == [(4, 15, "target-group", "living-alone", "viven solos")]
    assert finder.find("viven, solas") == []          # the words must follow each other
    assert finder.find("solas viven") == []
    assert finder.find("para") == []                  # one-word label with a 3-letter stem: as written only
    assert finder.find("train") == []                 # English labels are not stemmed
    assert stem("familias", "pt") == stem("famílias", "pt") == "famil"
    assert stem("東京", "es") == ""


def test_match_labels_gives_the_label_as_written(schemes):
    # the Korean label is written with a space; the query without it still names it
    assert schemes.match_labels("등교거부") == [("target-group", "school-refusal", "등교 거부")]
    assert schemes.match_labels("ＬＧＢＴＱ") == [("target-group", "gender-minorities", "lgbtq")]



@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(1, 8)), max_size=60))
def test_a_label_is_hidden_only_by_an_overlapping_kept_one(spans):
    """The bisection in _free_span keeps what testing every kept span keeps (spans come longest first)."""
    spans = sorted(((start, start + size) for start, size in spans), key=lambda s: (s[0] - s[1], s[0]))
    kept_fast, kept_slow, fast = [], [], []
    for start, end in spans:
        if concepts_module._free_span(fast, start, end):
            kept_fast.append((start, end))
        if all((start, end) == k or end <= k[0] or k[1] <= start for k in kept_slow):
            kept_slow.append((start, end))
    assert kept_fast == kept_slow
    assert fast == sorted(set(kept_slow))



def _reference_words(text, patterns, excludes):
    """_matched_words as it was: every span tested against every exclusion and every kept span."""
    spans = [m.span() for p in patterns for m in p.finditer(text) if m.end() > m.start()]
    blocked = [m.span() for p in excludes for m in p.finditer(text)]
    spans = [s for s in spans if not any(s[0] < b[1] and b[0] < s[1] for b in blocked)]
    kept: list[tuple[int, int]] = []
    for span in sorted(set(spans), key=lambda s: (s[0] - s[1], s[0])):
        if all(span[1] <= k[0] or k[1] <= span[0] for k in kept):
            kept.append(span)
    return tuple(dict.fromkeys(text[a:b] for a, b in sorted(kept)))


RULE_PARTS = ["a", "ab", "b+", "abc", "ca?", "c(?=a)", "(?=b)", "a|bc", "(?<=a)c", "x?"]


@settings(max_examples=300, deadline=None)
@given(st.text("abcx", max_size=40), st.lists(st.sampled_from(RULE_PARTS), min_size=1, max_size=4),
       st.lists(st.sampled_from(RULE_PARTS), max_size=3))
def test_words_matched_by_rules_are_those_of_the_slow_rule(text, patterns, excludes):
    patterns_re, excludes_re = [re.compile(p) for p in patterns], [re.compile(p) for p in excludes]
    assert concepts_module._matched_words(text, patterns_re, excludes_re) == \
        _reference_words(text, patterns_re, excludes_re)


def test_no_rule_begins_with_an_unbounded_repeat_anywhere():
    """A leading \\w+ (or .+, [..]*) must follow (?<!..): bare, it rescans a long run of letters from each
    of its characters (a 20,000-character cell took 1.4 s in the tagger)."""
    rules = Path(concepts_module.__file__).parent.parent / "data" / "concept_rules.tsv"
    patterns = [line.split("\t")[4] for line in rules.read_text(encoding="utf-8").splitlines()[1:]
                if line and not line.startswith(("#", "scheme\t"))]
    leading = re.compile(r"(?:^|[|(])(?:\\w|\.|\[[^\]]*\])[+*]")
    assert len(patterns) > 50 and [p for p in patterns if leading.search(p)] == []


@settings(max_examples=200, deadline=None)
@given(st.text("あ弁サロン 、", max_size=30))
def test_a_word_start_guard_changes_no_match(text):
    assert [m.span() for m in re.finditer(r"(?<!\w)\w+弁サロン", text)] == \
        [m.span() for m in re.finditer(r"\w+弁サロン", text)]

def test_a_long_query_keeps_every_label_once_in_order(schemes):
    one = schemes.match_labels("不登校の子ども、ひきこもりの若者と多世代交流。")
    assert schemes.match_labels("不登校の子ども、ひきこもりの若者と多世代交流。" * 2000) == one

def _reference_patterns(schemes: ConceptSchemes) -> list[tuple[re.Pattern[str], str, str]]:
    """A regex per label, the slow way: whole words for labels in Latin letters (accented ones too:
    Spanish, Portuguese, Vietnamese), any position (overlaps too) for others."""
    latin = "a-z0-9\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff\u0300-\u036f"
    patterns = []
    for c in [c for scheme in SCHEMES for c in schemes.concepts(scheme)]:
        for label in c.labels:
            key = concepts_module._label_key(label)
            if all(re.fullmatch(f"[{latin}]", ch) or not ch.isalnum() for ch in key):
                patterns.append((re.compile(rf"(?<![{latin}])({re.escape(key)}(?:s|es)?)(?![{latin}])"),
                                 c.scheme, c.id))
            else:
                for variant in {key, key.replace(" ", "")}:
                    patterns.append((re.compile(f"(?=({re.escape(variant)}))"), c.scheme, c.id))
    return patterns


def test_label_finder_agrees_with_a_regex_per_label(schemes):
    patterns = _reference_patterns(schemes)
    labels = sorted({label for scheme in SCHEMES for c in schemes.concepts(scheme) for label in c.labels})
    rnd = random.Random(7)
    queries = [rnd.choice([" ", "", "の", "s ", "es ", "-", "x", "1", "를 "]).join(rnd.sample(labels, 3))
               + rnd.choice(["", "s", "es", "ing"]) for _ in range(300)]
    queries += ["men's sheds", "arts", "artes", "LGBTQ+s", "pets", "petes", "cafés", "ｼﾆｱ男性", "cafetería", "niños",
                "sniños", "người già"]
    for query in queries:
        folded = concepts_module._label_key(query)
        expected = {(m.start(1), m.end(1), scheme, id) for p, scheme, id in patterns for m in p.finditer(folded)}
        assert {hit[:4] for hit in schemes._labels.find(folded)} == expected, query


# -- bad data fails loudly ----------------------------------------------------------------------

TINY_TTL = """@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix g: <https://w3id.org/tsunagari/concept/target-group/> .
@prefix t: <https://w3id.org/tsunagari/concept/theme/> .
g:a a skos:Concept ; skos:inScheme <https://w3id.org/tsunagari/concept/target-group> ; skos:notation "a" ;
    skos:prefLabel "甲"@ja, "A"@en ; skos:broader g:{broader} .
g:b a skos:Concept ; skos:inScheme <https://w3id.org/tsunagari/concept/target-group> ; skos:notation "b" ;
    skos:prefLabel "乙"@ja, "B"@en ; skos:broader g:a .
t:c a skos:Concept ; skos:inScheme <https://w3id.org/tsunagari/concept/theme> ; skos:notation "c" ;
    skos:prefLabel "丙"@ja, "C"@en .
"""
TINY_RULES = "scheme\tconcept\tkind\tfields\tpattern\tnote\n" + "".join(
    f"{s}\t{c}\tinclude\ttitle\t{w}\t\n" for s, c, w in
    [("target-group", "a", "甲"), ("target-group", "b", "乙"), ("theme", "c", "丙")])


def write(tmp_path: Path, broader: str = "b", extra_rule: str = "") -> tuple[Path, Path]:
    ttl, rules = tmp_path / "c.ttl", tmp_path / "r.tsv"
    ttl.write_text(TINY_TTL.replace("{broader}", broader), encoding="utf-8")
    rules.write_text(TINY_RULES + extra_rule, encoding="utf-8")
    return ttl, rules


def test_unknown_broader_is_refused(tmp_path):
    ttl, rules = write(tmp_path, broader="c")  # a broader from nowhere in its own scheme
    with pytest.raises(ConceptDataError, match="not defined"):
        ConceptSchemes.load(ttl, rules)


def test_cycle_is_refused(tmp_path):
    with pytest.raises(ConceptDataError, match="its own ancestor"):
        ConceptSchemes.load(*write(tmp_path, broader="b"))


@pytest.mark.parametrize("rule, message", [
    ("theme\tc\tinclude\ttitle,organization\t丙\t\n", "organisation names"),
    ("theme\tzzz\tinclude\ttitle\t丙\t\n", "unknown concept"),
    ("theme\tc\tinclude\ttitle\t(丙\t\n", "bad regular expression"),
    ("theme\tc\tmaybe\ttitle\t丙\t\n", "include or exclude"),
])
def test_bad_rules_are_refused(tmp_path, rule, message):
    ttl, rules = write(tmp_path, broader="b")
    ttl.write_text(TINY_TTL.replace(" ; skos:broader g:{broader} .", " ."), encoding="utf-8")
    rules.write_text(TINY_RULES + rule, encoding="utf-8")
    with pytest.raises(ConceptDataError, match=message):
        ConceptSchemes.load(ttl, rules)


def test_tiny_scheme_tags(tmp_path):
    ttl, rules = write(tmp_path)
    ttl.write_text(TINY_TTL.replace(" ; skos:broader g:{broader} .", " ."), encoding="utf-8")
    tiny = ConceptSchemes.load(ttl, rules)
    assert [(t.concept, t.field) for t in tiny.tag("甲と丙", None, "乙会")] == [("a", "title"), ("c", "title")]
    assert tiny.ancestors("target-group", "b") == ("a",)


# -- suggestions by meaning where the rules find nothing (real model) ------------------------------

# Every concept suggested for the bundled projects, read by hand. None since the project vectors carry the
# organisation's name: the one accepted suggestion (21 -> multicultural exchange) is a tag of the rules now
# (国籍を問わない, NEW_TAGS), and the nearest call, 32 -> older men (z 2.93), is disputed.
SUGGESTED: dict[int, set[tuple[str, str]]] = {}
# Close calls below the threshold that a reader would dispute; they must stay out.
NOT_SUGGESTED = [(32, "older-men"),       # ユニバーサル・ファクトリー is open to everyone
                 (46, "watching-over"), (46, "youth-centre"), (54, "watching-over"), (40, "elderly")]


@pytest.mark.model
def test_suggested_concepts_are_the_reviewed_ones(real_store):
    from kg import Tsunagari

    suggestions = Tsunagari.open(real_store).similarity.suggestions
    found = {int(pid[-3:]): {(m.scheme, m.concept) for m in ms} for pid, ms in suggestions.items()}
    assert found == SUGGESTED
    for number, concepts in found.items():
        assert not {c for _, c in concepts} & {c for n, c in DISPUTED + NOT_SUGGESTED if n == number}
        assert all(0.5 <= m.score <= 1.0 and m.via for m in suggestions[f"cao-kodoku-npo-model-fy2024-{number:03d}"])


def test_stemming_from_many_threads_gives_the_same_stems():
    """The server searches on several threads; one shared Snowball stemmer mixed their words (wrong stems,
    kept in the cache, and IndexError)."""
    import random
    from concurrent.futures import ThreadPoolExecutor

    from kg.normalize.inflection import stem

    rng = random.Random(7)
    words = sorted({"".join(rng.choice("abcdefghijlmnoprstuv") for _ in range(rng.randint(5, 14)))
                    for _ in range(6_000)})
    stem.cache_clear()
    with ThreadPoolExecutor(8) as pool:
        threaded = list(pool.map(lambda w: (stem(w, "pt"), stem(w, "es")), words, chunksize=1))
    stem.cache_clear()
    assert threaded == [(stem(w, "pt"), stem(w, "es")) for w in words]
