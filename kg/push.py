"""Push the store's graph to a triple store over the SPARQL 1.1 Graph Store Protocol: every graph, or none.

    >>> from kg import Tsunagari
    >>> from kg.push import push
    >>> report = push(Tsunagari.open("tsunagari-store"), "http://127.0.0.1:7878/store")   # doctest: +SKIP
    >>> [(g.iri, g.triples) for g in report.graphs]                                      # doctest: +SKIP

**Named graphs.** The triples are split by subject, so every triple lands in exactly one graph:

- ``{base}/graph/{sha16}``, one per source file (the first 16 hex digits of its SHA-256, as in
  ``kg.vocab.source_iri``): its projects with their tag assignments and similarity links, the source
  itself, and the organisations, places and programmes that only this source's projects reach;
- ``{base}/graph/shared``: organisations, places and programmes reached by the projects of several
  sources, or by none (the 47 prefectures and 8 blocks are always in the graph);
- ``{base}/graph/schema``: the ontology (``kg/data/ontology.ttl``) and the concept schemes (target groups,
  themes, legal forms);
- ``{base}/graph/catalog``: which graphs this push wrote and their triple counts (VoID), so that the next
  push can remove a graph whose source is no longer in the store.

A project belongs to the source it was derived from (``prov:wasDerivedFrom``); a node "reached" by a
project is one its object properties lead to, transitively (``schema:areaServed`` then
``schema:containedInPlace`` up to the block, ``tg:implementedBy``, ``dcterms:isPartOf``), stopping at
concepts and other projects.

**All or nothing.** Each graph is first uploaded with ``PUT`` to a temporary graph
(``{base}/graph/push-{token}/{n}``); only when every upload succeeded does one SPARQL Update request
``MOVE`` each temporary graph onto its real name (``MOVE`` replaces the target, so pushing again is
idempotent) and ``DROP`` stale graphs. SPARQL 1.1 Update asks a service to apply one request atomically
(Oxigraph, Fuseki and RDF4J do), so readers see the old graphs or the new ones, never a mix. If an
upload fails, or the server goes away, the live graphs have not been touched: the temporary graphs are
deleted (as far as the server still answers) and ``PushError`` says what failed. We chose this over
"GET the old graph, PUT the new one, PUT the old one back on failure" because a server that dies midway
could not be rolled back that way.

HTTP goes through ``urllib`` from the standard library: the protocol needs four verbs and two content
types, and the package gains no dependency for them.
"""
from __future__ import annotations

import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import deque
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS, VOID

from kg.errors import KgError
from kg.vocab import BASE, SCHEMA, TG

if TYPE_CHECKING:  # pragma: no cover
    from kg.api import Tsunagari

DEFAULT_GRAPH_BASE = BASE.rstrip("/")
NTRIPLES = "application/n-triples"
# Where the SPARQL Update service lives, from the Graph Store endpoint of common servers.
UPDATE_ENDPOINTS = {"store": "update", "data": "update", "rdf-graphs/service": "statements"}
SCHEMA_PREFIXES = (BASE + "concept/", str(TG), BASE + "ontology")
ROLES = {"source": "projects of one source file, and what only they reach",
         "shared": "organisations, places and programmes of several sources or of none",
         "schema": "the ontology and the concept schemes", "catalog": "the graphs of the last push"}


class PushError(KgError):
    """The triple store could not be reached or refused a request; says what was (not) changed."""

    unanswered = False      # True when a request was sent but no answer came (timeout): its effect is unknown


@dataclass(frozen=True)
class NamedGraph:
    """One graph of the push: its IRI, what it holds (``role``: source, shared, schema, catalog) and the triples."""

    iri: str
    role: str
    graph: Graph
    source: str | None = None        # the source file's name, for role "source"

    @property
    def triples(self) -> int:
        return len(self.graph)


@dataclass
class PushReport:
    """What a push wrote: the graphs (with triple counts), the stale graphs it dropped, how long it took."""

    endpoint: str
    graphs: list[NamedGraph]
    dropped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def triples(self) -> int:
        return sum(g.triples for g in self.graphs)


def partition(kg: "Tsunagari", graph_base: str = DEFAULT_GRAPH_BASE) -> list[NamedGraph]:
    """Split the store's graph into the named graphs of a push (see the module docstring), catalog last.

    >>> [(g.role, g.triples) for g in partition(kg)]          # doctest: +SKIP
    [('schema', 1420), ('shared', 117), ('source', 6240), ('catalog', 16)]
    """
    base = graph_base.rstrip("/")
    graph = kg.graph
    sources = {URIRef(s): str(graph.value(s, TG.sha256)) for s in graph.subjects(RDF.type, PROV.Entity)}
    owners = _owners(graph, set(sources))
    parts: dict[str, Graph] = {}
    roles: dict[str, tuple[str, str | None]] = {}

    def target(role: str, source: URIRef | None = None) -> Graph:
        iri = f"{base}/graph/{sources[source][:16]}" if source is not None else f"{base}/graph/{role}"
        if iri not in parts:
            parts[iri] = Graph()
            roles[iri] = (role, str(graph.value(source, SCHEMA.name)) if source is not None else None)
        return parts[iri]

    target("schema"), target("shared")
    for source in sorted(sources):
        target("source", source)
    for triple in graph:
        subject = triple[0]
        if _is_schema(subject):
            target("schema").add(triple)
        elif len(owners.get(subject, ())) == 1:
            target("source", next(iter(owners[subject]))).add(triple)
        else:
            target("shared").add(triple)
    target("schema").parse(data=resources.files("kg").joinpath("data/ontology.ttl").read_text(encoding="utf-8"),
                           format="turtle")
    named = [NamedGraph(iri, roles[iri][0], parts[iri], roles[iri][1]) for iri in parts]
    return named + [_catalog(base, named, sources, graph)]


def _is_schema(node) -> bool:
    return isinstance(node, URIRef) and str(node).startswith(SCHEMA_PREFIXES)


def _owners(graph: Graph, sources: set[URIRef]) -> dict[URIRef, set[URIRef]]:
    """For each node, the sources whose projects reach it (see the module docstring)."""
    projects = set(graph.subjects(RDF.type, SCHEMA.Project))
    owners: dict[URIRef, set[URIRef]] = {s: {s} for s in sources}
    by_prefix = {}
    for project in sorted(projects):
        source = graph.value(project, PROV.wasDerivedFrom)
        if source is None:
            continue
        by_prefix[str(project) + "/"] = source
        queue, seen = deque([project]), {project}
        while queue:
            node = queue.popleft()
            owners.setdefault(node, set()).add(source)
            for predicate, value in graph.predicate_objects(node):
                if (predicate != RDF.type and isinstance(value, URIRef) and value not in seen and value not in projects
                        and value not in sources and not _is_schema(value)):
                    seen.add(value)
                    queue.append(value)
    for node in set(graph.subjects()):       # tag assignments, similarity links: named below their project
        text = str(node)
        cut = text.find("/", len(BASE + "project/"))
        if text.startswith(BASE + "project/") and cut > 0 and text[: cut + 1] in by_prefix:
            owners.setdefault(node, set()).add(by_prefix[text[: cut + 1]])
    return owners


def _catalog(base: str, named: list[NamedGraph], sources: dict[URIRef, str], graph: Graph) -> NamedGraph:
    catalog = Graph()
    node = URIRef(f"{base}/graph/catalog")
    catalog.add((node, RDF.type, VOID.Dataset))
    catalog.add((node, RDFS.label, Literal("tsunagari: named graphs of the last push", lang="en")))
    by_sha = {sha[:16]: source for source, sha in sources.items()}
    for part in named:
        iri = URIRef(part.iri)
        catalog.add((node, DCTERMS.hasPart, iri))
        catalog.add((iri, RDF.type, VOID.Dataset))
        catalog.add((iri, VOID.triples, Literal(part.triples)))
        catalog.add((iri, DCTERMS.description, Literal(ROLES[part.role], lang="en")))
        if part.role == "source":
            source = by_sha[part.iri.rsplit("/", 1)[1]]
            catalog.add((iri, DCTERMS.source, source))
            catalog.add((iri, RDFS.label, Literal(str(graph.value(source, SCHEMA.name)))))
    return NamedGraph(str(node), "catalog", catalog)


# -- the protocol ----------------------------------------------------------------------------------------------
def push(kg: "Tsunagari", endpoint: str, *, graph_base: str = DEFAULT_GRAPH_BASE, update_endpoint: str | None = None,
         timeout: float = 30.0) -> PushReport:
    """Replace the store's named graphs in a triple store, all or none (see the module docstring).

    >>> push(kg, "http://127.0.0.1:7878/store").triples       # Oxigraph: `oxigraph serve`   # doctest: +SKIP

    Args:
        kg: an open store.
        endpoint: the Graph Store Protocol endpoint, e.g. http://127.0.0.1:7878/store (Oxigraph),
            http://localhost:3030/ds/data (Fuseki).
        graph_base: the graphs are named ``{graph_base}/graph/...``.
        update_endpoint: the SPARQL Update endpoint; by default guessed from ``endpoint``
            (``…/store`` → ``…/update``, ``…/data`` → ``…/update``, ``…/rdf-graphs/service`` → ``…/statements``).
        timeout: seconds to wait for each request.
    Returns:
        A PushReport. Raises PushError (nothing changed in the triple store) when a request fails.
    """
    start = time.perf_counter()
    if not re.fullmatch(r"https?://[^\s<>\"{}|\\^`]+", graph_base):
        raise PushError(f"graph base {graph_base!r} is not an absolute http(s) IRI without spaces or <>\"{{}}|\\^`")
    store = GraphStore(endpoint, update_endpoint or guess_update_endpoint(endpoint), timeout)
    graphs = [g for g in partition(kg, graph_base) if g.triples]
    token = uuid.uuid4().hex[:12]
    uploaded: list[str] = []
    switching = False
    try:
        previous = store.catalog(next(g.iri for g in graphs if g.role == "catalog"))
        for number, part in enumerate(graphs):
            temporary = f"{graph_base.rstrip('/')}/graph/push-{token}/{number}"
            store.put(temporary, part.graph.serialize(format="nt", encoding="utf-8"), name=part.iri)
            uploaded.append(temporary)
        stale = sorted(set(previous) - {g.iri for g in graphs})
        operations = [f"MOVE <{t}> TO <{g.iri}>" for t, g in zip(uploaded, graphs)]
        switching = True
        store.update(" ;\n".join(operations + [f"DROP SILENT GRAPH <{iri}>" for iri in stale]))
    except PushError as error:
        if switching and error.unanswered:
            raise PushError(f"{error} — the server may or may not have applied the switch: query "
                            f"<{graph_base.rstrip('/')}/graph/catalog> or push again") from None
        left = store.delete_quietly(uploaded)
        note = " (temporary graphs left behind: " + ", ".join(left) + ")" if left else ""
        raise PushError(f"{error} — nothing was changed in the triple store{note}") from None
    return PushReport(endpoint, graphs, stale, time.perf_counter() - start)


def guess_update_endpoint(endpoint: str) -> str:
    """The SPARQL Update endpoint beside a Graph Store endpoint of Oxigraph, Fuseki or RDF4J/GraphDB."""
    parts = urllib.parse.urlsplit(endpoint)
    path = parts.path.rstrip("/")
    for store_path, update_path in UPDATE_ENDPOINTS.items():
        if path.endswith("/" + store_path):
            new = path[: -len(store_path)] + update_path
            return urllib.parse.urlunsplit((parts.scheme, parts.netloc, new, "", ""))
    raise PushError(f"cannot tell the SPARQL Update endpoint of {endpoint} — give it "
                    "(--update-endpoint, or update_endpoint= in Python)")


class GraphStore:
    """The few requests a push makes: GET and PUT a graph (indirect identification, ``?graph=``),
    DELETE it, POST a SPARQL Update. Errors become PushError with the URL, the status and the server's words."""

    def __init__(self, endpoint: str, update_endpoint: str, timeout: float) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise PushError(f"{endpoint!r} is not an http(s) URL — give the Graph Store endpoint, "
                            "e.g. http://127.0.0.1:7878/store")
        self.endpoint, self.update_endpoint, self.timeout = endpoint, update_endpoint, timeout

    def url(self, graph: str) -> str:
        joiner = "&" if "?" in self.endpoint else "?"
        return f"{self.endpoint}{joiner}{urllib.parse.urlencode({'graph': graph})}"

    def catalog(self, iri: str) -> list[str]:
        """Graphs the previous push wrote, from its catalog graph (none if there is no catalog)."""
        status, body = request("GET", self.url(iri), headers={"Accept": NTRIPLES}, timeout=self.timeout,
                               allow=(404,))
        if status == 404:
            return []
        try:
            graph = Graph().parse(data=body.decode("utf-8"), format="nt")
        except Exception as error:       # rdflib's parsers raise assorted types
            raise PushError(f"the catalog graph <{iri}> is not N-Triples as asked ({error})") from None
        return sorted(str(o) for o in graph.objects(URIRef(iri), DCTERMS.hasPart))

    def put(self, graph: str, data: bytes, *, name: str) -> None:
        request("PUT", self.url(graph), data=data, headers={"Content-Type": NTRIPLES}, timeout=self.timeout,
                what=f"uploading <{name}>")

    def update(self, text: str) -> None:
        request("POST", self.update_endpoint, data=text.encode("utf-8"),
                headers={"Content-Type": "application/sparql-update"}, timeout=self.timeout,
                what="replacing the graphs (SPARQL Update MOVE)")

    def delete_quietly(self, graphs: list[str]) -> list[str]:
        """Delete graphs, best effort; returns those that could not be deleted."""
        left = []
        for graph in graphs:
            try:
                request("DELETE", self.url(graph), timeout=self.timeout, allow=(404,))
            except PushError:
                left.append(graph)
        return left


def request(method: str, url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None,
            timeout: float = 30.0, allow: tuple[int, ...] = (), what: str = "") -> tuple[int, bytes]:
    """One HTTP request; a 2xx (or an ``allow``-ed status) returns (status, body), anything else raises PushError."""
    doing = f"{what}: " if what else ""
    call = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(call, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        if error.code in allow:
            return error.code, b""
        said = error.read().decode("utf-8", "replace").strip()[:300]
        raise PushError(f"{doing}{method} {url} answered HTTP {error.code} {error.reason}"
                        + (f": {said}" if said else "")) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError):
            failure = PushError(f"{doing}{method} {url}: no answer within {timeout:g} s")
            failure.unanswered = True
            raise failure from None
        raise PushError(f"{doing}cannot reach {url}: {reason} — is the triple store running at this address?"
                        ) from None


__all__ = ["push", "partition", "PushReport", "NamedGraph", "PushError", "DEFAULT_GRAPH_BASE"]
