"""The gazetteer and the 活動地域 parser."""
from __future__ import annotations

import re
import unicodedata
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kg.errors import NotFound
from kg.filters import ProjectFilter, resolve_block, resolve_region
from kg.normalize.gazetteer import BLOCK_LABELS
from kg.normalize.text import PLACE_VARIANTS, fold_place_chars, fold_place_name, match_key, nfkc_without_spaces
from kg.normalize.regions import (
    BRACKETS, CONNECTIVES, LINK, SEPARATORS, Gazetteer, _parse, parse_regions,
)

DOCUMENT = "data/r6_kodoku_koritsu_npo_model_projects.txt"


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.load()


def activity_regions() -> list[tuple[int, str]]:
    """(number, 活動地域) of every table row: lines "<number>\\t団体名\\t取組名\\t活動地域\\t...". """
    text = resources.files("kg").joinpath(DOCUMENT).read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if re.match(r"\d+\t", line)]
    return [(int(row[0]), row[3]) for row in rows]


REGIONS = activity_regions()


def places(result) -> list[tuple[str, str, str | None]]:
    return [(p.key, p.kind, p.qualifier) for p in result.places]


# --- the gazetteer ---------------------------------------------------------------------

def test_counts(gaz):
    levels = [r.level for r in gaz]
    assert levels.count("prefecture") == 47
    assert levels.count("municipality") >= 1741
    assert levels.count("ward") == 175
    assert len(gaz.blocks()) == 8
    assert [b.id for b in gaz.blocks()] == [b for b, _, _ in BLOCK_LABELS]


def test_every_prefecture_in_exactly_one_block(gaz):
    members = [code for block in gaz.blocks() for code in block.prefecture_codes]
    assert sorted(members) == sorted(p.code for p in gaz.prefectures())
    assert all(block.prefecture_codes for block in gaz.blocks())
    assert gaz.block_of("270008").id == "kinki"     # 大阪府
    assert gaz.block_of("240001").id == "kinki"     # 三重県
    assert gaz.block_of("470007").id == "kyushu"    # 沖縄県
    assert gaz.block("block:kyushu").name == "九州・沖縄"
    assert gaz.block("kyushu").name_en == "Kyushu-Okinawa"


def test_check_digits(gaz):
    for region in gaz:
        d = [int(c) for c in region.code[:5]]
        r = (6 * d[0] + 5 * d[1] + 4 * d[2] + 3 * d[3] + 2 * d[4]) % 11
        assert int(region.code[5]) == (11 - r) % 10, region


def test_hierarchy_is_consistent(gaz):
    for region in gaz:
        if region.level == "prefecture":
            assert region.parent_code is None and region.prefecture_code == region.code
        elif region.level == "municipality":
            assert region.parent_code == region.prefecture_code
        else:
            city = gaz.get(region.parent_code)
            assert city.level == "municipality" and city.prefecture_code == region.prefecture_code
        assert region.block == gaz.get(region.prefecture_code).block


def test_folding_adds_no_collision_among_siblings(gaz):
    """Variant folding must not merge two different places under one parent."""
    by_parent: dict[str | None, list[str]] = {}
    for region in gaz:
        by_parent.setdefault(region.parent_code, []).append(region.name)
    for names in by_parent.values():
        assert len({fold_place_name(n) for n in names}) == len(set(names))


@pytest.mark.parametrize("code, name, romaji, name_en", [
    ("130001", "東京都", "Tokyo-to", "Tokyo"),
    ("010006", "北海道", "Hokkaido", "Hokkaido"),
    ("270008", "大阪府", "Osaka-fu", "Osaka Prefecture"),
    ("230006", "愛知県", "Aichi-ken", "Aichi Prefecture"),
    ("011002", "札幌市", "Sapporo-shi", "Sapporo City"),
    ("131164", "豊島区", "Toshima-ku", "Toshima City"),
    ("011029", "北区", "Kita-ku", "Kita Ward"),
    ("462179", "曽於市", "Soo-shi", "Soo City"),
    ("282090", "豊岡市", "Toyooka-shi", "Toyooka City"),
    ("442011", "大分市", "Oita-shi", "Oita City"),
    ("373249", "小豆島町", "Shodoshima-cho", "Shodoshima Town"),
    ("285862", "新温泉町", "Shin'onsen-cho", "Shin'onsen Town"),
])
def test_labels(gaz, code, name, romaji, name_en):
    region = gaz.get(code)
    assert (region.name, region.romaji, region.name_en) == (name, romaji, name_en)


def test_get_unknown_code(gaz):
    with pytest.raises(NotFound, match="999999"):
        gaz.get("999999")


@pytest.mark.parametrize("key, chain", [
    ("011029", ["011002", "010006", "block:hokkaido"]),   # 札幌市北区 -> 札幌市 -> 北海道
    ("131172", ["130001", "block:kanto"]),                # 東京都北区 (special ward)
    ("011002", ["010006", "block:hokkaido"]),
    ("130001", ["block:kanto"]),
    ("block:kanto", []),
    ("district:370002:小豆郡", ["370002", "block:shikoku"]),
])
def test_ancestors(gaz, key, chain):
    assert [a.key for a in gaz.ancestors(key)] == chain


@pytest.mark.parametrize("name, within, codes", [
    ("北区", "東京都", ["131172"]),
    ("北区", "130001", ["131172"]),
    ("北区", "大阪府", ["271276", "271462"]),
    ("北区", "大阪市", ["271276"]),
    ("曾於市", None, ["462179"]),
    ("鹿島市", None, ["412074"]),          # exact spelling wins over folding (鹿嶋市 is Ibaraki)
    ("鹿島市", "茨城県", ["082228"]),
    ("横浜市", None, ["141003"]),
    ("ほげ市", None, []),
])
def test_find(gaz, name, within, codes):
    assert [r.code for r in gaz.find(name, within)] == codes


# --- parsing -----------------------------------------------------------------------------

TRICKY = [
    ("東京都新宿区、北海道旭川市、札幌市、大阪府大阪市、福岡県", [
        ("131041", "municipality", None), ("012041", "municipality", None),
        ("011002", "municipality", None), ("271004", "municipality", None),
        ("400009", "prefecture", None)]),
    ("東京都豊島区、北区", [("131164", "municipality", None), ("131172", "municipality", None)]),
    ("静岡県浜松市、湖西市", [("221309", "municipality", None), ("222216", "municipality", None)]),
    ("愛知県新城市、静岡県浜松市、湖西市", [
        ("232211", "municipality", None), ("221309", "municipality", None),
        ("222216", "municipality", None)]),
    ("京都府京都市", [("261009", "municipality", None)]),
    ("愛知県名古屋市", [("231002", "municipality", None)]),
    ("大阪府大阪市北区、中央区", [("271276", "ward", None), ("271284", "ward", None)]),
    ("札幌市北区", [("011029", "ward", None)]),
    ("横浜市を中心とし神奈川県全域及び関東各都県", [
        ("141003", "municipality", "を中心とし"), ("140007", "prefecture", "全域"),
        ("block:kanto", "block", "各都県")]),
    ("鳥取県全市町村", [("310000", "prefecture", "全市町村")]),
    ("徳島県・高知県・愛媛県・香川県の遍路道沿いの各市区町村", [
        (code, "prefecture", "遍路道沿いの各市区町村")
        for code in ("360007", "390003", "380008", "370002")]),
    ("群馬県高崎市を中心として、前橋市など", [
        ("102024", "municipality", "を中心として"), ("102016", "municipality", "など")]),
    ("埼玉県飯能市（飯能周辺市）", [("112097", "municipality", "（飯能周辺市）")]),
    ("熊本県熊本市及びその近隣市町村", [("431001", "municipality", "及びその近隣市町村")]),
    ("香川県小豆郡", [("district:370002:小豆郡", "district", None)]),
    ("香川県小豆郡土庄町", [("373222", "municipality", None)]),
    ("鹿児島県出水市、日置市、曾於市、鹿児島市", [
        ("462080", "municipality", None), ("462161", "municipality", None),
        ("462179", "municipality", None), ("462012", "municipality", None)]),
    ("茨城県鹿島市", [("082228", "municipality", None)]),   # folded: the official is 鹿嶋市
    ("東京都　新宿区", [("131041", "municipality", None)]),
    ("九州・沖縄", [("block:kyushu", "block", None)]),
    ("奈良県大和郡山市", [("292036", "municipality", None)]),
    ("東京都豊島区、豊島区", [("131164", "municipality", None)]),
]


@pytest.mark.parametrize("text, expected", TRICKY)
def test_tricky(gaz, text, expected):
    result = gaz.parse(text)
    assert places(result) == expected
    assert result.unresolved == ()
    assert list(result.qualifiers) == list(dict.fromkeys(q for _, _, q in expected if q))


def test_surfaces_and_official_names(gaz):
    result = gaz.parse("鹿児島県出水市、日置市、曾於市")
    assert [p.surface for p in result.places] == ["鹿児島県出水市", "日置市", "曾於市"]
    assert gaz.get(result.places[2].key).name == "曽於市"
    assert gaz.parse("東京都豊島区、北区").places[1].surface == "北区"


@pytest.mark.parametrize("text, expected_places, unresolved", [
    ("北区", [], ("北区",)),                                  # many 北区, no prefecture given
    ("中央区、新宿区", [("131041", "municipality", None)], ("中央区",)),
    ("大阪府北区", [("270008", "prefecture", None)], ("北区",)),  # 大阪市北区 or 堺市北区?
    ("ほげ市", [], ("ほげ市",)),
    ("東京都新宿区、ほげ市", [("131041", "municipality", None)], ("ほげ市",)),
    ("東京都ほげ", [("130001", "prefecture", None)], ("ほげ",)),
    ("小豆郡", [], ("小豆郡",)),                              # a district needs its prefecture
    ("全国", [], ("全国",)),
    ("", [], ()),
])
def test_unresolved(gaz, text, expected_places, unresolved):
    result = gaz.parse(text)
    assert places(result) == expected_places
    assert result.unresolved == unresolved


@pytest.mark.parametrize("number, text", REGIONS)
def test_every_row_of_the_document_resolves(gaz, number, text):
    result = gaz.parse(text)
    assert result.places, (number, text)
    assert result.unresolved == (), (number, text, result.unresolved)


def test_document_has_77_rows():
    assert [n for n, _ in REGIONS] == list(range(1, 78))


# --- properties ------------------------------------------------------------------------------

_DROPPABLE = re.compile("(?:" + "|".join(map(re.escape, (*CONNECTIVES, LINK))) + ")*")


def check_accounted(gaz: Gazetteer, text: str) -> None:
    """Every character is in a place, a qualifier or unresolved, or is a separator/connective."""
    result, accounts = _parse(gaz, text)
    assert result.text == text
    keys = [p.key for p in result.places]
    assert len(keys) == len(set(keys))
    pieces = [p.surface for p in result.places] + list(result.qualifiers) + list(result.unresolved)
    assert all(piece and piece in text for piece in pieces)
    covered = [False] * len(text)
    for start, end, what in accounts:
        assert what in ("qualifier", "unresolved") or what in keys
        if what == "qualifier":
            assert text[start:end] in result.qualifiers
        if what == "unresolved":
            assert text[start:end] in result.unresolved
        covered[start:end] = [True] * (end - start)
    for run in re.finditer(r"(?:\x00)+", "".join("\x01" if c else "\x00" for c in covered)):
        rest = "".join(
            ch for ch in unicodedata.normalize("NFKC", text[run.start(): run.end()])
            if not ch.isspace() and ch not in SEPARATORS and ch not in BRACKETS
        )
        assert _DROPPABLE.fullmatch(rest), (text, rest)
    assert gaz.parse(text) == result            # deterministic


@pytest.mark.parametrize("number, text", REGIONS)
def test_document_rows_are_accounted_for(gaz, number, text):
    check_accounted(gaz, text)


_ALPHABET = st.sampled_from(sorted(set(
    "".join(t for _, t in REGIONS) + SEPARATORS + BRACKETS + "の及びと　 \n（）、，･ｶﾞ㈱曾嶋ヶ郡区市町村都府県"
)))
_FRAGMENTS = st.sampled_from([t for _, t in REGIONS] + [
    "北区", "中央区", "小豆郡", "全域", "など", "及び", "の", "・", "、", "（", "）", "関東", "九州・沖縄",
])


@st.composite
def mutated_regions(draw) -> str:
    text = draw(st.sampled_from([t for _, t in REGIONS]))
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, len(text)))
        op = draw(st.sampled_from(["delete", "insert", "fragment", "swap"]))
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + draw(st.text(_ALPHABET, max_size=4)) + text[i:]
        elif op == "fragment":
            text = text[:i] + draw(_FRAGMENTS) + text[i:]
        else:
            text = text[j:] + text[i:j] + text[:i]
    return text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40) | st.text(_ALPHABET, max_size=40) | mutated_regions())
def test_any_text_is_accounted_for(text):
    check_accounted(Gazetteer.load(), text)


def test_parse_regions_is_the_method(gaz):
    text = "東京都豊島区、北区"
    assert parse_regions(gaz, text) == gaz.parse(text)


# --- one place-name fold: the parser and the filters ----------------------------------------

def test_the_text_forms_do_what_their_names_say():
    assert nfkc_without_spaces("東京都 新宿区\u3000") == "東京都新宿区"
    assert fold_place_name("曾於市") == "曽於市" and fold_place_name("ＴＯＴＴＯＲＩ") == "tottori"
    assert fold_place_name(" 龍ヶ崎市") == fold_place_name("竜ケ崎市") == "竜ケ崎市"
    assert fold_place_chars("鹿嶋市İ") == "鹿島市İ"          # one character to one (the parser keeps indices)
    assert match_key("ＮＰＯ法人　Kids Door") == "npo法人kidsdoor"
    assert match_key("曾於市") == "曾於市"                      # words are not place names: no variant folding


def variant_spellings(name: str) -> set[str]:
    """Every spelling of ``name`` with each variant kanji written in each form the fold knows."""
    families: dict[str, set[str]] = {}
    for variant, form in PLACE_VARIANTS.items():
        families.setdefault(form, {form}).add(variant)
    spellings = {""}
    for ch in name:
        forms = families.get(PLACE_VARIANTS.get(ch, ch), {ch})
        spellings = {s + f for s in spellings for f in forms}
    return spellings


def written_with_variants(gaz) -> list:
    return [r for r in gaz if r.level != "prefecture" and fold_place_name(r.name) != r.name
            or r.level != "prefecture" and any(ch in PLACE_VARIANTS.values() for ch in r.name)]


def test_variant_spellings_cover_what_the_gazetteer_holds(gaz):
    regions = written_with_variants(gaz)
    assert {"462179", "082228", "412074", "082082"} <= {r.code for r in regions}   # 曽於, 鹿嶋, 鹿島, 龍ケ崎
    assert variant_spellings("曽於市") == {"曽於市", "曾於市"}


def test_parser_and_filters_agree_on_every_variant(gaz):
    """Every municipality and ward whose name has a variant kanji, in every spelling: the 活動地域 parser and
    the ``--municipality`` filter find the same place, with what contains it written in front and bare."""
    checked = 0
    for region in written_with_variants(gaz):
        parent = gaz.get(region.parent_code)
        prefix = parent.name if parent.level == "prefecture" else gaz.get(parent.prefecture_code).name + parent.name
        for spelling in sorted(variant_spellings(region.name)):
            assert [p.key for p in gaz.parse(prefix + spelling).places] == [region.code], prefix + spelling
            assert resolve_region(prefix + spelling, "municipality") == region.code, prefix + spelling
            bare = gaz.parse(spelling)
            if bare.places:
                assert resolve_region(spelling, "municipality") == bare.places[0].key, spelling
            else:      # several places of that name: the parser leaves it unresolved, the filter says so
                assert bare.unresolved == (spelling,)
                with pytest.raises(NotFound, match="several places"):
                    resolve_region(spelling, "municipality")
            checked += 1
    assert checked > 300


@pytest.mark.parametrize("value, level, code", [
    ("曾於市", "municipality", "462179"),                  # the official spelling is 曽於市
    ("鹿児島県曾於市", "municipality", "462179"),
    ("鹿嶋市", "municipality", "082228"),                  # exact spellings win: 鹿嶋市 and 鹿島市 fold alike
    ("鹿島市", "municipality", "412074"),
    ("龍ケ崎市", "municipality", "082082"),
    ("東京都北区", "municipality", "131172"),              # the parser reads what is written in front
    ("札幌市 北区", "municipality", "011029"),
    ("Tottori", "prefecture", "310000"),
    ("TOTTORI-SHI", "municipality", "312011"),
    ("鳥取", "prefecture", "310000"),
    ("31", "prefecture", "310000"),
    ("462179", "municipality", "462179"),
])
def test_resolve_region(value, level, code):
    assert resolve_region(value, level) == code


@pytest.mark.parametrize("value, level, message", [
    ("北区", "municipality", "several places: 札幌市北区 (011029), さいたま市北区 (111023), 東京都北区 (131172)"),
    ("東京都新宿区", "prefecture", "no prefecture named '東京都新宿区'"),
    ("横浜市を中心", "municipality", "no municipality named"),     # qualified: not one place
    ("関東", "municipality", "no municipality named"),
])
def test_resolve_region_errors_say_why(value, level, message):
    with pytest.raises(NotFound, match=re.escape(message)):
        resolve_region(value, level)


@pytest.mark.parametrize("value", ["kanto", "関東", "関東地方", "KANTO", "Kanto"])
def test_resolve_block(value):
    assert resolve_block(value) == "kanto"


def test_municipality_filter_with_a_variant_kanji(built_store):
    """Project 75 lists 曾於市 (official 曽於市): every spelling finds it, through the API too."""
    from kg import Tsunagari

    kg = Tsunagari.open(built_store)
    for spelling in ("曾於市", "曽於市", "鹿児島県曾於市", "462179"):
        assert [p["number"] for p in kg.projects(municipality=spelling)] == [75], spelling
    check = ProjectFilter.make(municipality="曾於市")
    assert [p["number"] for p in kg.projects() if check(p)] == [75]
