"""Run compiled checks on an Oxigraph store and turn their rows into sorted Violations."""
from __future__ import annotations

import time
from typing import Callable, NamedTuple

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDFS, SH, NamespaceManager

from kg.engines import to_rdflib
from kg.errors import ValidationError
from kg.validate.compiler import Check
from kg.validate.messages import Row, Terms, short, with_sh
from kg.vocab import PREFIXES


class Violation(NamedTuple):
    """One SHACL result: the node that fails, the property path (or ""), and what is wrong."""

    focus: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.focus} {self.path}: {self.message}" if self.path else f"{self.focus}: {self.message}"


def subclasses(store) -> dict[URIRef, set[URIRef]]:
    """Each class of the data that has subclasses (``rdfs:subClassOf+``), with them."""
    found: dict[URIRef, set[URIRef]] = {}
    query = f"SELECT ?sub ?sup WHERE {{ ?sub <{RDFS.subClassOf}>+ ?sup FILTER (isIRI(?sub) && isIRI(?sup)) }}"
    for solution in store.query(query):
        found.setdefault(URIRef(solution["sup"].value), set()).add(URIRef(solution["sub"].value))
    return found


class StoreSizes:
    """Counts in a store that choose each compiled query's join order (cached; each reads an index range)."""

    def __init__(self, store) -> None:
        self.store = store
        self.counts: dict[tuple, bool] = {}

    def at_most(self, classes: list[URIRef], n: int) -> bool:
        key = (tuple(classes), n)
        if key not in self.counts:
            union = " UNION ".join(f"{{ ?s a <{cls}> }}" for cls in classes)
            query = f"SELECT (COUNT(*) AS ?n) WHERE {{ SELECT ?s WHERE {{ {union} }} LIMIT {n + 1} }}"
            self.counts[key] = int(next(iter(self.store.query(query)))["n"].value) <= n
        return self.counts[key]


def run_checks(store, checks: list[Check], data: Terms,
               timing: Callable[[Check, float, int], None] | None = None) -> tuple[list[Violation], list[Violation]]:
    """Every check's rows as (violations, warnings), each sorted and without repeats.

    ``timing``, if given, is called after each check with (check, seconds, rows): for benchmarks.
    """
    found: dict[URIRef, set[Violation]] = {SH.Violation: set(), SH.Warning: set()}
    for check in checks:
        start, rows = time.perf_counter(), 0
        try:
            results = store.query(check.query)
            names = [variable.value for variable in results.variables]
            for solution in results:
                rows += 1
                bindings = {name: to_rdflib(solution[name]) for name in names if solution[name] is not None}
                found[check.severity].add(violation(check, bindings, data))
        except (SyntaxError, OSError, ValueError, TypeError) as error:
            raise ValidationError(f"{check.source}: its compiled SPARQL query failed ({error}); "
                                  f"the query was:\n{check.query}") from None
        if timing is not None:
            timing(check, time.perf_counter() - start, rows)
    return sorted(found[SH.Violation]), sorted(found[SH.Warning])


def violation(check: Check, bindings: dict, data: Terms) -> Violation:
    focus = bindings.get("this")
    value = {"value": bindings.get("value"), "focus": focus, "value-or-focus": bindings.get("value", focus),
             "none": None}[check.value]
    path = check.path
    if "path" in bindings:
        path = short(bindings["path"]) if isinstance(bindings["path"], URIRef) else "(complex path)"
    text = check.message(Row(focus, value, bindings, data))
    if value is not None and short(value) not in text:
        text += f" (value: {short(value)})"
    return Violation(short(focus), path, text)


def store_terms(store, namespaces: NamespaceManager | None = None) -> Terms:
    """How messages write the store's terms: tsunagari's prefixes (or ``namespaces``), its blank nodes."""
    import pyoxigraph as ox

    def triples(node: BNode):
        return [(to_rdflib(q.predicate), to_rdflib(q.object))
                for q in store.quads_for_pattern(ox.BlankNode(str(node)), None, None)]

    return Terms(with_sh(namespaces or tsunagari_namespaces()), triples)


def tsunagari_namespaces() -> NamespaceManager:
    """rdflib's default prefixes plus tsunagari's (as ``kg.rdf.new_graph`` binds them)."""
    graph = Graph()
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace, override=True)
    return graph.namespace_manager


def oxigraph_of(graph: Graph):
    """An in-memory Oxigraph store holding ``graph``'s triples (blank nodes keep their ids)."""
    import pyoxigraph as ox

    def term(node):
        if isinstance(node, URIRef):
            return ox.NamedNode(str(node))
        if isinstance(node, BNode):
            return ox.BlankNode(str(node))
        if isinstance(node, Literal):
            if node.language:
                return ox.Literal(str(node), language=node.language)
            if node.datatype is not None:
                return ox.Literal(str(node), datatype=ox.NamedNode(str(node.datatype)))
            return ox.Literal(str(node))
        raise TypeError(f"{node!r} is not an RDF term")

    store = ox.Store()
    quads = []
    for triple in graph.triples((None, None, None)):
        try:
            quads.append(ox.Quad(*(term(node) for node in triple)))
        except (TypeError, ValueError) as error:
            raise ValidationError(f"cannot check the triple {' '.join(n.n3() for n in triple)}: {error}") from None
    store.extend(quads)
    return store
