"""Answers read lazily and written as a stream give the same rows and bytes as answers read whole."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import Literal

from kg.cli import SafeOutput, cli
from kg.sparql import FORMATS, SparqlResult, TextOutput, plain_value

ROOT = Path(__file__).parents[1]
QUERIES = sorted((ROOT / "queries").glob("*.rq"))
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")   # written here, not imported
# Every kind of term a plain value is made from: strings with and without a language, IRIs, integers
# (one not canonical), decimals, doubles, booleans, dates, years, an unknown datatype, unbound.
TERMS = """SELECT ?a ?b ?c WHERE {
  VALUES (?a ?b ?c) {
    ("x" "x"@ja <urn:ex:x>) (7 "007"^^xsd:integer -1) (1.50 1.5e0 true) ("false"^^xsd:boolean UNDEF "2024"^^xsd:gYear)
    ("2024-04-01"^^xsd:date "z"^^<urn:ex:type> "=1+1") ("-2+3" "@SUM(1)" "\\u001b]0;x\\u0007")
  }
} ORDER BY ?c"""
ORDERED = """SELECT ?project ?id ?title ?number ?prior ?year WHERE {
  ?project schema:identifier ?id ; schema:name ?title ; tg:number ?number ; tg:priorAdoption ?prior ;
           tg:fiscalYear ?year } ORDER BY ?id"""


@pytest.fixture(scope="module")
def kg(built_store):
    from kg import Tsunagari

    return Tsunagari.open(built_store)


def eager(result: SparqlResult) -> SparqlResult:
    """The same answer read whole into rdflib terms first (the path every answer took before)."""
    return SparqlResult(result.columns, result.rows, boolean=result.boolean, graph=result.graph)


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.name)
def test_every_query_gives_the_same_rows_and_bytes_lazily(kg, path):
    text = path.read_text(encoding="utf-8")
    whole = eager(kg.sparql(text))
    assert kg.sparql(text).records() == whole.records()
    assert kg.sparql(text).rows == whole.rows
    for fmt in FORMATS:
        assert kg.sparql(text).format(fmt) == whole.format(fmt), fmt


def test_plain_values_of_every_kind_of_term(kg):
    text = TERMS.replace("SELECT", "PREFIX xsd: <http://www.w3.org/2001/XMLSchema#> SELECT", 1)
    lazy = kg.sparql(text)
    assert lazy.records() == [dict(zip(lazy.columns, map(plain_value, row))) for row in kg.sparql(text).rows]
    assert {type(value) for record in lazy.records() for value in record.values()} == {str, int, float, bool,
                                                                                        type(None)}
    for fmt in FORMATS:
        assert kg.sparql(text).format(fmt) == eager(kg.sparql(text)).format(fmt), fmt


def test_both_engines_write_the_same_bytes(kg):
    """An ordered answer with strings, language strings, IRIs, integers, booleans and years."""
    for fmt in FORMATS:
        assert kg.sparql(ORDERED, engine="rdflib").format(fmt) == kg.sparql(ORDERED, engine="oxigraph").format(fmt)
    for fmt in ("srj", "srx", "tsv", "json"):
        ask = "ASK { ?p a schema:Project }"
        assert kg.sparql(ask, engine="rdflib").format(fmt) == kg.sparql(ask, engine="oxigraph").format(fmt)


def test_standard_formats_read_back_as_the_same_terms(kg):
    from rdflib.query import Result

    rows = kg.sparql(ORDERED).rows
    for fmt, parser in (("srj", "json"), ("srx", "xml"), ("tsv", "tsv")):
        parsed = Result.parse(io.StringIO(kg.sparql(ORDERED).format(fmt)), format=parser)
        assert [tuple(row) for row in parsed] == list(rows), fmt
    document = json.loads(kg.sparql(ORDERED).format("srj"))
    assert document["head"]["vars"] == ["project", "id", "title", "number", "prior", "year"]
    assert document["results"]["bindings"][0]["title"]["xml:lang"] == "ja"


def test_an_answer_read_twice(kg):
    """Written first (nothing kept), then read: the query runs again; read first: the rows are kept."""
    written = kg.sparql(ORDERED)
    csv_text = written.format("csv")
    assert len(written.rows) == 77 and written.format("csv") == csv_text
    assert written.records() == kg.sparql(ORDERED).records()
    read = kg.sparql(ORDERED)
    records = read.records()
    assert read.records() == records and read.format("json") == json.dumps(records, ensure_ascii=False, indent=1)


def test_json_and_csv_are_written_as_before():
    """The streamed writers give exactly the bytes of json.dumps and csv.writer on the whole answer."""
    import csv

    rows = ((Literal("a\n\"b\""), Literal(1), None), (Literal("居場所"), Literal(2.5), Literal(True)))
    result = SparqlResult(("x", "n", "flag"), rows)
    records = [dict(zip(result.columns, map(plain_value, row))) for row in rows]
    assert result.format("json") == json.dumps(records, ensure_ascii=False, indent=1)
    assert SparqlResult(("x",), ()).format("json") == json.dumps([], indent=1)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([result.columns] + [
        ["" if v is None else plain_value(v) for v in row] for row in rows])
    assert result.format("csv") == out.getvalue()


def test_text_output_keeps_characters_split_between_writes():
    out = io.StringIO()
    sink = TextOutput(out)
    data = "居場所\x1b".encode()
    for byte in data:
        sink.write(bytes([byte]))
    sink.close()
    assert out.getvalue() == "居場所\x1b"


def test_cli_csv_neutralises_formulas_and_other_formats_keep_values(built_store):
    runner = CliRunner()
    query = 'SELECT ?x ?n WHERE { VALUES (?x ?n) { ("=1+1" -1) ("@SUM(1)" 2) ("plain" 3) } } ORDER BY ?n'
    run = lambda fmt: runner.invoke(cli, ["sparql", query, "--format", fmt, "--store", str(built_store)])
    csv_out = run("csv")
    assert csv_out.exit_code == 0, csv_out.output
    assert csv_out.output.splitlines() == ["x,n", "'=1+1,-1", "'@SUM(1),2", "plain,3"]
    assert [r["x"] for r in json.loads(run("json").output)] == ["=1+1", "@SUM(1)", "plain"]
    assert run("tsv").output.splitlines()[1] == '"=1+1"\t-1'


@pytest.mark.parametrize("fmt", ["tsv", "srj", "srx"])
def test_cli_standard_formats_never_carry_control_characters(built_store, fmt):
    query = 'SELECT ?x WHERE { VALUES ?x { "a\\u001b]0;owned\\u0007\\u202eb" } }'
    result = CliRunner().invoke(cli, ["sparql", query, "--format", fmt, "--store", str(built_store)])
    assert result.exit_code == 0, result.output
    assert not UNSAFE.search(result.output) and "\\u001b]0;owned\\u0007" in result.output
    if fmt == "srj":       # the escape is JSON's: still the same value
        assert json.loads(result.output)["results"]["bindings"][0]["x"]["value"] == "a\x1b]0;owned\x07\u202eb"


def test_cli_output_in_chunks_is_the_whole_answer(kg, monkeypatch):
    printed = []
    monkeypatch.setattr("kg.cli.common.echo_text", lambda text, nl=True: printed.append(text))
    out = SafeOutput(size=100)
    kg.sparql(ORDERED).write(out, "csv")
    out.close()
    assert len(printed) > 10 and "".join(printed) == kg.sparql(ORDERED).format("csv")


def test_cli_format_choices_are_the_api_formats():
    choices = next(p for p in cli.commands["sparql"].params if p.name == "fmt").type.choices
    assert tuple(choices) == FORMATS


def test_reading_a_whole_answer_pauses_the_cycle_collector_and_restores_it():
    import gc

    from kg.sparql import cycle_collector_paused

    seen = []

    class Watching:
        def terms(self):
            seen.append(gc.isenabled())
            yield (Literal(1),)

        def plain(self):
            seen.append(gc.isenabled())
            yield (1,)

    assert gc.isenabled()
    assert SparqlResult(("n",), solutions=Watching()).rows == ((Literal(1),),)
    assert SparqlResult(("n",), solutions=Watching()).records() == [{"n": 1}]
    assert seen == [False, False] and gc.isenabled()
    with pytest.raises(RuntimeError), cycle_collector_paused():
        raise RuntimeError("a failed read")
    assert gc.isenabled()
    gc.disable()
    try:
        with cycle_collector_paused():
            pass
        assert not gc.isenabled()           # left as the caller had it
    finally:
        gc.enable()
