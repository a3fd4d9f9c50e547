"""The SPARQL 1.1 Protocol at /sparql (query operation only), the service description, VoID and dumps.

GET ?query=, POST application/x-www-form-urlencoded (query=) and POST application/sparql-query are
answered by kg.server.worker; updates (update=, application/sparql-update) are refused with 403.
A request waits for a worker without holding a thread (see ``QueryPool.answer``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from rdflib import Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDF, XSD
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from kg.server import formats
from kg.server.worker import Job, Reply, refuse_update

if TYPE_CHECKING:
    from kg.server.app import Site

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = Namespace("http://rdfs.org/ns/void#")
FORMATS = Namespace("http://www.w3.org/ns/formats/")
MAX_BODY = 1_000_000
FORMAT_PARAMS = ("format", "output", "results")   # SPARQLWrapper and others send all three
RESULT_FORMATS = ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
                  "Turtle", "JSON-LD", "N-Triples", "RDF_XML")


def _reply(reply: Reply) -> Response:
    return Response(reply.body, status_code=reply.status, media_type=reply.media_type, headers=dict(reply.headers))


def _error(status: int, message: str) -> Response:
    return _reply(Reply.text(status, message))

MAX_FORM_FIELDS = 100      # the protocol needs a handful: query, format, graph URIs


async def sparql(request: Request) -> Response:
    """The endpoint: read the query from the request, run it in a worker, answer in the negotiated format."""
    site: Site = request.app.state.site
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    if request.method == "POST":
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await _body(request)
        if body is None:
            return _error(413, f"request body over {MAX_BODY} bytes — send a shorter query")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            return _error(400, f"the request body is not UTF-8 ({error}) — encode the query as UTF-8")
        if kind == "application/sparql-update":
            return _reply(refuse_update("application/sparql-update"))
        if kind == "application/x-www-form-urlencoded":
            try:        # a megabyte of "a=1&" took the event loop for a second per request
                fields = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
            except ValueError:
                return _error(400, f"more than {MAX_FORM_FIELDS} form fields — send query=... and at most "
                                   "a format")
            for key, values in fields.items():
                params.setdefault(key, []).extend(values)
        elif kind == "application/sparql-query":
            params.setdefault("query", []).append(text)
        else:
            return _error(415, f"cannot read a POST body of type {kind or 'none'!r} — send "
                               "application/x-www-form-urlencoded (query=...) or application/sparql-query")
    if "update" in params:
        return _reply(refuse_update("the update parameter"))
    queries = params.get("query", [])
    if not queries:
        if request.method == "GET":
            return await description(request)
        return _error(400, "no query — send query=... (form) or the query itself as application/sparql-query")
    if len(queries) > 1:
        return _error(400, f"{len(queries)} query parameters — send exactly one query per request")
    if any(v.strip() for key in ("default-graph-uri", "named-graph-uri") for v in params.get(key, [])):
        return _error(400, "default-graph-uri and named-graph-uri are not supported: this endpoint has one "
                           "default graph — drop those parameters")
    fmt = next((params[key][0] for key in FORMAT_PARAMS if params.get(key, [""])[0]), None)
    job = Job(queries[0], request.headers.get("accept"), fmt, site.limits.max_rows, site.limits.max_bytes)
    return _reply(await site.pool.answer(job))


async def _body(request: Request) -> bytes | None:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def description(request: Request) -> Response:
    """GET /sparql without a query: an HTML page for people, a Turtle service description for programs."""
    site: Site = request.app.state.site
    offers = {"turtle": formats.GRAPH_FORMATS["turtle"],
              "html": ("text/html", ("text/html", "application/xhtml+xml"))}
    try:
        key = formats.choose(offers, request.headers.get("accept"), None, "description")
    except formats.NotAcceptable:
        key = "turtle"
    if key == "html":
        return site.render(request, "sparql.html", {"limits": site.limits, "triples": site.statistics["triples"]})
    return void(request)


def void(request: Request) -> Response:
    """The VoID description of the dataset with the SPARQL service description, in Turtle."""
    site: Site = request.app.state.site
    return Response(service_description(str(request.base_url), site),
                    media_type=formats.GRAPH_FORMATS["turtle"][0])


def service_description(base: str, site: Site) -> bytes:
    """SPARQL 1.1 Service Description + VoID for the server at ``base`` (e.g. http://127.0.0.1:8000/)."""
    from kg.rdf import new_graph
    from kg.vocab import PREFIXES

    graph = new_graph()
    graph.bind("sd", SD)
    graph.bind("void", VOID)
    graph.bind("formats", FORMATS)
    endpoint, dataset, default = URIRef(base + "sparql"), URIRef(base + "void#dataset"), URIRef(base + "void#graph")
    graph.add((endpoint, RDF.type, SD.Service))
    graph.add((endpoint, SD.endpoint, endpoint))
    graph.add((endpoint, SD.supportedLanguage, SD.SPARQL11Query))
    for name in RESULT_FORMATS:
        graph.add((endpoint, SD.resultFormat, FORMATS[name]))
    graph.add((endpoint, SD.defaultDataset, dataset))
    graph.add((dataset, RDF.type, SD.Dataset))
    graph.add((dataset, RDF.type, VOID.Dataset))
    graph.add((dataset, SD.defaultGraph, default))
    graph.add((default, RDF.type, SD.Graph))
    graph.add((dataset, DCTERMS.title, Literal("つながり：孤独・孤立対策NPO等モデル事業の知識グラフ", lang="ja")))
    graph.add((dataset, DCTERMS.title, Literal("tsunagari: knowledge graph of model projects against loneliness "
                                               "and isolation in Japan", lang="en")))
    graph.add((dataset, VOID.sparqlEndpoint, endpoint))
    for dump in ("dump.ttl", "dump.nt"):
        graph.add((dataset, VOID.dataDump, URIRef(base + dump)))
    graph.add((dataset, VOID.uriSpace, Literal("https://w3id.org/tsunagari/")))
    for name in ("tg", "schema", "org", "skos", "dcterms", "prov"):
        graph.add((dataset, VOID.vocabulary, URIRef(str(PREFIXES[name]))))
    graph.add((dataset, VOID.feature, FORMATS["Turtle"]))
    graph.add((dataset, VOID.feature, FORMATS["N-Triples"]))
    for key, value in site.statistics.items():
        count = Literal(value, datatype=XSD.integer)
        graph.add((dataset, VOID[key], count))
        graph.add((default, VOID[key], count))
    graph.add((dataset, DCTERMS.source, URIRef(base + "ontology.ttl")))
    return graph.serialize(format="turtle", encoding="utf-8")


async def ontology(request: Request) -> Response:
    from importlib import resources

    data = resources.files("kg").joinpath("data/ontology.ttl").read_bytes()
    return Response(data, media_type=formats.GRAPH_FORMATS["turtle"][0])


async def dump_turtle(request: Request) -> Response:
    """The whole graph in Turtle (written by Oxigraph once, then sent from a file)."""
    site: Site = request.app.state.site
    path = await run_in_threadpool(site.dump_turtle)
    return FileResponse(path, media_type=formats.GRAPH_FORMATS["turtle"][0],
                        headers={"Content-Disposition": 'inline; filename="tsunagari.ttl"'})


async def dump_ntriples(request: Request) -> Response:
    """The whole graph in N-Triples: the store's sorted ``graph.nt``, streamed as it is."""
    site: Site = request.app.state.site
    return FileResponse(site.kg.generation.graph_file(), media_type=formats.GRAPH_FORMATS["nt"][0],
                        headers={"Content-Disposition": 'inline; filename="tsunagari.nt"'})
