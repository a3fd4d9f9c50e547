"""Reading a SHACL shapes graph, and the SPARQL expressions its value constraints become.

``ShapeGraph`` answers "what does this shape say" (one value per parameter, the path, the severity)
and writes, for one node variable, an expression that is true when the node breaks a constraint
(``violates``) or conforms to a whole shape (``conforms``: sh:node, sh:or, qualified value shapes).
Anything it cannot write raises ShapesError naming the shape and the construct.
"""
from __future__ import annotations

import itertools
from typing import Iterable, Mapping, NoReturn

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, SH, XSD

from kg.errors import ShapesError
from kg.validate.messages import Node, Terms, path_text

VALUE_CHECKS = (SH["class"], SH.datatype, SH.nodeKind, SH.pattern, SH.languageIn, SH["in"], SH.minInclusive,
                SH.maxInclusive, SH.minExclusive, SH.maxExclusive, SH.node, SH["or"])
RANGE = {SH.minInclusive: ">=", SH.maxInclusive: "<=", SH.minExclusive: ">", SH.maxExclusive: "<"}
NODE_KIND: dict[Node, str] = {SH.IRI: "!isIRI({x})", SH.BlankNode: "!isBlank({x})", SH.Literal: "!isLiteral({x})",
             SH.BlankNodeOrIRI: "isLiteral({x})", SH.BlankNodeOrLiteral: "isIRI({x})", SH.IRIOrLiteral: "isBlank({x})"}
# Well-formed lexical forms (XML Schema) of the datatypes sh:datatype may name; others raise ShapesError.
LEXICAL: dict[Node, str] = {
    XSD.integer: r"^[+-]?[0-9]+$",
    XSD.decimal: r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$",
    XSD.boolean: r"^(true|false|1|0)$",
    XSD.gYear: r"^-?([1-9][0-9]{3,}|0[0-9]{3})(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))?$",
}
REPEATABLE = (SH.property, SH.sparql, SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf,
              SH.target, RDF.type)
SEVERITIES = (SH.Violation, SH.Warning)


class ShapeGraph:
    """A shapes graph read for compiling, with the data's class hierarchy for sh:class."""

    def __init__(self, shapes: Graph, subclasses: Mapping[URIRef, Iterable[URIRef]]) -> None:
        self.graph = shapes
        self.terms = Terms.of_graph(shapes)
        self.subclasses: dict[Node, list[Node]] = {cls: sorted(set(subs) - {cls}, key=str)
                                                   for cls, subs in subclasses.items()}
        self.fresh = (f"?v{n}" for n in itertools.count())
        self.nesting: list[Node] = []

    # ---- reading --------------------------------------------------------------------------------------
    def unsupported(self, where: Node, construct: str) -> NoReturn:
        raise ShapesError(
            f"kg/data/shapes.ttl: {self.name(where)} uses {construct}, which kg/validate does not compile to "
            "SPARQL — add it to kg/validate (with a test against pyshacl in tests/test_validate.py), or drop it")

    def name(self, node: Node | None) -> str:
        if isinstance(node, BNode):
            parent = next(self.graph.subjects(None, node), None)
            if parent is not None and isinstance(self.graph.value(node, SH.path), (URIRef, BNode)):
                return f"{self.name(parent)} (property {path_text(self.graph, self.graph.value(node, SH.path))})"
            return f"a blank node of {self.name(parent)}" if parent is not None else "a blank node"
        return self.terms.show(node)

    def one(self, node: Node, predicate: URIRef):
        values = list(self.graph.objects(node, predicate))
        if len(values) > 1:
            self.unsupported(node, f"{len(values)} values of {self.name(predicate)}")
        return values[0] if values else None

    def parameters(self, shape: Node) -> dict[Node, list[Node]]:
        params: dict[Node, list[Node]] = {}
        for predicate, value in self.graph.predicate_objects(shape):
            params.setdefault(predicate, []).append(value)
        for predicate, values in params.items():
            if len(values) > 1 and predicate not in REPEATABLE:
                self.unsupported(shape, f"{len(values)} values of {self.name(predicate)}")
        return params

    def severity(self, shape: Node) -> URIRef:
        severity = self.one(shape, SH.severity) or SH.Violation
        if severity not in SEVERITIES:
            self.unsupported(shape, f"sh:severity {self.name(severity)} (a result is a violation or a warning)")
        return severity

    def path(self, prop: Node) -> Node:
        path = self.one(prop, SH.path)
        if path is None:
            self.unsupported(prop, "a property shape without sh:path")
        return path

    def sparql_path(self, prop: Node) -> str:
        path = self.path(prop)
        if isinstance(path, URIRef):
            return self.iri(prop, path)
        inverse = self.one(path, SH.inversePath)
        if isinstance(inverse, URIRef) and len(list(self.graph.predicate_objects(path))) == 1:
            return f"^{self.iri(prop, inverse)}"
        return self.unsupported(prop, "a property path other than an IRI or sh:inversePath of an IRI")

    def count(self, shape: Node, predicate: URIRef) -> int:
        value = self.one(shape, predicate)
        if not (isinstance(value, Literal) and isinstance(value.value, int) and not isinstance(value.value, bool)):
            self.unsupported(shape, f"{self.name(predicate)} {value!r} (it needs an integer)")
        return int(value.value)

    def flag(self, shape: Node, predicate: URIRef) -> bool:
        value = self.one(shape, predicate)
        return isinstance(value, Literal) and value.value is True

    def iri(self, where: Node, term: Node) -> str:
        if not isinstance(term, URIRef):
            self.unsupported(where, f"{self.name(term)} where an IRI is needed")
        return f"<{term}>"

    def term(self, where: Node, term: Node) -> str:
        if isinstance(term, BNode):
            self.unsupported(where, "a blank node as a value to compare with")
        return term.n3()

    # ---- expressions on one node ------------------------------------------------------------------------
    def classes(self, cls: Node) -> list[Node]:
        """``cls`` and its subclasses in the data (SHACL counts their instances as instances of ``cls``)."""
        return [cls, *self.subclasses.get(cls, [])]

    def instances(self, x: str, cls: Node) -> str:
        """A pattern binding ``x`` to instances of ``cls`` or of its subclasses in the data."""
        classes = self.classes(cls)
        if len(classes) == 1:
            return f"{x} a {self.iri(cls, cls)}"
        var = next(self.fresh)
        return f"VALUES {var} {{ {' '.join(self.iri(cls, c) for c in classes)} }} {x} a {var}"

    def violates(self, where: Node, predicate: URIRef, value: Node, x: str) -> str:
        """A SPARQL expression, never an error, true when node ``x`` breaks ``predicate value``."""
        if predicate == SH["class"]:
            return f"NOT EXISTS {{ {self.instances(x, value)} }}"
        if predicate == SH.datatype:
            return f"!(isLiteral({x}) && {self.well_formed(where, value, x)})"
        if predicate == SH.nodeKind:
            if value not in NODE_KIND:
                self.unsupported(where, f"sh:nodeKind {self.name(value)}")
            return NODE_KIND[value].format(x=x)
        if predicate == SH.pattern:
            flags = self.one(where, SH.flags)
            extra = f", {Literal(str(flags)).n3()}" if flags is not None else ""
            return f"(isBlank({x}) || !REGEX(STR({x}), {Literal(str(value)).n3()}{extra}))"
        if predicate == SH.languageIn:
            # pyshacl's rule (not langMatches): the tag, or its first subtag, is in the list.
            wanted = sorted({str(item).lower() for item in self.terms.items(value)})
            if "*" in wanted:
                return f'!(isLiteral({x}) && LANG({x}) != "")'
            listed, lang = ", ".join(Literal(tag).n3() for tag in wanted), f"LCASE(LANG({x}))"
            return (f'!(isLiteral({x}) && LANG({x}) != "" && ({lang} IN ({listed}) || '
                    f'STRBEFORE(CONCAT({lang}, "-"), "-") IN ({listed})))')
        if predicate == SH["in"]:
            options = [f"sameTerm({x}, {self.term(where, item)})" for item in self.terms.items(value)]
            return f"!({' || '.join(options) or 'false'})"
        if predicate in RANGE:
            return f"!COALESCE({x} {RANGE[predicate]} {self.term(where, value)}, false)"
        if predicate == SH.node:
            return f"!({self.conforms(value, x)})"
        if predicate == SH["or"]:
            return f"!({' || '.join(f'({self.conforms(m, x)})' for m in self.terms.items(value)) or 'false'})"
        raise AssertionError(predicate)

    def well_formed(self, where: Node, datatype: Node, x: str) -> str:
        if datatype == XSD.string:
            return f"sameTerm(DATATYPE({x}), {self.iri(where, XSD.string)})"
        if datatype == RDF.langString:
            return f'LANG({x}) != ""'
        if datatype not in LEXICAL:
            self.unsupported(where, f"sh:datatype {self.name(datatype)} (its lexical form is not in "
                                    "kg/validate/expressions.py LEXICAL)")
        return (f"sameTerm(DATATYPE({x}), {self.iri(where, datatype)}) && "
                f"REGEX(STR({x}), {Literal(LEXICAL[datatype]).n3()})")

    def conforms(self, shape: Node, x: str) -> str:
        """A SPARQL expression true when node ``x`` conforms to ``shape`` (sh:node, sh:or, qualified shapes)."""
        if shape in self.nesting:
            self.unsupported(shape, "a recursive shape reference")
        self.nesting.append(shape)
        params = self.parameters(shape)
        for predicate in (SH.sparql, SH.path, SH.minCount, SH.maxCount, SH.uniqueLang, SH.qualifiedValueShape):
            if predicate in params:
                self.unsupported(shape, f"{self.name(predicate)} in a shape used by sh:node, sh:or or "
                                        "sh:qualifiedValueShape")
        if params.get(SH.severity, [SH.Violation])[0] != SH.Violation:
            self.unsupported(shape, "sh:severity in a shape used by another shape")
        parts = []
        for predicate in VALUE_CHECKS:
            if predicate in params:
                value = params[predicate][0]
                parts.append(f"EXISTS {{ {self.instances(x, value)} }}" if predicate == SH["class"]
                             else f"!({self.violates(shape, predicate, value, x)})")
        if SH.hasValue in params:
            parts.append(f"sameTerm({x}, {self.term(shape, params[SH.hasValue][0])})")
        for prop in sorted(self.graph.objects(shape, SH.property), key=self.order):
            parts += self.nested_property(prop, x)
        self.nesting.pop()
        return " && ".join(parts) or "true"

    def nested_property(self, prop: Node, x: str) -> list[str]:
        params, p = self.parameters(prop), self.sparql_path(prop)
        for predicate in (SH.uniqueLang, SH.qualifiedValueShape, SH.property, SH.sparql):
            if predicate in params:
                self.unsupported(prop, f"{self.name(predicate)} in a shape used by another shape")
        parts = []
        for predicate in VALUE_CHECKS:
            if predicate in params:
                y = next(self.fresh)
                test = self.violates(prop, predicate, params[predicate][0], y)
                parts.append(f"NOT EXISTS {{ {x} {p} {y} FILTER ({test}) }}")
        if SH.hasValue in params:
            parts.append(f"EXISTS {{ {x} {p} {self.term(prop, params[SH.hasValue][0])} }}")
        if SH.minCount in params and (n := self.count(prop, SH.minCount)) > 0:
            if n > 1:
                self.unsupported(prop, "sh:minCount above 1 in a shape used by another shape")
            parts.append(f"EXISTS {{ {x} {p} {next(self.fresh)} }}")
        if SH.maxCount in params:
            n, a, b = self.count(prop, SH.maxCount), next(self.fresh), next(self.fresh)
            if n > 1:
                self.unsupported(prop, "sh:maxCount above 1 in a shape used by another shape")
            parts.append(f"NOT EXISTS {{ {x} {p} {a} }}" if n == 0 else
                         f"NOT EXISTS {{ {x} {p} {a} . {x} {p} {b} FILTER (!sameTerm({a}, {b})) }}")
        return parts

    def order(self, prop: Node) -> tuple:
        """A stable order for property shapes (blank nodes get new ids at every parse)."""
        return (path_text(self.graph, self.path(prop)), sorted(str(p) for p, _ in self.graph.predicate_objects(prop)),
                sorted(str(o) for _, o in self.graph.predicate_objects(prop) if not isinstance(o, BNode)))
