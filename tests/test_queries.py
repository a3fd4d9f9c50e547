"""Every queries/*.rq parses, documents itself, runs on the real graph, and returns what the source says."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from rdflib import Graph, Literal
from rdflib.plugins.sparql import prepareQuery

ROOT = Path(__file__).parents[1]
QUERIES = sorted((ROOT / "queries").glob("*.rq"))
SOURCE = ROOT / "kg" / "data" / "r6_kodoku_koritsu_npo_model_projects.txt"
HEADER_FIELDS = ("title", "description", "parameters")
PID = "cao-kodoku-npo-model-fy2024-{:03d}".format

# The ○ of the R5採択 column in the bundled list.
PRIOR_ADOPTIONS = {9, 16, 19, 20, 22, 23, 25, 28, 32, 35, 36, 44, 45, 46, 49, 57, 67, 72, 73}

# One example binding per parameterised query (values as strings, as `tsunagari query --param` passes them),
# and a column whose every value must then equal the given value (None: only check the rows shrink).
# The bundled list has one year, one programme and one project per organisation, so those parameters are
# checked with a value that must match nothing (SINGLE_VALUED).
PARAMETER_EXAMPLES = {
    "projects_per_prefecture.rq": ({"block_id": "chugoku"}, "block_id", "chugoku"),
    "projects_per_block.rq": ({"block_id": "kinki"}, "block_id", "kinki"),
    "projects_by_target_group.rq": ({"concept_id": "youth"}, "concept_id", "youth"),
    "organisations_adopted_both_years.rq": ({"fiscal_year": "2024"}, "year", "2024"),
    "target_group_by_theme.rq": ({"target_group_id": "children", "theme_id": "place-to-belong"},
                                 "theme_id", "place-to-belong"),
    "projects_in_region.rq": ({"region_code": "312011"}, "region_code", "312011"),
    "tag_evidence.rq": ({"concept_id": "hikikomori"}, "concept_id", "hikikomori"),
    "themes_per_block.rq": ({"block_id": "kinki", "theme_id": "place-to-belong"}, "block_id", "kinki"),
    "organisations_by_legal_form.rq": ({"legal_form_id": "npo"}, "legal_form_id", "npo"),
    "projects_reaching_several_prefectures.rq": ({"min_prefectures": "4"}, "prefectures", 4),
    "concept_hierarchy.rq": ({"scheme_id": "theme"}, "scheme", "https://w3id.org/tsunagari/concept/theme"),
    "highlighted_projects.rq": ({"category_text": "官民連携"}, "category", "官民連携"),
    "projects_per_fiscal_year_and_programme.rq": ({"programme_id": "cao-kodoku-npo-model"},
                                                  "programme_id", "cao-kodoku-npo-model"),
    "project_provenance.rq": ({"project_id": PID(53)}, "project_id", PID(53)),
    "projects_per_municipality.rq": ({"prefecture_code": "310000"}, "prefecture", "鳥取県"),
    "organisations_with_several_projects.rq": ({"min_projects": "1"}, "projects", 1),
}

SINGLE_VALUED = {"organisations_adopted_both_years.rq": "2023",
                 "projects_per_fiscal_year_and_programme.rq": "another-programme",
                 "organisations_with_several_projects.rq": "2"}    # every organisation has one project


def header(path: Path) -> dict[str, str]:
    """The `# field: value` lines before the first PREFIX, continuation lines (`#   ...`) joined."""
    fields: dict[str, str] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        match = re.match(r"^#\s?([a-z-]+):\s*(.*)$", line)
        if match:
            current = match.group(1)
            fields[current] = match.group(2).strip()
        elif current and line.startswith("#   "):
            fields[current] += " " + line[1:].strip()
    return fields


def run(graph: Graph, name: str, **bindings: str) -> list[dict]:
    query = prepareQuery((ROOT / "queries" / name).read_text(encoding="utf-8"))
    result = graph.query(query, initBindings={k: Literal(v) for k, v in bindings.items()})
    columns = [str(v) for v in result.vars]
    return [{c: (None if v is None else v.toPython() if isinstance(v, Literal) else str(v))
             for c, v in zip(columns, row)} for row in result]


@pytest.fixture(scope="module")
def graph() -> Graph:
    from kg.assemble import assemble
    from kg.rdf import to_graph
    from kg.sources import read_source

    return to_graph(assemble([read_source(SOURCE)]))


def test_there_are_enough_queries():
    assert len(QUERIES) >= 14


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.name)
def test_query_parses_without_predeclared_prefixes(path):
    prepareQuery(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.name)
def test_query_has_a_header_and_an_order(path):
    fields = header(path)
    for name in HEADER_FIELDS:
        assert fields.get(name), f"{path.name}: no '# {name}:' line"
    text = path.read_text(encoding="utf-8")
    assert text.lstrip().startswith("# title:"), f"{path.name}: the header must come first"
    assert re.search(r"^ORDER BY ", text, re.MULTILINE), f"{path.name}: no ORDER BY"


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.name)
def test_documented_parameters_are_used_in_the_query(path):
    parameters = re.findall(r"\?([a-z_]+)", header(path)["parameters"])
    body = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#"))
    for name in parameters:
        assert re.search(rf"\?{name}\b", body), f"{path.name}: parameter ?{name} is not in the query"
    if parameters:
        assert path.name in PARAMETER_EXAMPLES, f"{path.name}: add an example to PARAMETER_EXAMPLES"


@pytest.mark.slow
@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.name)
def test_query_returns_rows_on_the_real_graph(graph, path):
    rows = run(graph, path.name)
    if header(path).get("expected-empty") == "allowed":
        return
    assert rows, f"{path.name} returned no rows"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PARAMETER_EXAMPLES))
def test_parameter_narrows_the_result(graph, name):
    bindings, column, value = PARAMETER_EXAMPLES[name]
    every = run(graph, name)
    some = run(graph, name, **bindings)
    assert some, f"{name} with {bindings} returned no rows"
    if name in SINGLE_VALUED:
        other = {k: SINGLE_VALUED[name] for k in bindings}
        assert run(graph, name, **other) == [], f"{name}: {other} should match nothing"
    else:
        assert len(some) < len(every), f"{name}: {bindings} did not narrow the result"
    if column:
        assert {row[column] for row in some} == {value}


# -- facts checked by reading kg/data/r6_kodoku_koritsu_npo_model_projects.txt ------------------------

def test_projects_per_prefecture(graph):
    rows = {r["prefecture"]: r for r in run(graph, "projects_per_prefecture.rq")}
    assert len(rows) == 47
    # 53 鳥取県全市町村 (the prefecture itself); 54, 55 鳥取市; 56 倉吉市、琴浦町、北栄町、湯梨浜町、三朝町
    assert (rows["鳥取県"]["projects"], rows["鳥取県"]["whole_prefecture"], rows["鳥取県"]["within"]) == (4, 1, 3)
    assert rows["北海道"]["projects"] == 4          # 1, 2, 3 and 17 (北海道旭川市、札幌市)
    assert rows["大阪府"]["projects"] == 7          # 17, 45-50
    assert rows["東京都"]["projects"] == 7          # 17-23
    assert rows["奈良県"]["projects"] == 0          # listed, with no project


def test_projects_per_block(graph):
    rows = {r["block_id"]: r["projects"] for r in run(graph, "projects_per_block.rq")}
    assert len(rows) == 8
    # 近畿 = 三重, 滋賀, 京都, 大阪, 兵庫, 奈良, 和歌山: 17 (大阪市), 36 (三重県玉城町), 37-41, 42-44, 45-50, 51-52
    assert rows["kinki"] == 18
    assert rows["hokkaido"] == 4


def test_prior_adoptions(graph):
    rows = run(graph, "organisations_adopted_both_years.rq")
    assert {r["project_id"] for r in rows} == {PID(n) for n in PRIOR_ADOPTIONS}
    assert len(rows) == 19
    (summary,) = run(graph, "projects_per_fiscal_year_and_programme.rq")
    assert (str(summary["fiscal_year"]), summary["projects"], summary["prior_adoptions"]) == ("2024", 77, 19)
    assert summary["organizations"] == 77


def test_organisations_by_legal_form(graph):
    counts = {r["legal_form_id"]: r["organizations"] for r in run(graph, "organisations_by_legal_form.rq")}
    # 特定非営利活動法人 31 + NPO法人 7; 認定NPO法人 つどい; 鳥取医療生活協同組合; 10 groups without a legal form
    assert counts == {"npo": 38, "general-association": 21, "(none)": 10, "social-welfare-corporation": 4,
                      "general-foundation": 2, "certified-npo": 1, "consumer-cooperative": 1}


def test_projects_in_tottori_city_and_its_prefecture(graph):
    rows = run(graph, "projects_in_region.rq", region_code="312011")
    relation = {}
    for row in rows:
        relation.setdefault(row["project_id"], set()).add(row["relation"])
    assert relation == {PID(54): {"within"}, PID(55): {"within"}, PID(53): {"covers"},
                        PID(56): {"same-prefecture"}}


def test_projects_reaching_several_prefectures(graph):
    rows = {r["project_id"]: r["prefectures"] for r in run(graph, "projects_reaching_several_prefectures.rq")}
    # 17 東京・北海道・大阪・福岡, 21 東京・神奈川, 35 愛知・静岡, 45 大阪・京都, 62 徳島・高知・愛媛・香川
    assert rows == {PID(17): 4, PID(21): 2, PID(35): 2, PID(45): 2, PID(62): 4}


def test_highlighted_projects(graph):
    rows = {r["project_id"]: r["category"] for r in run(graph, "highlighted_projects.rq")}
    assert rows == {PID(29): "被災地の孤独・孤立対策", PID(12): "孤独・孤立対策の新たな取組",
                    PID(1): "中高年の居場所づくり", PID(45): "支援人材の育成",
                    PID(39): "社会参加に向けた準備支援", PID(22): "官民連携"}


def test_project_provenance_points_at_the_line(graph):
    (row,) = run(graph, "project_provenance.rq", project_id=PID(53))
    lines = SOURCE.read_text(encoding="utf-8").splitlines()
    assert lines[row["line"] - 1].startswith("53\t社会福祉法人 鳥取県社会福祉協議会")
    assert row["file"] == SOURCE.name
    assert row["sha256"] == hashlib.sha256(SOURCE.read_bytes()).hexdigest()


def test_region_qualifiers(graph):
    rows = {r["qualifier"]: r["project_ids"].split() for r in run(graph, "region_qualifiers.rq")}
    assert rows["全市町村"] == [PID(53)]
    assert PID(70) in rows["及びその近隣市町村"]


def test_projects_per_municipality(graph):
    rows = {r["municipality"]: r["projects"] for r in run(graph, "projects_per_municipality.rq")}
    assert rows["大阪市"] == 6        # 17, 45, 46, 47, 48, 49
    assert rows["横浜市"] == 5        # 21, 24, 25, 26, 27


def test_tag_evidence_quotes_the_source(graph):
    rows = run(graph, "tag_evidence.rq", concept_id="hikikomori")
    assert {r["project_id"] for r in rows} >= {PID(53), PID(62)}
    assert all("ひきこもり" in r["evidence"] for r in rows if r["matched_in"] == "title")


def test_target_group_counts_include_narrower_concepts(graph):
    rows = {r["concept_id"]: r for r in run(graph, "projects_by_target_group.rq")}
    for row in rows.values():
        assert row["including_narrower"] >= row["direct"]
        assert row["project_ids"] == ""                  # the ids only for one concept

    def ids(concept):
        (row,) = run(graph, "projects_by_target_group.rq", concept_id=concept)
        assert row["including_narrower"] == rows[concept]["including_narrower"]
        return row["project_ids"].split()

    assert PID(46) in ids("older-men")                   # 中高年男性の孤独・孤立予防対策
    assert set(ids("older-men")) <= set(ids("middle-aged"))   # older-men skos:broader middle-aged
    youth = ids("youth")
    assert youth == sorted(youth) and len(youth) == rows["youth"]["including_narrower"]


def test_projects_in_region_unbound_is_every_prefectures_answer(graph):
    every = run(graph, "projects_in_region.rq")
    codes = sorted({r["prefecture_code"] for r in run(graph, "projects_per_prefecture.rq") if r["projects"]})
    assert sorted({r["region_code"] for r in every}) == codes
    assert every == [row for code in codes for row in run(graph, "projects_in_region.rq", region_code=code)]
    assert {r["relation"] for r in every} == {"within"}
    # 17 names 東京都新宿区、北海道旭川市、札幌市、大阪府大阪市、福岡県: one row per place, under its prefecture
    assert sorted((r["region"], r["place"]) for r in every if r["project_id"] == PID(17)) == sorted(
        [("東京都", "新宿区"), ("北海道", "旭川市"), ("北海道", "札幌市"), ("大阪府", "大阪市"), ("福岡県", "福岡県")])


def test_tag_evidence_unbound_counts_the_words(graph):
    words = run(graph, "tag_evidence.rq")
    assert all(r["project_id"] is None and r["title"] is None for r in words)
    assert len({(r["concept_id"], r["matched_in"], r["evidence"]) for r in words}) == len(words)
    for concept in ("hikikomori", "elderly"):
        projects = run(graph, "tag_evidence.rq", concept_id=concept)
        assert {r["projects"] for r in projects} == {1}
        expected = {}
        for row in projects:
            for word in row["evidence"].split(" / "):
                key = (row["matched_in"], word)
                expected[key] = expected.get(key, 0) + 1
        assert {(r["matched_in"], r["evidence"]): r["projects"] for r in words if r["concept_id"] == concept} == expected


def test_concept_hierarchy(graph):
    rows = run(graph, "concept_hierarchy.rq", scheme_id="target-group")
    teens = sorted(r["broader_id"] for r in rows if r["concept_id"] == "teens")
    assert teens == ["children", "youth"]
    for row in rows:
        assert (row["broader_id"] is None) == (row["ancestors"] == 0), row
        assert row["including_narrower"] >= row["direct"]


def documented_columns(description: str) -> list[str]:
    """The column names a header's "Columns: a, b (note, with commas), c." lists, in order."""
    depth, kept = 0, []
    for char in description.split("Columns:", 1)[1]:
        depth += (char == "(") - (char == ")")
        if depth == 0 and char != ")":
            kept.append(char)
    listed = re.split(r"\.(?:\s|$)|;", "".join(kept), maxsplit=1)[0]
    return [m.group(1) for item in listed.split(",") if (m := re.match(r"\s*(?:and\s+)?(\w+)", item))]


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.name)
def test_documented_columns_are_the_answers_columns_in_order(path):
    description = header(path)["description"]
    assert "Columns:" in description, f"{path.name}: the description must list its columns"
    projected = [str(v) for v in prepareQuery(path.read_text(encoding="utf-8")).algebra["PV"]]
    assert documented_columns(description) == projected
