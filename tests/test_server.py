"""`tsunagari serve` over HTTP: the SPARQL 1.1 Protocol (SPARQLWrapper as the client) and the pages.

One real uvicorn server on 127.0.0.1 (a free port) over a store built here with the hashing model.
"""
from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import quote, urlencode

import pytest
import rdflib
from click.testing import CliRunner
from SPARQLWrapper import CSV, JSON, JSONLD, POST, POSTDIRECTLY, TSV, TURTLE, XML, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import QueryBadFormed

from kg import Tsunagari
from kg.server import create_app
from kg.server.background import serve_in_thread
from kg.server import formats
from kg.cli.serve import serve
from kg.server.worker import Job, QueryPool

pytestmark = pytest.mark.slow      # a real uvicorn server and worker processes

TIMEOUT = 2.0
MAX_ROWS = 1000
MEN_SHED = "cao-kodoku-npo-model-fy2024-035"        # 空家再生型メンズシェッド…, 新城市 232211
SCHOOL_REFUSAL = "cao-kodoku-npo-model-fy2024-007"  # 石巻地域の不登校中高生…
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i FILTER(?c = ?i && ?a != ?g && ?e = ?h) }"
PROJECT_NAMES = "SELECT ?p ?name WHERE { ?p a schema:Project ; schema:name ?name } ORDER BY ?p"


@pytest.fixture(scope="module")
def kg(tmp_path_factory) -> Tsunagari:
    store = tmp_path_factory.mktemp("server") / "store"
    kg, _ = Tsunagari.build(None, store, embed=True, model="hashing")
    return kg


@pytest.fixture(scope="module")
def url(kg) -> str:
    with serve_in_thread(create_app(kg, timeout=TIMEOUT, max_rows=MAX_ROWS)) as base:
        yield base


def fetch(url: str, *, accept: str | None = None, data: bytes | None = None,
          content_type: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {k: v for k, v in (("Accept", accept), ("Content-Type", content_type)) if v}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def client(url: str, query: str, fmt: str = JSON, method=None) -> SPARQLWrapper:
    sparql = SPARQLWrapper(url + "/sparql", returnFormat=fmt)
    sparql.setQuery(query)
    if method == POSTDIRECTLY:
        sparql.setMethod(POST)
        sparql.setRequestMethod(POSTDIRECTLY)
    elif method:
        sparql.setMethod(method)
    return sparql


# -- SPARQL: results --------------------------------------------------------------------------------

def test_select_json(url, kg):
    results = client(url, PROJECT_NAMES).queryAndConvert()
    assert results["head"]["vars"] == ["p", "name"]
    names = {b["p"]["value"].rsplit("/", 1)[1]: b["name"] for b in results["results"]["bindings"]}
    assert len(names) == 77
    assert names[MEN_SHED] == {"type": "literal", "value": kg.project(MEN_SHED)["title"], "xml:lang": "ja"}


def test_select_xml(url, kg):
    document = client(url, PROJECT_NAMES, XML).queryAndConvert()     # a DOM
    literals = [node.firstChild.data for node in document.getElementsByTagName("literal")]
    assert kg.project(MEN_SHED)["title"] in literals and len(literals) == 77
    assert document.getElementsByTagName("literal")[0].getAttribute("xml:lang") == "ja"


@pytest.mark.parametrize("fmt, separator", [(CSV, ","), (TSV, "\t")])
def test_select_csv_and_tsv(url, kg, fmt, separator):
    text = client(url, PROJECT_NAMES, fmt).queryAndConvert().decode("utf-8")
    lines = text.splitlines()
    assert lines[0] == ("p,name" if fmt == CSV else "?p\t?name")
    assert len(lines) == 78
    title = kg.project(MEN_SHED)["title"]
    expected = f'"{title}"@ja' if fmt == TSV else title
    assert any(line.split(separator)[1] == expected for line in lines[1:])


def test_ask(url):
    yes = client(url, f"ASK {{ project:{MEN_SHED} schema:areaServed region:232211 }}").queryAndConvert()
    no = client(url, f"ASK {{ project:{MEN_SHED} schema:areaServed region:310000 }}").queryAndConvert()
    assert yes == {"head": {}, "boolean": True} and no["boolean"] is False
    document = client(url, "ASK { ?p a schema:Project }", XML).queryAndConvert()
    assert document.getElementsByTagName("boolean")[0].firstChild.data == "true"


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")   # inside SPARQLWrapper
@pytest.mark.parametrize("fmt, parse_as", [(TURTLE, "turtle"), (JSONLD, None)])
def test_construct(url, fmt, parse_as):
    query = "CONSTRUCT { ?p schema:name ?name } WHERE { ?p a schema:Project ; schema:name ?name }"
    result = client(url, query, fmt).query()
    assert result.info()["content-type"].startswith("text/turtle" if fmt == TURTLE else "application/ld+json")
    converted = result.convert()
    graph = rdflib.Graph().parse(data=converted, format=parse_as) if parse_as else converted  # JSON-LD: a Graph
    assert len(graph) == 77


def test_describe_a_project(url, kg):
    data = client(url, f"DESCRIBE <{kg.project(MEN_SHED)['iri']}>", TURTLE).queryAndConvert()
    graph = rdflib.Graph().parse(data=data, format="turtle")
    iri = rdflib.URIRef(kg.project(MEN_SHED)["iri"])
    assert (iri, rdflib.URIRef("https://schema.org/areaServed"),
            rdflib.URIRef("https://w3id.org/tsunagari/region/232211")) in graph


@pytest.mark.parametrize("method", [POST, POSTDIRECTLY])
def test_post_queries(url, method):
    results = client(url, "SELECT (COUNT(?p) AS ?n) WHERE { ?p a schema:Project }", JSON, method).queryAndConvert()
    assert results["results"]["bindings"][0]["n"]["value"] == "77"


def test_content_negotiation_and_format_override(url):
    query = quote("SELECT ?p WHERE { ?p a schema:Project } LIMIT 1")
    status, headers, body = fetch(f"{url}/sparql?query={query}", accept="text/html, text/csv;q=0.9, */*;q=0.1")
    assert status == 200 and headers["content-type"].startswith("text/csv") and body.startswith(b"p\r\n")
    status, headers, _ = fetch(f"{url}/sparql?query={query}&format=xml", accept="text/csv")
    assert headers["content-type"].startswith("application/sparql-results+xml")
    status, _, body = fetch(f"{url}/sparql?query={query}", accept="image/png")
    assert status == 406 and b"application/sparql-results+json" in body
    status, _, body = fetch(f"{url}/sparql?query={query}&format=turtle")
    assert status == 400 and b"does not apply to SELECT queries" in body


# -- SPARQL: refusals and bounds --------------------------------------------------------------------

INSERT = "PREFIX ex: <http://example.org/>\nINSERT DATA { ex:a ex:b ex:c }"


def test_update_refused_through_sparqlwrapper(url):
    sparql = client(url, INSERT, JSON, POST)       # SPARQLWrapper sends update=... to the endpoint
    with pytest.raises(urllib.error.HTTPError) as caught:
        sparql.query()
    assert caught.value.code == 403
    assert "read-only" in caught.value.read().decode()
    assert client(url, "ASK { <http://example.org/a> ?p ?o }").queryAndConvert()["boolean"] is False


@pytest.mark.parametrize("how", ["get-query", "get-update", "post-update", "sparql-update", "drop"])
def test_every_update_route_is_refused(url, how):
    if how == "get-query":
        status, _, body = fetch(f"{url}/sparql?query={quote(INSERT)}")
    elif how == "get-update":
        status, _, body = fetch(f"{url}/sparql?update={quote(INSERT)}")
    elif how == "post-update":
        status, _, body = fetch(f"{url}/sparql", data=urlencode({"update": INSERT}).encode(),
                                content_type="application/x-www-form-urlencoded")
    elif how == "sparql-update":
        status, _, body = fetch(f"{url}/sparql", data=INSERT.encode(), content_type="application/sparql-update")
    else:
        status, _, body = fetch(f"{url}/sparql?query={quote('DROP ALL')}")
    assert status == 403, body
    assert b"read-only" in body


INDENTED = ("        PREFIX ex: <http://example.org/>\n        PREFIX ex2: <http://example.org/2/>\n"
            "        SELECT (COUNT(?p) AS ?n) WHERE { ?p a schema:Project }")


@pytest.mark.parametrize("query", [
    INDENTED,
    " " * 5000 + INDENTED,
    ("# a comment line\n" + " " * 40) * 300 + INDENTED,
    "\n".join(["PREFIX p%d: <http://example.org/%d/>" % (i, i) for i in range(300)]) + "\n" + INDENTED,
])
def test_indented_and_commented_queries_answer(url, query):
    """The update check reads the text once: long runs of spaces and comments before the keyword cost nothing."""
    status, _, body = fetch(f"{url}/sparql", data=urlencode({"query": query}).encode(),
                            content_type="application/x-www-form-urlencoded")
    assert status == 200, body
    assert b'"77"' in body


@pytest.mark.parametrize("update", [
    "/* c */ DROP ALL", "\ufeffDROP ALL", "SELECT * WHERE { ?s ?p ?o } ; DROP ALL",
    " " * 5000 + "PREFIX ex: <http://example.org/>\n" + " " * 5000 + "DROP ALL",
    ("# comment\n" + " " * 30) * 300 + "CLEAR DEFAULT",
])
def test_updates_however_written_are_403(url, update):
    status, _, body = fetch(f"{url}/sparql", data=update.encode("utf-8"), content_type="application/sparql-query")
    assert status == 403, body
    assert b"read-only" in body
    assert client(url, "SELECT (COUNT(?p) AS ?n) WHERE { ?p a schema:Project }").queryAndConvert()[
        "results"]["bindings"][0]["n"]["value"] == "77"


def test_malformed_query_is_400_with_the_parser_message(url):
    with pytest.raises(QueryBadFormed) as caught:
        client(url, "SELECT ?x WHERE { ?x schema:name }").query()
    message = str(caught.value)
    assert "SPARQL syntax error at line 1, column 34" in message and "expected" in message


@pytest.mark.parametrize("query, words", [
    ("SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }", b"SERVICE"),
    ("SELECT * FROM <http://127.0.0.1:9/data.ttl> WHERE { ?s ?p ?o }", b"FROM"),
    ("SELECT ?x WHERE { ?x nosuchprefix:name ?y }", b"nosuchprefix"),
])
def test_queries_that_would_leave_the_graph_are_refused(url, query, words):
    status, _, body = fetch(f"{url}/sparql?query={quote(query)}")
    assert status == 400 and words in body


def test_slow_query_is_stopped_and_the_server_goes_on(url):
    start = time.monotonic()
    status, headers, body = fetch(f"{url}/sparql?query={quote(SLOW)}")
    elapsed = time.monotonic() - start
    assert status == 503 and b"time limit" in body, body
    assert TIMEOUT <= elapsed < TIMEOUT + 5
    results = client(url, "SELECT (COUNT(?p) AS ?n) WHERE { ?p a schema:Project }").queryAndConvert()
    assert results["results"]["bindings"][0]["n"]["value"] == "77"


def test_a_slow_query_does_not_block_other_queries(url):
    slow = threading.Thread(target=fetch, args=(f"{url}/sparql?query={quote(SLOW)}",))
    slow.start()
    time.sleep(0.3)
    start = time.monotonic()
    assert client(url, "ASK { ?p a schema:Project }").queryAndConvert()["boolean"] is True
    assert time.monotonic() - start < TIMEOUT / 2
    slow.join()


def test_max_rows(url):
    result = client(url, "SELECT ?s ?p ?o WHERE { ?s ?p ?o }").query()
    assert result.info()["x-sparql-maxrows"] == str(MAX_ROWS)
    assert len(result.convert()["results"]["bindings"]) == MAX_ROWS
    small = client(url, "SELECT ?p WHERE { ?p a schema:Project } LIMIT 3").query()
    assert "x-sparql-maxrows" not in small.info()


def test_a_dead_worker_is_replaced(kg):
    pool = QueryPool(kg.folder / "oxigraph", timeout=TIMEOUT, processes=1)
    pool.start()
    try:
        (worker,) = pool._all
        worker.process.kill()
        worker.process.wait()
        failed = pool.run(Job("ASK { ?s ?p ?o }", fmt="json"))
        assert failed.status == 500 and b"restarted" in failed.body
        assert pool.run(Job("ASK { ?s ?p ?o }", fmt="json")).body == b'{"head": {}, "boolean": true}'
    finally:
        pool.close()


def test_a_worker_that_cannot_start_is_started_at_the_next_query(kg, monkeypatch):
    """Out of file descriptors (a flood of connections), the replacement of a dead worker failed and the
    endpoint answered 503 "busy" for good."""
    import errno

    from kg.server import worker as workers

    pool = QueryPool(kg.folder / "oxigraph", timeout=TIMEOUT, processes=1)
    pool.start()
    try:
        (worker,) = pool._all
        real = workers._Worker
        failures = iter([OSError(errno.EMFILE, "Too many open files")])

        def starting(*args, **kwargs):
            failure = next(failures, None)
            if failure:
                raise failure
            return real(*args, **kwargs)
        monkeypatch.setattr(workers, "_Worker", starting)
        worker.process.kill()
        worker.process.wait()
        assert pool.run(Job("ASK { ?s ?p ?o }", fmt="json")).status == 500       # and its replacement failed
        assert not pool._all
        assert pool.run(Job("ASK { ?s ?p ?o }", fmt="json")).body == b'{"head": {}, "boolean": true}'
        assert len(pool._all) == 1
    finally:
        pool.close()


@pytest.mark.parametrize("accept, fmt, expected", [
    (None, None, "json"),
    ("*/*", None, "json"),
    ("text/csv;q=0.5, application/sparql-results+xml", None, "xml"),
    ("text/*", None, "csv"),
    ("application/sparql-results+json;q=0.1, text/tab-separated-values", None, "tsv"),
    ("text/csv", "application/sparql-results+json", "json"),         # format= wins over Accept
    ("application/xml", "srx", "xml"),
])
def test_negotiation_of_select_formats(accept, fmt, expected):
    assert formats.choose(formats.TABLE_FORMATS, accept, fmt, "SELECT") == expected


@pytest.mark.parametrize("accept, fmt, expected", [
    (None, None, "turtle"),
    ("application/ld+json, text/turtle;q=0.5", None, "json-ld"),
    ("application/n-triples", None, "nt"),
    (None, "json", "json-ld"), (None, "xml", "xml"), (None, "ttl", "turtle"),
])
def test_negotiation_of_graph_formats(accept, fmt, expected):
    assert formats.choose(formats.GRAPH_FORMATS, accept, fmt, "CONSTRUCT") == expected


# -- description, ontology, dumps -------------------------------------------------------------------

def test_service_description_and_void(url, kg):
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    void = rdflib.Namespace("http://rdfs.org/ns/void#")
    status, headers, body = fetch(f"{url}/sparql", accept="text/turtle")
    graph = rdflib.Graph().parse(data=body, format="turtle")
    assert (rdflib.URIRef(f"{url}/sparql"), rdflib.RDF.type, sd.Service) in graph
    graph = rdflib.Graph().parse(data=fetch(f"{url}/void")[2], format="turtle")
    assert graph.value(rdflib.URIRef(f"{url}/void#dataset"), void.triples).toPython() == len(kg.graph)
    status, headers, body = fetch(f"{url}/sparql", accept="text/html,application/xhtml+xml,*/*;q=0.8")
    assert headers["content-type"].startswith("text/html") and b'<form action="/sparql"' in body


def test_ontology_and_dumps_parse(url, kg):
    ontology = rdflib.Graph().parse(data=fetch(f"{url}/ontology.ttl")[2], format="turtle")
    assert (rdflib.URIRef("https://w3id.org/tsunagari/ontology"), rdflib.RDF.type, rdflib.OWL.Ontology) in ontology
    status, headers, body = fetch(f"{url}/dump.ttl")
    assert headers["content-type"].startswith("text/turtle")
    dump = rdflib.Graph().parse(data=body, format="turtle")
    assert len(dump) == len(kg.graph)
    assert len(rdflib.Graph().parse(data=fetch(f"{url}/dump.nt")[2], format="nt")) == len(kg.graph)


# -- pages ------------------------------------------------------------------------------------------

def page(url: str, path: str) -> tuple[int, str]:
    status, headers, body = fetch(url + path, accept="text/html")
    assert headers["content-type"] == "text/html; charset=utf-8"
    return status, body.decode("utf-8")


def test_search_page_finds_the_project_with_reasons(url, kg):
    status, html = page(url, "/?" + urlencode({"q": "不登校の中学生の居場所"}))
    assert status == 200 and '<html lang="ja">' in html
    assert f'href="/project/{SCHOOL_REFUSAL}"' in html and kg.project(SCHOOL_REFUSAL)["title"] in html
    assert "共通の対象者" in html and "School non-attendance" in html and "embedding similarity" in html


def test_search_filters(url, kg):
    status, html = page(url, "/?" + urlencode({"q": "居場所", "prefecture": "310000"}))   # 鳥取県
    found = set(re.findall(r'<h3><a href="/project/([\w-]+)"', html))
    assert status == 200 and found
    assert found <= {p["id"] for p in kg.projects(prefecture="310000")}


def test_filters_without_text_list_projects(url, kg):
    status, html = page(url, "/?" + urlencode({"target_group": "older-men"}))
    expected = kg.projects(target_group="older-men")
    assert status == 200 and f"{len(expected)} 件の取組" in html
    assert all(f'href="/project/{p["id"]}"' in html for p in expected)


def test_bad_filter_is_a_400_page(url):
    status, html = page(url, "/?" + urlencode({"q": "居場所", "prefecture": "Atlantis"}))
    assert status == 400 and "Atlantis" in html and 'role="alert"' in html


def test_everything_is_escaped(url):
    status, html = page(url, "/?" + urlencode({"q": '<script>alert("x")</script>'}))
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_project_page(url, kg):
    status, html = page(url, f"/project/{MEN_SHED}")
    p = kg.project(MEN_SHED)
    assert status == 200 and p["title"] in html and p["organization"]["written"] in html
    assert "232211" in html and "新城市" in html                      # regions with codes
    assert "メンズシェッド" in html and "because" in html             # concepts with their evidence
    similar = kg.similar(MEN_SHED, top=5)
    assert all(f'href="/project/{s["id"]}"' in html for s in similar)
    describe = html.split('rel="alternate" type="text/turtle"')[0].rsplit('href="', 1)[1].split('"')[0]
    status, _, body = fetch(url + describe.replace("&amp;", "&"))
    assert status == 200 and rdflib.URIRef(p["iri"]) in set(rdflib.Graph().parse(data=body, format="turtle").subjects())


def test_unknown_project_is_a_404_page_with_suggestions(url):
    status, html = page(url, "/project/cao-kodoku-npo-model-fy2024-35")
    assert status == 404 and "見つかりません" in html
    assert f'href="/project/{MEN_SHED}"' in html
    status, html = page(url, "/no/such/page")
    assert status == 404


def test_a_404_looks_in_titles_only_in_a_store_small_enough(kg, monkeypatch):
    import kg.server.app as app_module

    site = create_app(kg, timeout=TIMEOUT, max_rows=MAX_ROWS).state.site
    assert [v["id"] for v in site.suggest("メンズシェッド")] == [MEN_SHED]        # a word of its title
    monkeypatch.setattr(app_module, "TITLE_SCAN_MAX", len(kg.projects()) - 1)
    assert site.suggest("メンズシェッド") == []                           # a large store: ids only
    assert MEN_SHED in [v["id"] for v in site.suggest("cao-kodoku-npo-model-fy2024-35")]


def test_a_filter_listing_reads_one_page_and_counts_the_rest(url, kg, monkeypatch):
    import kg.server.pages as pages_module

    monkeypatch.setattr(pages_module, "LISTING_MAX", 5)
    status, html = page(url, "/?fiscal_year=2024")
    total = kg.count(fiscal_year=2024)
    assert status == 200 and f"{total} 件の取組" in html and total > 5
    assert html.count('href="/project/') == 5 and "最初の 5 件を表示しています" in html
    first = [p["id"] for p in kg.projects(fiscal_year=2024, limit=5)]
    assert all(f'href="/project/{pid}"' in html for pid in first)


def test_listing_totals_are_counted_once_per_filters(kg, monkeypatch):
    site = create_app(kg, timeout=TIMEOUT, max_rows=MAX_ROWS).state.site
    asked = []
    monkeypatch.setattr(kg, "count", lambda **filters: asked.append(filters) or 7)
    assert site.count(fiscal_year=2024, theme="food") == site.count(theme="food", fiscal_year=2024) == 7
    assert site.count(theme="food") == 7 and asked == [{"fiscal_year": 2024, "theme": "food"}, {"theme": "food"}]

def test_ids_around_a_text_come_from_the_id_index_in_order(kg):
    ids = sorted(kg.views)
    assert kg.views.ids_around(ids[10], 3) == ids[7:13]
    assert kg.views.ids_around(ids[10] + "0", 2) == ids[9:13]       # between two ids
    assert kg.views.ids_around("", 2) == ids[:2] and kg.views.ids_around("~", 2) == ids[-2:]


# -- command ----------------------------------------------------------------------------------------

def test_serve_command_help_and_missing_store(tmp_path):
    assert "--max-rows" in CliRunner().invoke(serve, ["--help"]).output
    result = CliRunner().invoke(serve, ["--store", str(tmp_path / "none")])
    assert result.exit_code == 1 and "no store here" in result.output


def test_serve_on_a_port_in_use_is_one_clear_line(built_store):
    """It used to say it was serving, then print uvicorn's error."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = CliRunner().invoke(serve, ["--store", str(built_store), "--port", str(port)])
    assert result.exit_code == 1, result.output
    assert f"cannot listen on 127.0.0.1:{port} (Address already in use)" in result.output
    assert "pick another --port" in result.output and "serving" not in result.output


@pytest.mark.parametrize("query, expected", [
    ("SELEC", "unexpected end of the query after 'SELEC'"),
    ("SELECT * WHERE { ?s ?p }", "unexpected end of the query after 'SELECT * WHERE { ?s ?p }'"),
    ("SELECT * WHERE { ?s ?p ?o . ?s <a> ?o ?x }", "column 37 (after '* WHERE { ?s ?p ?o . ?s <a> ?'"),
])
def test_syntax_errors_say_where_and_what(query, expected):
    import pyoxigraph

    from kg.server.answer import syntax_message

    with pytest.raises(SyntaxError) as error:
        pyoxigraph.Store().query(query)
    message = syntax_message(query, str(error.value))
    assert expected in message
    assert not message.rstrip().endswith("expected"), message     # never an empty "expected"


@pytest.mark.parametrize("deep", [
    "SELECT * WHERE " + "{" * 3000 + "}" * 3000,                                  # killed a worker (SIGSEGV)
    "SELECT * WHERE { FILTER(" + "!" * 10_000 + "true) }",
    "SELECT * WHERE { " + "OPTIONAL { " * 3000 + "}" * 3001,
])
def test_a_deeply_nested_query_is_refused_before_the_engine(url, deep):
    status, _, body = fetch(f"{url}/sparql", data=deep.encode(), content_type="application/sparql-query")
    assert status == 400 and b"levels deep" in body and b"the limit is 256" in body, body
    nested = "SELECT (COUNT(*) AS ?n) WHERE " + "{" * 200 + " ?p a schema:Project " + "}" * 200
    status, _, body = fetch(f"{url}/sparql", data=nested.encode(), content_type="application/sparql-query",
                            accept="application/sparql-results+json")
    assert status == 200 and b'"77"' in body, body


def test_a_request_that_never_arrives_is_closed_and_others_are_served(kg):
    """Half-sent requests (slowloris) were held for ever: thousands of them used up the file descriptors."""
    import socket

    with serve_in_thread(create_app(kg, timeout=TIMEOUT, max_rows=MAX_ROWS), request_seconds=1.0) as base:
        host, port = base.removeprefix("http://").split(":")
        stalled = []
        for partial in (b"GET / HTTP/1.1\r\nHost: x\r\nX-a: ", b"POST /sparql HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Type: application/sparql-query\r\nContent-Length: 100\r\n\r\nASK"):
            conn = socket.create_connection((host, int(port)))
            conn.sendall(partial)
            stalled.append(conn)
        assert fetch(f"{base}/sparql?query={quote('ASK { ?s ?p ?o }')}")[0] == 200     # served meanwhile
        start = time.monotonic()
        for conn in stalled:
            conn.settimeout(10)
            assert conn.recv(1024) == b""                 # closed by the server, without an answer
            conn.close()
        assert time.monotonic() - start < 5
        # An answer that takes longer than the deadline is not cut: only the request's arrival is timed.
        status, _, body = fetch(f"{base}/sparql?query={quote(SLOW)}")
        assert status == 503 and b"time limit" in body


def test_a_form_with_too_many_fields_is_refused(url):
    body = b"query=" + quote("ASK { ?s ?p ?o }").encode() + b"&" + b"a=1&" * 200_000
    status, _, answer = fetch(f"{url}/sparql", data=body, content_type="application/x-www-form-urlencoded")
    assert status == 400 and b"more than 100 form fields" in answer
    status, _, answer = fetch(f"{url}/sparql", data=b"query=" + quote("ASK { ?s ?p ?o }").encode() + b"&a=1",
                              content_type="application/x-www-form-urlencoded",
                              accept="application/sparql-results+json")
    assert status == 200 and b"true" in answer


def test_xml_answers_are_well_formed_whatever_the_strings_hold(url):
    import xml.etree.ElementTree as ET

    query = 'SELECT ?x WHERE { BIND("a\\uFFFEb\\uFFFFc\\u0001d\\uD7FFe" AS ?x) }'
    status, _, body = fetch(f"{url}/sparql?query={quote(query)}&format=xml")
    assert status == 200
    literal = ET.fromstring(body).find(".//{http://www.w3.org/2005/sparql-results#}literal")
    assert literal is not None and literal.text == "abcd\ud7ffe"


def test_searches_beyond_the_gate_are_turned_away_at_once():
    """Fifty long searches held every thread the pages share: project pages took 13 s."""
    import asyncio

    from kg.server.gate import Busy, Gate

    async def scenario() -> list[str]:
        gate, release, done = Gate("searches", running=1, waiting=1), threading.Event(), []

        def work(name: str) -> str:
            release.wait(10)
            done.append(name)
            return name
        first = asyncio.create_task(gate.run(work, "first"))
        await asyncio.sleep(0.1)
        second = asyncio.create_task(gate.run(work, "second"))      # waits in line
        await asyncio.sleep(0.1)
        with pytest.raises(Busy, match="1 searches running and 1 waiting"):
            await gate.run(work, "third")
        release.set()
        assert [await first, await second] == ["first", "second"]
        assert await gate.run(work, "fourth") == "fourth"           # room again
        return done
    assert asyncio.run(scenario()) == ["first", "second", "fourth"]


def test_a_busy_search_page_is_503_and_project_pages_still_answer(kg):
    from kg.server.gate import Gate

    app = create_app(kg, timeout=TIMEOUT, max_rows=MAX_ROWS)
    with serve_in_thread(app) as base:
        app.state.site.searches = Gate("searches", running=0, waiting=0)      # every search turned away
        status, _, body = fetch(f"{base}/?q={quote('居場所')}")
        assert status == 503 and "the server is busy" in body.decode()
        assert fetch(f"{base}/project/cao-kodoku-npo-model-fy2024-035")[0] == 200
