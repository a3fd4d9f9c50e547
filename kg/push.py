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

**Only its own graphs.** A push drops only graphs that it names itself under its own ``graph_base``
(``{base}/graph/`` followed by a source's 16 hex digits, ``shared``, ``schema``, ``catalog`` or a temporary
``push-…`` name); any other graph the catalog lists is left alone and reported in ``PushReport.ignored``.
Every IRI is checked (``kg.graphstore.iri_ref``) before it is written into the update.

The HTTP side (credentials, redaction of secrets in messages, redirects) is in ``kg.graphstore``.
"""
from __future__ import annotations

import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS, VOID
from rdflib.term import Node

from kg.graphstore import IRI, GraphStore, PushError, guess_update_endpoint, iri_ref, redact
from kg.vocab import BASE, SCHEMA, TG

if TYPE_CHECKING:  # pragma: no cover
    from kg.shapes import OpenStore

DEFAULT_GRAPH_BASE = BASE.rstrip("/")
# The graph names a push gives under {base}/graph/: the only graphs it ever drops.
OWN_GRAPH = re.compile(r"[0-9a-f]{16}|shared|schema|catalog|push-[0-9a-f]{12}/[0-9]+")
SCHEMA_PREFIXES = (BASE + "concept/", str(TG), BASE + "ontology")
ROLES = {"source": "projects of one source file, and what only they reach",
         "shared": "organisations, places and programmes of several sources or of none",
         "schema": "the ontology and the concept schemes", "catalog": "the graphs of the last push"}


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
    """What a push wrote: the graphs (with triple counts), the stale graphs it dropped, the graphs the
    catalog listed that are not its own (left alone), how long it took. ``endpoint`` has no credentials."""

    endpoint: str
    graphs: list[NamedGraph]
    dropped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    ignored: list[str] = field(default_factory=list)

    @property
    def triples(self) -> int:
        return sum(g.triples for g in self.graphs)


def partition(kg: "OpenStore", graph_base: str = DEFAULT_GRAPH_BASE) -> list[NamedGraph]:
    """Split the store's graph into the named graphs of a push (see the module docstring), catalog last.

    >>> [(g.role, g.triples) for g in partition(kg)]          # doctest: +SKIP
    [('schema', 1420), ('shared', 117), ('source', 6240), ('catalog', 16)]
    """
    base = graph_base.rstrip("/")
    graph = kg.graph
    sources: dict[Any, str] = {URIRef(str(s)): str(graph.value(s, TG.sha256))
                               for s in graph.subjects(RDF.type, PROV.Entity)}
    owners = _owners(graph, set(sources))
    parts: dict[str, Graph] = {}
    roles: dict[str, tuple[str, str | None]] = {}

    def target(role: str, source: Node | None = None) -> Graph:
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


def _owners(graph: Graph, sources: set[Node]) -> dict[Node, set[Node]]:
    """For each node, the sources whose projects reach it (see the module docstring)."""
    projects: set[Any] = set(graph.subjects(RDF.type, SCHEMA.Project))
    owners: dict[Node, set[Node]] = {s: {s} for s in sources}
    by_prefix: dict[str, Node] = {}
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
def push(kg: "OpenStore", endpoint: str, *, graph_base: str = DEFAULT_GRAPH_BASE, update_endpoint: str | None = None,
         timeout: float = 30.0, auth: tuple[str, str] | None = None) -> PushReport:
    """Replace the store's named graphs in a triple store, all or none (see the module docstring).

    >>> push(kg, "http://127.0.0.1:7878/store").triples       # Oxigraph: `oxigraph serve`   # doctest: +SKIP

    Args:
        kg: an open store.
        endpoint: the Graph Store Protocol endpoint, e.g. http://127.0.0.1:7878/store (Oxigraph),
            http://localhost:3030/ds/data (Fuseki); ``http://user:password@host/…`` sends basic auth.
        graph_base: the graphs are named ``{graph_base}/graph/...``.
        update_endpoint: the SPARQL Update endpoint; by default guessed from ``endpoint``
            (``…/store`` → ``…/update``, ``…/data`` → ``…/update``, ``…/rdf-graphs/service`` → ``…/statements``).
        timeout: seconds to wait for each request.
        auth: (user, password) for HTTP basic auth, sent to both endpoints (instead of any in the URLs).
    Returns:
        A PushReport. Raises PushError, which says whether anything changed, when a request fails;
        no message holds a password or a ``?token=``-like value.
    """
    start = time.perf_counter()
    if not IRI.fullmatch(graph_base):
        raise PushError(f"graph base {graph_base!r} is not an absolute http(s) IRI without spaces or <>\"{{}}|\\^`")
    base = graph_base.rstrip("/")
    store = GraphStore(endpoint, update_endpoint or guess_update_endpoint(endpoint), timeout, auth)
    graphs = [g for g in partition(kg, graph_base) if g.triples]
    token = uuid.uuid4().hex[:12]
    uploaded: list[str] = []
    unsure: list[str] = []          # a temporary graph whose PUT got no answer: the server may still write it
    switching = False
    try:
        previous = store.catalog(next(g.iri for g in graphs if g.role == "catalog"))
        ours = [iri for iri in previous if iri.startswith(f"{base}/graph/")
                and OWN_GRAPH.fullmatch(iri[len(base) + 7:])]
        stale = sorted(set(ours) - {g.iri for g in graphs})
        operations = [f"DROP SILENT GRAPH {iri_ref(iri)}" for iri in stale]
        for number, part in enumerate(graphs):
            temporary = f"{base}/graph/push-{token}/{number}"
            try:
                store.put(temporary, part.graph.serialize(format="nt", encoding="utf-8"), name=part.iri)
            except PushError as error:
                if error.unanswered:
                    unsure.append(temporary)
                raise
            uploaded.append(temporary)
        operations = [f"MOVE {iri_ref(t)} TO {iri_ref(g.iri)}" for t, g in zip(uploaded, graphs)] + operations
        switching = True
        store.update(" ;\n".join(operations))
    except PushError as error:
        if switching and error.unanswered:
            raise PushError(f"{error} — the server may or may not have applied the switch: query "
                            f"<{base}/graph/catalog> or push again") from None
        raise PushError(f"{error} — {cleanup(store, uploaded, unsure)}") from None
    return PushReport(store.redact(endpoint), graphs, stale, time.perf_counter() - start,
                      sorted(set(previous) - set(ours)))


def cleanup(store: GraphStore, uploaded: list[str], unsure: list[str]) -> str:
    """Delete the temporary graphs of a failed push; say what is known about the triple store afterwards."""
    left = store.delete_quietly(uploaded + unsure)
    if not left and not unsure:
        return "nothing was changed in the triple store"
    said = "the live graphs were not changed"
    if left:
        said += " (temporary graphs left behind: " + ", ".join(left) + " — delete them when the server answers)"
    late = [iri for iri in unsure if iri not in left]
    if late:
        said += ("; the upload to " + ", ".join(late) + " got no answer and the server may still write it: "
                 "if that graph appears, delete it")
    return said


__all__ = ["push", "partition", "PushReport", "NamedGraph", "PushError", "DEFAULT_GRAPH_BASE", "guess_update_endpoint",
           "redact"]
