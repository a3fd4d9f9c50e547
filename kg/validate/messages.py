"""How a SHACL result is worded: the shape's sh:message, or the message pyshacl gives by default.

The default messages are pyshacl's own wording (pyshacl is the reference the tests compare with), so
a result reads the same whichever engine found it. Terms are written as pyshacl writes them:
prefixed names, ``Literal("2024", datatype=xsd:integer)``, blank nodes as ``[ p o ; ... ]``.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable, NamedTuple

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, SH, NamespaceManager
from rdflib.term import Node

from kg.vocab import PREFIXES

Triples = Callable[[BNode], Iterable[tuple[Node, Node]]]    # (predicate, object) pairs of a blank node
DEEPEST = 12                                                 # pyshacl stops writing nested blank nodes here


class Terms:
    """Writes terms of one graph the way pyshacl's messages do (its prefixes, its blank nodes)."""

    def __init__(self, namespaces: NamespaceManager, triples: Triples) -> None:
        self.namespaces = namespaces
        self.triples = triples

    @classmethod
    def of_graph(cls, graph: Graph) -> "Terms":
        """Terms of an rdflib graph (the shapes graph), with its prefixes and ``sh:``."""
        return cls(with_sh(graph.namespace_manager), lambda node: graph.predicate_objects(node))

    def show(self, term: Node | None, depth: int = 0) -> str:
        if isinstance(term, Literal):
            return self._literal(term)
        if isinstance(term, BNode):
            return self._blank(term, depth + 1)
        if isinstance(term, URIRef):
            try:
                return term.n3(namespace_manager=self.namespaces)
            except Exception:        # noqa: BLE001 - an IRI rdflib cannot abbreviate is written whole
                return str(term)
        return str(term)

    def _literal(self, term: Literal) -> str:
        value = None if term.value is None else str(term.value)
        if value is not None and " object at 0x" in value:
            value = value[:value.find(" object at 0x")]
        text = f'"{term}" = {value}' if value is not None and value != str(term) else f'"{term}"'
        if term.language:
            text += f", lang={term.language}"
        if term.datatype:
            text += f", datatype={self.show(term.datatype)}"
        return f"Literal({text})"

    def _blank(self, node: BNode, depth: int) -> str:
        if depth >= DEEPEST:
            return "<http://recursion.too.deep>"
        pairs = list(self.triples(node))
        if not pairs:
            return "[ ]"
        if any(p == RDF.first for p, _ in pairs):
            return "( " + " ".join(self.show(item, depth + 1) for item in self.items(node)) + " )"
        objects: dict[str, list[str]] = {}
        for predicate, value in pairs:
            text = "<self>" if predicate == OWL.sameAs and value == node else self.show(value, depth + 1)
            objects.setdefault(predicate.n3(namespace_manager=self.namespaces), []).append(text)
        parts = [f"{p} {', '.join(sorted(texts))}" for p, texts in sorted(objects.items())]
        return "[ " + " ; ".join(parts) + " ]"

    def items(self, node: Node) -> list[Node]:
        """The members of an RDF list."""
        items, seen = [], set()
        while isinstance(node, BNode) and node not in seen:
            seen.add(node)
            pairs = list(self.triples(node))
            items += [o for p, o in pairs if p == RDF.first]
            node = next((o for p, o in pairs if p == RDF.rest), RDF.nil)
        return items


def with_sh(namespaces: NamespaceManager) -> NamespaceManager:
    """A copy of ``namespaces`` with ``sh:`` bound unless taken (pyshacl binds it before writing)."""
    copy = NamespaceManager(Graph(bind_namespaces="none"), bind_namespaces="none")
    for prefix, namespace in namespaces.namespaces():
        copy.bind(prefix, namespace, override=True, replace=True)
    copy.bind("sh", SH, override=False, replace=False)
    return copy


class Row(NamedTuple):
    """One result as a message sees it: the focus node, the value node and every projected variable."""

    focus: Node | None
    value: Node | None
    bindings: dict[str, Node]
    data: Terms


Message = Callable[[Row], str]


def fixed(text: str) -> Message:
    """An sh:message of a core constraint: used as it is."""
    return lambda row: text


def template(text: str) -> Message:
    """An sh:message of a SPARQL constraint: ``{?var}`` / ``{$var}`` become the row's values."""
    def fill(row: Row) -> str:
        values: dict[str, Node | None] = {name: term for name, term in row.bindings.items()
                                          if name not in ("this", "path", "value")}
        values["this"] = row.focus
        if row.bindings.get("path") is not None:
            values["path"] = row.bindings["path"]
        if row.value is not None:
            values["value"] = row.value
        message = text
        for name, term in values.items():
            message = re.sub("{[?$]" + name + "}", str(term), message)
        return message
    return fill


def default(component: URIRef, shapes: Terms, parameters: dict[Node, list[Node]], path: Node | None) -> Message:
    """pyshacl's default message for ``component`` with these parameter values (sh:class, sh:minCount…)."""
    first: dict[Node, Any] = {name: values[0] for name, values in parameters.items() if values}
    shown_path = shapes.show(path) if path is not None else None

    def on(row: Row) -> str:         # "<focus>-><path>", or "<focus>" on a node shape
        focus = row.data.show(row.focus)
        return f"{focus}->{shown_path}" if shown_path is not None else focus

    words: dict[URIRef, Message] = {
        SH.MinCountConstraintComponent: lambda row: f"Less than {first[SH.minCount].value} values on {on(row)}",
        SH.MaxCountConstraintComponent: lambda row: f"More than {first[SH.maxCount].value} values on {on(row)}",
        SH.ClassConstraintComponent: fixed(f"Value does not have class {shapes.show(first.get(SH['class']))}"),
        SH.DatatypeConstraintComponent: fixed(f"Value is not Literal with datatype {shapes.show(first.get(SH.datatype))}"),
        SH.NodeKindConstraintComponent: fixed(f"Value is not of Node Kind {shapes.show(first.get(SH.nodeKind))}"),
        SH.MinInclusiveConstraintComponent: fixed(f"Value is not >= {shapes.show(first.get(SH.minInclusive))}"),
        SH.MaxInclusiveConstraintComponent: fixed(f"Value is not <= {shapes.show(first.get(SH.maxInclusive))}"),
        SH.MinExclusiveConstraintComponent: fixed(f"Value is not > {shapes.show(first.get(SH.minExclusive))}"),
        SH.MaxExclusiveConstraintComponent: fixed(f"Value is not < {shapes.show(first.get(SH.maxExclusive))}"),
        SH.PatternConstraintComponent: fixed(f"Value does not match pattern '{first.get(SH.pattern)}'"),
        SH.LanguageInConstraintComponent: fixed(f"String language is not in {shapes.show(first.get(SH.languageIn))}"),
        SH.UniqueLangConstraintComponent: fixed("More than one String shares the same Language"),
        SH.NodeConstraintComponent: fixed(f"Value does not conform to Shape {shapes.show(first.get(SH.node))}. "
                                          "See details for more information."),
        SH.SPARQLConstraintComponent: fixed(f"fails <{SH.SPARQLConstraintComponent}>"),
    }
    if component == SH.InConstraintComponent:
        allowed = [shapes.show(item) for item in shapes.items(first[SH["in"]])]
        return lambda row: f"Value {row.data.show(row.value)} not in list {allowed}"
    if component == SH.HasValueConstraintComponent:
        wanted = [shapes.show(value) for value in parameters[SH.hasValue]]
        if shown_path is not None:
            return lambda row: f"Node {on(row)} does not contain a value in the set: {wanted}"
        return lambda row: f"Node {on(row)} value is not a in the set of values: {wanted}"
    if component == SH.OrConstraintComponent:
        members = " , ".join(shapes.show(member) for member in shapes.items(first[SH["or"]]))
        return lambda row: f"Node {row.data.show(row.value)} must conform to one or more shapes in {members}"
    if component in (SH.QualifiedMinCountConstraintComponent, SH.QualifiedMaxCountConstraintComponent):
        counts = "".join(f" {word} {first[name].value}" for word, name in
                         (("MinCount", SH.qualifiedMinCount), ("MaxCount", SH.qualifiedMaxCount)) if name in first)
        return fixed(f"Focus node does not conform to shape{counts}: {shapes.show(first[SH.qualifiedValueShape])}")
    return words[component]


# ---- how a Violation names nodes (tsunagari's prefixes, whatever graph the result came from) ----------


def short(term: Node | None) -> str:
    """Prefixed name for IRIs of known namespaces, _:id for blank nodes, the lexical form for literals
    (language tags in lower case, as Oxigraph stores them)."""
    if term is None:
        return ""
    if isinstance(term, BNode):
        return f"_:{term}"
    if isinstance(term, Literal):
        return f'"{term}"' + (f"@{term.language.lower()}" if term.language else "")   # tags ignore case
    if isinstance(term, URIRef):
        text = str(term)
        for prefix, namespace in sorted(PREFIXES.items(), key=lambda item: -len(str(item[1]))):
            if text.startswith(str(namespace)) and len(text) > len(str(namespace)):
                return f"{prefix}:{text[len(str(namespace)):]}"
        return f"<{text}>"
    return str(term)


def path_text(graph: Graph, path: Node | None) -> str:
    """A result path as a Violation shows it: ``schema:name``, ``^tg:tag``, or ``""`` for none."""
    if path is None:
        return ""
    if isinstance(path, BNode):
        inverse = graph.value(path, SH.inversePath)
        return f"^{short(inverse)}" if inverse is not None else "(complex path)"
    return short(path)
