"""The command line, end to end on the built bundled store (CliRunner, no subprocess)."""
from __future__ import annotations

import csv
import io
import json

import networkx as nx
import pytest
from click.testing import CliRunner
from rdflib import Graph

from kg.cli import cli


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


def test_bulk_build_and_oxigraph_engine_from_the_cli(tmp_path):
    from pathlib import Path

    small = Path(__file__).parent / "data" / "small.csv"
    store = str(tmp_path / "bulk")
    runner = CliRunner()
    built = runner.invoke(cli, ["build", "--bulk", str(small), "--store", store, "--no-embed",
                                "--fiscal-year", "2025", "--programme", "test-programme"])
    assert built.exit_code == 0, built.output
    assert "built 4 projects" in built.output
    query = "SELECT (COUNT(?p) AS ?n) WHERE { ?p a schema:Project }"
    for engine in ("rdflib", "oxigraph"):
        result = runner.invoke(cli, ["sparql", query, "--engine", engine, "--format", "csv", "--store", store])
        assert result.exit_code == 0, result.output
        assert result.output.splitlines() == ["n", "4"]
