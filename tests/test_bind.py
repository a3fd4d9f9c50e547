"""Bound parameters are values, never query text: hostile values on both engines, and --bind on the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import XSD

from kg.cli import cli
from kg.engines import OxigraphEngine, RdflibEngine, sparql_term
from kg.sparql import QueryError

QUERIES = Path(__file__).parents[1] / "queries"
P = URIRef("urn:ex:p")
HOSTILE = [
    'a\n"b',                                   # newline and quote: broke out of the literal (issue 10, item 20)
    'a\n\\"',                                  # backslash before the closing quote
    'x" } UNION { ?s ?p ?o } #',
    'x"""\n} ; DROP ALL ; #',
    "it's '''quoted'''",
    "\\u0022 is a quote",                      # an escape written out: stays six characters
    "# not a comment",
    "}",
    "tab\tcr\rlf\nend",
    "\x1b[31mred\x1b[0m and \x07",
    "line\u2028separator",
    "日本語の「引用」\"です\"",
    "😀 outside the BMP",
    "?v $v <urn:ex:x>",
    "",
]
TYPED = [Literal("12", datatype=XSD.integer), Literal('say "hi"', lang="en"), Literal("x", datatype=URIRef("urn:ex:t"))]


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    """Both engines over a graph whose literals are the hostile values themselves."""
    graph = Graph()
    for number, value in enumerate(HOSTILE + TYPED):
        graph.add((URIRef(f"urn:ex:s{number}"), P, value if isinstance(value, Literal) else Literal(value)))
    path = tmp_path_factory.mktemp("hostile") / "graph.nt"
    graph.serialize(path, format="nt", encoding="utf-8")
    return RdflibEngine(graph), OxigraphEngine.load(path)


@pytest.mark.parametrize("number, value", list(enumerate(HOSTILE + TYPED)), ids=repr)
def test_a_hostile_value_selects_exactly_its_own_row(engines, number, value):
    where = "WHERE { ?s <urn:ex:p> ?v }"
    for engine in engines:
        rows = engine.query(f"SELECT ?s ?v {where}", {"v": value}).rows
        assert rows == ((URIRef(f"urn:ex:s{number}"), value if isinstance(value, Literal) else Literal(value)),), \
            engine.name
        counted = engine.query(f"SELECT (COUNT(*) AS ?n) {where}", {"v": value}).records()
        assert counted == [{"n": 1}], engine.name


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_a_hostile_value_inside_a_subquery_and_a_filter(engines, value):
    text = """SELECT ?s ?copy WHERE {
                { SELECT ?s WHERE { ?s <urn:ex:p> ?o FILTER (STR(?o) = STR(?v)) } }
                BIND (CONCAT(?v, "") AS ?copy) }"""
    results = [engine.query(text, {"v": value}).rows for engine in engines]
    assert results[0] == results[1] and len(results[0]) == 1 and str(results[0][0][1]) == value


@pytest.mark.parametrize("iri", ["urn:ex:s0> ?p ?o } #", "urn:ex:a b", 'urn:ex:"', "urn:ex:{}", "urn:ex:\\u0041",
                                 "urn:ex:\n", ""])
def test_a_malformed_iri_is_refused_not_spliced(engines, iri):
    rdflib_engine, oxigraph_engine = engines
    text = "SELECT ?o WHERE { ?s <urn:ex:p> ?o }"
    assert rdflib_engine.query(text, {"s": URIRef(iri)}).rows == ()      # rdflib compares it as a term
    with pytest.raises(QueryError, match="cannot bind"):
        oxigraph_engine.query(text, {"s": URIRef(iri)})


def test_an_iri_binding_selects_on_both(engines):
    for engine in engines:
        assert engine.query("SELECT ?o WHERE { ?s <urn:ex:p> ?o }", {"s": URIRef("urn:ex:s7")}).rows == ((Literal("}"),),)


def test_sparql_term_reads_back_and_stays_on_one_line():
    for value in HOSTILE + TYPED:
        term = value if isinstance(value, Literal) else Literal(value)
        text = sparql_term(term)
        assert "\n" not in text and "\r" not in text
        assert text.startswith('"') and text.count('"') - text.count('\\"') == 2, text


def test_cli_bind_carries_hostile_values_on_both_engines(built_store):
    runner = CliRunner()
    query = "SELECT (COUNT(*) AS ?n) (STR(?v) AS ?value) WHERE { ?p a schema:Project } GROUP BY ?v"
    for engine in ("rdflib", "oxigraph"):
        for value in ['a\n"b', 'x" } UNION { ?s ?p ?o } #', "a=b"]:
            result = runner.invoke(cli, ["sparql", query, "--bind", f"v={value}", "--engine", engine,
                                         "--format", "json", "--store", str(built_store)])
            assert result.exit_code == 0, result.output
            assert json.loads(result.output) == [{"n": 77, "value": value}], engine


@pytest.mark.parametrize("bind", ["novalue", "=x", " =x", "bad name=x"])
def test_cli_bind_without_a_name_and_value_is_a_usage_error(built_store, bind):
    result = CliRunner().invoke(cli, ["sparql", "SELECT * WHERE { ?s ?p ?o } LIMIT 1", "--bind", bind,
                                      "--store", str(built_store)])
    assert result.exit_code == 2, result.output
    assert "NAME=VALUE" in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("engine", ["rdflib", "oxigraph"])
def test_binding_a_variable_the_query_never_mentions_is_an_error(built_store, engine):
    """A misspelt parameter was ignored and the query answered unbound (all rows)."""
    result = CliRunner().invoke(cli, ["sparql", str(QUERIES / "projects_in_region.rq"), "--bind", "regioncode=312011",
                                      "--engine", engine, "--store", str(built_store)])
    assert result.exit_code == 1, result.output
    assert "no variable ?regioncode" in result.output and "did you mean ?region_code?" in result.output
    assert "its parameters: ?region_code" in result.output


def test_binding_a_variable_twice_is_a_usage_error(built_store):
    result = CliRunner().invoke(cli, ["sparql", str(QUERIES / "projects_in_region.rq"), "--bind", "region_code=312011",
                                      "--bind", "region_code=310000", "--store", str(built_store)])
    assert result.exit_code == 2 and "region_code is bound twice" in result.output


@pytest.mark.parametrize("engine", ["rdflib", "oxigraph"])
def test_a_value_matching_nothing_says_what_form_the_query_expects(built_store, engine):
    result = CliRunner().invoke(cli, ["sparql", str(QUERIES / "projects_in_region.rq"), "--bind", "region_code=鳥取市",
                                      "--engine", engine, "--format", "csv", "--store", str(built_store)])
    assert result.exit_code == 0
    assert "no rows for region_code='鳥取市' — the query expects ?region_code (a 6-digit code" in result.output


@pytest.mark.parametrize("engine", ["rdflib", "oxigraph"])
@pytest.mark.parametrize("query, name, default_rows",
                         [("projects_reaching_several_prefectures.rq", "min_prefectures", 5),
                          ("organisations_with_several_projects.rq", "min_projects", 77)])
def test_a_number_parameter_that_is_not_a_number_matches_nothing(built_store, engine, query, name, default_rows):
    """It used to fall back to the default, as if unbound."""
    def rows(*bind: str) -> list:
        result = CliRunner().invoke(cli, ["sparql", str(QUERIES / query), *bind, "--engine", engine,
                                          "--format", "json", "--store", str(built_store)])
        assert result.exit_code == 0, result.output
        return json.loads(result.output.split("\nno rows")[0])
    assert len(rows()) == default_rows
    assert rows("--bind", f"{name}=three") == []
    assert len(rows("--bind", f"{name}=1")) >= default_rows
