"""rdflib and embedded Oxigraph answer every queries/*.rq alike, with and without parameters."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from kg.engines import OxigraphEngine, RdflibEngine, bind_values, open_engine
from kg.sparql import QueryError
from conftest import load_script

ROOT = Path(__file__).parents[1]
QUERIES = sorted((ROOT / "queries").glob("*.rq"))
PID = "cao-kodoku-npo-model-fy2024-{:03d}".format

# Parameters for each store: values that select something, and (second dict) values that select nothing.
BUNDLED = {
    "concept_hierarchy.rq": [{"scheme_id": "theme"}],
    "highlighted_projects.rq": [{"category_text": "官民連携"}, {"category_text": "なし"}],
    "organisations_adopted_both_years.rq": [{"fiscal_year": "2024"}, {"fiscal_year": "2023"}],
    "organisations_by_legal_form.rq": [{"legal_form_id": "npo"}],
    "organisations_with_several_projects.rq": [{"min_projects": "1"}, {"min_projects": 2}],
    "project_provenance.rq": [{"project_id": PID(53)}],
    "projects_by_target_group.rq": [{"concept_id": "youth"}],
    "projects_in_region.rq": [{"region_code": "312011"}],
    "projects_per_block.rq": [{"block_id": "kinki"}],
    "projects_per_fiscal_year_and_programme.rq": [{"programme_id": "cao-kodoku-npo-model"},
                                                  {"programme_id": "another-programme"}],
    "projects_per_municipality.rq": [{"prefecture_code": "310000"}],
    "projects_per_prefecture.rq": [{"block_id": "chugoku"}],
    "projects_reaching_several_prefectures.rq": [{"min_prefectures": "4"}, {"min_prefectures": 3}],
    "tag_evidence.rq": [{"concept_id": "hikikomori"}],
    "target_group_by_theme.rq": [{"target_group_id": "children", "theme_id": "place-to-belong"},
                                 {"theme_id": "place-to-belong"}],
    "themes_per_block.rq": [{"block_id": "kinki", "theme_id": "place-to-belong"}, {"block_id": "kanto"}],
}
SYNTHETIC = {
    **BUNDLED,
    "organisations_adopted_both_years.rq": [{"fiscal_year": "2022"}, {"fiscal_year": 2018}],
    "organisations_with_several_projects.rq": [{"min_projects": "3"}, {"min_projects": 2}],
    "project_provenance.rq": [{"project_id": "kyumin-yokin-fy2022-003"}],
    "projects_per_fiscal_year_and_programme.rq": [{"programme_id": "pref-grant"}],
    "projects_per_municipality.rq": [{"prefecture_code": "130001"}],
    "projects_in_region.rq": [{"region_code": "131091"}],
    "projects_reaching_several_prefectures.rq": [{"min_prefectures": "2"}, {"min_prefectures": 5}],
}


def _header_parameters(path: Path) -> list[str]:
    lines, keep = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        keep = line.startswith("# parameters:") or (keep and line.startswith("#   "))
        if keep:
            lines.append(line)
    return re.findall(r"\?([a-z_]+)", " ".join(lines))



def _engines(graph, folder: Path):
    from kg.build import sorted_ntriples

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "graph.nt").write_bytes(sorted_ntriples(graph))
    return RdflibEngine(graph), OxigraphEngine.load(folder / "graph.nt", folder / "oxigraph")


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    from kg.api import bundled_source
    from kg.assemble import assemble
    from kg.rdf import to_graph
    from kg.sources import read_source

    return _engines(to_graph(assemble([read_source(bundled_source())])), tmp_path_factory.mktemp("bundled"))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from kg.assemble import assemble
    from kg.rdf import to_graph
    from kg.sources import read_source

    folder = tmp_path_factory.mktemp("synthetic")
    load_script("synth").write_csv(folder / "synth.csv", 300, seed=7)
    return _engines(to_graph(assemble([read_source(folder / "synth.csv")])), folder / "store")


def _group_concat_columns(text: str) -> dict[str, str]:
    """Columns made by GROUP_CONCAT (or by COALESCE of one), with their separators."""
    pattern = r'GROUP_CONCAT\s*\((?:[^()]|\([^()]*\))*?separator\s*=\s*"([^"]*)"\s*\)\s*AS\s+\?(\w+)'
    found = {column: separator for separator, column in re.findall(pattern, text, re.IGNORECASE | re.DOTALL)}
    for inner, column in re.findall(r'COALESCE\s*\(\s*\?(\w+)\s*,\s*""\s*\)\s*AS\s+\?(\w+)', text, re.IGNORECASE):
        if inner in found:
            found[column] = found[inner]
    return found


def comparable(result, text: str) -> list[dict]:
    """Records, with GROUP_CONCAT values as sorted lists: SPARQL leaves the order inside a group undefined
    (rdflib keeps input order, Oxigraph does not), and a group of only unbound values concatenates to ""
    in rdflib but is unbound in Oxigraph (both print as an empty cell in CSV and table output)."""
    concat = _group_concat_columns(text)
    rows = []
    for record in result.records():
        for column, separator in concat.items():
            if column in record:
                value = record[column]
                record[column] = sorted(value.split(separator)) if value else []
        rows.append(record)
    return rows


def _cases(table: dict) -> list[tuple[str, dict]]:
    return [(path.name, bindings) for path in QUERIES for bindings in [{}] + table.get(path.name, [])]


def _check(engines, name: str, bindings: dict) -> None:
    rdflib_engine, oxigraph_engine = engines
    text = (ROOT / "queries" / name).read_text(encoding="utf-8")
    expected = comparable(rdflib_engine.query(text, bindings), text)
    got = comparable(oxigraph_engine.query(text, bindings), text)
    assert len(got) == len(expected), f"{name} {bindings}: {len(got)} rows on Oxigraph, {len(expected)} on rdflib"
    if re.search(r"^ORDER BY ", text, re.MULTILINE):
        for position, (a, b) in enumerate(zip(expected, got)):
            assert a == b, f"{name} {bindings}: row {position} differs\nrdflib:   {a}\noxigraph: {b}"
    else:
        assert sorted(map(repr, got)) == sorted(map(repr, expected))


@pytest.mark.slow
@pytest.mark.parametrize("name, bindings", _cases(BUNDLED), ids=repr)
def test_same_rows_on_the_bundled_store(bundled, name, bindings):
    _check(bundled, name, bindings)


@pytest.mark.slow
@pytest.mark.parametrize("name, bindings", _cases(SYNTHETIC), ids=repr)
def test_same_rows_on_a_synthetic_store(synthetic, name, bindings):
    _check(synthetic, name, bindings)


@pytest.mark.slow
def test_listings_come_in_source_order_across_sources(tmp_path):
    """Two sources: the listings sort by each source's rank (file name, then SHA-256), page and line, the
    same on both engines."""
    from kg.api import bundled_source
    from kg.assemble import assemble
    from kg.rdf import to_graph
    from kg.sources import read_source

    load_script("synth").write_csv(tmp_path / "a.csv", 20, seed=3)
    graph = to_graph(assemble([read_source(bundled_source()), read_source(tmp_path / "a.csv")]))
    engines = _engines(graph, tmp_path / "store")
    for name in ("project_provenance.rq", "projects_in_region.rq"):
        _check(engines, name, {})
    text = (ROOT / "queries" / "project_provenance.rq").read_text(encoding="utf-8")
    keys = [(r["file"], r["page"] or 0, r["line"]) for r in engines[1].query(text).records()]
    files = [file for file, _, _ in keys]
    assert keys == sorted(keys) and files.count(bundled_source().name) == 77
    assert files[0] == "a.csv" and files[-1] == bundled_source().name


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.name)
def test_every_documented_parameter_is_exercised(path):
    for table in (BUNDLED, SYNTHETIC):
        used = {key for bindings in table.get(path.name, []) for key in bindings}
        assert set(_header_parameters(path)) <= used, f"add {path.name}'s parameters to BUNDLED/SYNTHETIC"


def test_parameters_select_on_the_synthetic_store(synthetic):
    """The synthetic bindings are not vacuous: each selects rows, and fewer than without it."""
    for name, cases in SYNTHETIC.items():
        text = (ROOT / "queries" / name).read_text(encoding="utf-8")
        every = len(synthetic[1].query(text).rows)
        some = len(synthetic[1].query(text, cases[0]).rows)
        assert 0 < some <= every, (name, cases[0], some, every)


@pytest.mark.parametrize("query", ["SELEC ?x WHERE { ?x ?p ?o }", "SELECT ?x WHERE { ?x ?p }",
                                   "SELECT ?x WHERE { ?x nope:p ?o }"])
def test_a_malformed_query_fails_alike(bundled, query):
    messages = []
    for engine in bundled:
        with pytest.raises(QueryError, match="^SPARQL syntax error") as error:
            engine.query(query)
        messages.append(str(error.value))
    assert all(messages)


def test_a_deeply_nested_query_is_an_error_not_a_crash(bundled):
    """3,000 braces overflowed Oxigraph's parser: the process died (SIGSEGV)."""
    oxigraph = next(engine for engine in bundled if isinstance(engine, OxigraphEngine))
    with pytest.raises(QueryError, match="nests 3,000 levels deep .* the limit is 256"):
        oxigraph.query("SELECT * WHERE " + "{" * 3000 + "}" * 3000)
    nested = "SELECT (COUNT(*) AS ?n) WHERE " + "{" * 200 + " ?p a schema:Project " + "}" * 200
    assert oxigraph.query(nested).records() == [{"n": 77}]


def test_ask_and_construct(bundled):
    ask = "ASK { ?p a schema:Project ; schema:identifier ?id }"
    construct = "CONSTRUCT { ?p schema:identifier ?id } WHERE { ?p a schema:Project ; schema:identifier ?id }"
    for engine in bundled:
        assert engine.query(ask, {"id": PID(1)}).boolean is True
        assert engine.query(ask, {"id": "nothing"}).boolean is False
        assert len(engine.query(construct).graph) == 77


def test_values_are_the_same_python_types(bundled):
    text = """SELECT ?n ?flag ?year ?name ?iri WHERE {
                ?p schema:identifier ?id ; tg:number ?n ; tg:priorAdoption ?flag ; tg:fiscalYear ?year ;
                   schema:name ?name . BIND (?p AS ?iri) }"""
    records = [engine.query(text, {"id": PID(9)}).records() for engine in bundled]
    assert records[0] == records[1]
    (row,) = records[1]
    assert (row["n"], row["flag"], row["year"]) == (9, True, "2024")
    assert isinstance(row["name"], str) and row["iri"].startswith("https://w3id.org/tsunagari/project/")


XSD_NS = "http://www.w3.org/2001/XMLSchema#"
CELLS = [
    ("cao-kodoku-npo-model-fy2024-053", None, None), ("東京都豊島区、北区", "ja", None), ("", None, None),
    ("Tokyo", "en", None), ("53", None, "integer"), ("-7", None, "integer"), ("0", None, "integer"),
    ("123456789012345678901234567890", None, "integer"), ("007", None, "integer"), ("-0", None, "integer"),
    ("2024", None, "gYear"), ("true", None, "boolean"), ("1", None, "boolean"), ("1.5", None, "decimal"),
    ("-.50", None, "decimal"), ("1.5E3", None, "double"), ("INF", None, "double"), ("abc", None, "integer"),
    ('a\tb\nc\rd"e\\f\\t', None, None), ('"\\"', "en-GB", None), ("x\u2028y\x00z\x85", None, None),
    ("💡 ﾃｽﾄ", None, "https://example.org/dt?a=1#x"),
]


def _stored(cells):
    """An in-memory Oxigraph store with one triple per cell, and the rdflib term ``Literal()`` makes of each
    object as Oxigraph keeps it (Oxigraph puts numbers and booleans in canonical form)."""
    import pyoxigraph as ox

    from kg.engines import to_rdflib

    store = ox.Store()
    for i, (value, language, datatype) in enumerate(cells):
        if datatype:
            term = ox.Literal(value, datatype=ox.NamedNode(datatype if ":" in datatype else XSD_NS + datatype))
        else:
            term = ox.Literal(value, language=language) if language else ox.Literal(value)
        store.add(ox.Quad(ox.NamedNode(f"http://example.org/s{i:04d}"), ox.NamedNode("http://example.org/p"), term))
    expected = [to_rdflib(q.object) for q in sorted(store, key=lambda q: q.subject.value)]
    return OxigraphEngine(store), expected


def _same_terms(made, expected):
    from rdflib import Literal

    assert [type(m) for m in made] == [type(e) for e in expected]
    assert made == expected and [hash(m) for m in made] == [hash(e) for e in expected]
    assert [m.n3() for m in made] == [e.n3() for e in expected]
    for m, e in zip(made, expected):
        if isinstance(e, Literal):
            assert [getattr(m, slot) for slot in Literal.__slots__] == [getattr(e, slot) for slot in Literal.__slots__]


SELECT_OBJECTS = "SELECT ?s ?o WHERE { ?s <http://example.org/p> ?o } ORDER BY ?s"


def test_rows_are_the_terms_rdflib_would_make():
    """Rows read back from Oxigraph's TSV are, slot for slot, the terms ``Literal()`` makes of each value as
    Oxigraph keeps it (tabs, quotes, backslashes, line separators, numbers, booleans, any datatype), so a
    row compares, hashes and converts as before; plain values are ``plain_value`` of those terms."""
    from kg.sparql import plain_value

    engine, expected = _stored(CELLS)
    result = engine.query(SELECT_OBJECTS)
    _same_terms([o for _, o in result.rows], expected)
    assert [r["o"] for r in engine.query(SELECT_OBJECTS).records()] == [plain_value(e) for e in expected]
    assert [r["o"] for r in engine.query(SELECT_OBJECTS).records()] == [plain_value(o) for _, o in result.rows]


def test_rows_of_any_text_and_tag_come_back_whole():
    """Any string, language tag or datatype IRI (hypothesis) survives the trip through TSV, as a term and as
    a plain value."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from kg.sparql import plain_value

    text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
    cell = st.one_of(
        st.tuples(text, st.none(), st.none()),
        st.tuples(text, st.sampled_from(["ja", "en", "en-gb", "zh-hant-tw"]), st.none()),
        st.tuples(st.integers(-10**30, 10**30).map(str), st.none(), st.just("integer")),
        st.tuples(st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str), st.none(), st.just("decimal")),
        st.tuples(text, st.none(), st.sampled_from(["date", "gYear", "https://example.org/dt#x"])),
    )

    @settings(max_examples=60, deadline=None)
    @given(st.lists(cell, min_size=1, max_size=20))
    def check(cells):
        engine, expected = _stored(cells)
        _same_terms([o for _, o in engine.query(SELECT_OBJECTS).rows], expected)
        assert [r["o"] for r in engine.query(SELECT_OBJECTS).records()] == [plain_value(e) for e in expected]

    check()


def test_reading_tsv_remembers_a_bounded_number_of_cells():
    """Past ``remember`` distinct cells the made ones are forgotten (memory stays bounded on a streamed
    answer of unique titles); the rows are the same, and repeated cells are made again only after that."""
    from kg.tsv_terms import tsv_rows, tsv_term

    lines = ["?a\t?b\n"] + [f'"t{i}"\t"label"\n' for i in range(10)]
    made = []

    def counting(cell):
        made.append(cell)
        return tsv_term(cell)

    assert list(tsv_rows(lines, counting, remember=4)) == list(tsv_rows(lines, tsv_term))
    assert made.count('"label"') == 4 and len(made) == 14      # made again at rows 3, 6 and 9
    made.clear()
    list(tsv_rows(lines, counting))
    assert made.count('"label"') == 1 and len(made) == 11


def test_a_bad_tsv_cell_is_an_error_not_a_wrong_term():
    from kg.tsv_terms import tsv_term

    for cell in ('"a"^^x', '"a\\q"', "<< <a> <b> <c> >>"):
        with pytest.raises(ValueError):
            tsv_term(cell)


INT = "<http://www.w3.org/2001/XMLSchema#integer>"


@pytest.mark.parametrize("text, bindings, expected", [
    ('SELECT ?x WHERE { ?s ?p ?x FILTER(!BOUND(?x)) }', {"x": "a"},
     'SELECT ?x WHERE { ?s ?p "a" FILTER(!true) }\nVALUES ?x { "a" }'),
    ('SELECT (?k AS ?x) WHERE { ?s ?p ?k FILTER(STR(?x) = "?x") } # ?x',
     {"x": "a"}, 'SELECT (?k AS ?x) WHERE { ?s ?p ?k FILTER(STR("a") = "?x") } # ?x'),
    ('SELECT ?s WHERE { ?s ?p ?o } GROUP BY ?s ?n ORDER BY DESC(?n) $n', {"n": 4},
     f'SELECT ?s WHERE {{ ?s ?p ?o }} GROUP BY ?s ?n ORDER BY DESC("4"^^{INT}) $n\nVALUES ?n {{ "4"^^{INT} }}'),
    ('SELECT ?s WHERE { { SELECT ?s WHERE { ?s <http://x/p?v=1> ?v } } }', {"v": "b"},
     'SELECT ?s WHERE { { SELECT ?s WHERE { ?s <http://x/p?v=1> "b" } } }'),
    ('SELECT ?s ?vv WHERE { ?s ?p ?vv }', {"v": "b"}, 'SELECT ?s ?vv WHERE { ?s ?p ?vv }'),
    ('SELECT * WHERE { ?s ?p ?o }', {"o": "x"}, 'SELECT * WHERE { ?s ?p "x" }\nVALUES ?o { "x" }'),
    ('SELECT ?a ?b WHERE { ?a ?p ?b }', {"b": "x", "a": "y"},
     'SELECT ?a ?b WHERE { "y" ?p "x" }\nVALUES (?a ?b) { ("y" "x") }'),
])
def test_bind_values(text, bindings, expected):
    from rdflib import Literal

    assert bind_values(text, {k: Literal(v) for k, v in bindings.items()}) == expected


def test_a_parameter_projected_by_a_subquery(bundled):
    """The value reaches the subquery and the outer SELECT alike (a text substitution of "(value AS ?v)"
    in both SELECT lists would be refused by Oxigraph)."""
    text = """SELECT ?id ?name WHERE { { SELECT ?p ?id WHERE { ?p schema:identifier ?id } } ?p schema:name ?name }"""
    rows = [engine.query(text, {"id": PID(3)}).records() for engine in bundled]
    assert rows[0] == rows[1] and len(rows[1]) == 1 and rows[1][0]["id"] == PID(3)


def test_open_engine_prefers_the_stores_oxigraph(tmp_path, bundled):
    from kg.build import sorted_ntriples

    (tmp_path / "graph.nt").write_bytes(sorted_ntriples(bundled[0].graph))
    assert open_engine(tmp_path).name == "rdflib"              # no oxigraph/ folder: the reference
    OxigraphEngine.load(tmp_path / "graph.nt", tmp_path / "oxigraph")
    (tmp_path / "manifest.json").write_text('{"counts": {"projects": 77}}')
    assert open_engine(tmp_path).name == "oxigraph"            # "auto": Oxigraph whenever the store has it
    assert open_engine(tmp_path, graph=bundled[0].graph).name == "oxigraph"
    assert open_engine(tmp_path, "rdflib").name == "rdflib"
    assert open_engine(tmp_path, "oxigraph").name == "oxigraph"
    with pytest.raises(QueryError, match="unknown SPARQL engine"):
        open_engine(tmp_path, "virtuoso")
