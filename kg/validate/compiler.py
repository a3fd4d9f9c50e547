"""Compile SHACL shapes into SPARQL queries that return their violations, one query per constraint.

Each query selects ``?this`` (the focus node), and ``?value`` when the constraint judges values one
by one; a conforming graph gives no rows. The queries are written for Oxigraph, whose joins and
anti-joins on stored terms are cheap and whose FILTERs on a term's text are not:

- many focus nodes (``Sizes`` tells): a property's triples are filtered first, and only the rows that
  break the rule are looked up among the focus nodes (``FILTER EXISTS`` after a subquery with a ``LIMIT``,
  which keeps Oxigraph from pushing the lookup down to every triple; a hash join would hold every focus node in
  memory); "at least one value" and sh:class are MINUS (a hash anti-join) up to ``HASHED`` nodes, and
  beyond that ``FILTER NOT EXISTS``, an index lookup per node: about twice the CPU, but memory stays flat
  at any size (a hash table costs about 300 bytes a row: 1.1 GB for 3.7 million tag assignments); counts
  are GROUP BY subqueries counting triples (a path is an IRI or its inverse, so each value comes once),
  and past ``HASHED`` nodes "at most one value" is a self-join (five times the CPU, no memory);
- a few thousand focus nodes at most (8 regional blocks among 40,000 names): from the focus nodes.

Only what ``kg/data/shapes.ttl`` uses, plus a few neighbours tested the same way (see ``SUPPORTED``),
is compiled; anything else raises ShapesError naming the shape and the construct, so a new shape is
never skipped in silence. SPARQL-based constraints get their focus nodes joined into the start of
their WHERE group, which is SHACL's pre-binding of ``$this`` as long as every FILTER that mentions
``$this`` sits in a group where a triple pattern binds it (true of shapes.ttl); subqueries, VALUES,
MINUS and SERVICE are refused there.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Protocol

from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SH

from kg.validate.expressions import VALUE_CHECKS, ShapeGraph
from kg.validate.messages import Message, Node, default, fixed, path_text, template

TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target)
COUNT_CHECKS = (SH.minCount, SH.maxCount, SH.uniqueLang, SH.qualifiedValueShape, SH.hasValue)
HELPERS = (SH.flags, SH.qualifiedMinCount, SH.qualifiedMaxCount, SH.message, SH.severity, SH.path, SH.property,
           SH.sparql, SH.name, SH.description, SH.order, SH.group)
SPARQL_TERMS = (SH.select, SH.prefixes, SH.declare, SH.prefix, SH.namespace, SH.inversePath)
SUPPORTED = frozenset(TARGETS + VALUE_CHECKS + COUNT_CHECKS + HELPERS + SPARQL_TERMS)
SUPPORTED_TYPES = frozenset({SH.NodeShape, SH.PropertyShape, SH.SPARQLTarget, SH.SPARQLConstraint})
COMPONENT = {SH["class"]: SH.ClassConstraintComponent, SH.datatype: SH.DatatypeConstraintComponent,
             SH.nodeKind: SH.NodeKindConstraintComponent, SH.pattern: SH.PatternConstraintComponent,
             SH.languageIn: SH.LanguageInConstraintComponent, SH["in"]: SH.InConstraintComponent,
             SH.minInclusive: SH.MinInclusiveConstraintComponent, SH.maxInclusive: SH.MaxInclusiveConstraintComponent,
             SH.minExclusive: SH.MinExclusiveConstraintComponent, SH.maxExclusive: SH.MaxExclusiveConstraintComponent,
             SH.node: SH.NodeConstraintComponent, SH["or"]: SH.OrConstraintComponent,
             SH.minCount: SH.MinCountConstraintComponent, SH.maxCount: SH.MaxCountConstraintComponent,
             SH.uniqueLang: SH.UniqueLangConstraintComponent, SH.hasValue: SH.HasValueConstraintComponent,
             SH.qualifiedMinCount: SH.QualifiedMinCountConstraintComponent,
             SH.qualifiedMaxCount: SH.QualifiedMaxCountConstraintComponent}
FEW = 5_000   # up to this many focus nodes, a query starts from them (index lookups) rather than scan a property
# A subquery with a LIMIT (that never cuts) is evaluated before the FILTER after it; OFFSET 0 is optimised away.
BARRIER = "LIMIT 1000000000000000"
HASHED = 1_000_000  # up to this many nodes, anti-joins build a hash table of them (faster) rather than look each up
# What a SPARQL constraint may not contain (see the module docstring).
NOT_IN_SPARQL = re.compile(r"\bSELECT\b[\s\S]*\bSELECT\b|\bVALUES\b|\bMINUS\b|\bSERVICE\b|"
                           r"[?$](shapesGraph|currentShape|PATH)\b", re.IGNORECASE)
# Strings, IRIs and comments of a query, blanked out before looking for keywords and braces.
OPAQUE = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*\'\'\'|"(?:[^"\\\n]|\\.)*"'
                    r'|\'(?:[^\'\\\n]|\\.)*\'|<[^<>"{}|^`\\\s]*>|#[^\n]*')


@dataclass(frozen=True)
class Check:
    """One constraint of one shape as a SPARQL query; every row is one result.

    ``value`` says where the result's value node comes from: "value" (the row's ?value), "focus"
    (a node shape's own constraint: the focus node is the value), "value-or-focus" (SPARQL
    constraints) or "none" (counts).
    """

    source: str
    query: str
    severity: URIRef
    path: str
    message: Message
    value: str


class Sizes(Protocol):
    """How big the data is where it matters for the join order (``kg.validate.run.StoreSizes``)."""

    def at_most(self, classes: list[URIRef], n: int) -> bool:
        """Whether at most ``n`` nodes have one of these classes."""
        ...


@dataclass(frozen=True)
class Target:
    """The focus nodes of a shape: a SPARQL group binding ?this, its prefixes, and its classes when
    it is only sh:targetClass (then ``Sizes`` can count it)."""

    pattern: str
    prefixes: dict
    classes: tuple = ()


def compile_shapes(shapes: Graph, subclasses: Mapping[URIRef, Iterable[URIRef]] | None = None,
                   sizes: Sizes | None = None) -> list[Check]:
    """Every constraint of every targeted shape in ``shapes``, as queries (sorted by shape).

    Example:
        >>> checks = compile_shapes(shapes_graph())                 # doctest: +SKIP
        >>> print(checks[0].source, checks[0].query)                # doctest: +SKIP

    Args:
        shapes: a SHACL shapes graph.
        subclasses: class -> its subclasses in the data graph (``rdfs:subClassOf+``); sh:targetClass and
            sh:class take their instances too, as SHACL says.
        sizes: counts in the data that choose each query's join order (None: every target is many).

    Raises:
        kg.errors.ShapesError: the shapes use a construct this compiler does not support.
    """
    return Compiler(shapes, subclasses or {}, sizes).compile()


class Compiler(ShapeGraph):
    """Turns shapes into Checks; one instance per shapes graph and data graph."""

    def __init__(self, shapes: Graph, subclasses: Mapping[URIRef, Iterable[URIRef]], sizes: Sizes | None) -> None:
        super().__init__(shapes, subclasses)
        self.sizes = sizes

    def compile(self) -> list[Check]:
        self.vocabulary()
        shapes = {s for predicate in TARGETS for s in self.graph.subjects(predicate, None)}
        checks: list[Check] = []
        for shape in sorted(shapes, key=str):
            target = self.target(shape)
            if self.one(shape, SH.path) is not None:
                checks += self.property_checks(target, shape, self.name(shape))
                continue
            checks += self.node_checks(target, shape)
            for prop in sorted(self.graph.objects(shape, SH.property), key=self.order):
                checks += self.property_checks(target, prop, f"{self.name(shape)} {path_text(self.graph, self.path(prop))}")
            constraints = sorted(self.graph.objects(shape, SH.sparql), key=lambda c: str(self.one(c, SH.select)))
            checks += [self.sparql_check(target, shape, c, n) for n, c in enumerate(constraints, 1)]
        return checks

    def vocabulary(self) -> None:
        for s, p, o in self.graph:
            if str(p).startswith(str(SH)) and p not in SUPPORTED:
                self.unsupported(s, self.name(p))
            if p == RDF.type and str(o).startswith(str(SH)) and o not in SUPPORTED_TYPES:
                self.unsupported(s, f"rdf:type {self.name(o)}")
        for shape in self.graph.subjects(RDF.type, SH.NodeShape):
            if {RDFS.Class, OWL.Class} & set(self.graph.objects(shape, RDF.type)):
                self.unsupported(shape, "an implicit class target (a shape that is also a class)")

    # ---- focus nodes ---------------------------------------------------------------------------------
    def target(self, shape: Node) -> Target:
        patterns: list[str] = []
        prefixes: dict[str, str] = {}
        classes: list[Node] = []
        for cls in sorted(self.graph.objects(shape, SH.targetClass), key=str):
            patterns.append(self.instances("?this", cls))
            classes += self.classes(cls)
        for node in sorted(self.graph.objects(shape, SH.targetNode), key=str):
            patterns.append(f"VALUES ?this {{ {self.term(shape, node)} }}")
        for predicate in sorted(self.graph.objects(shape, SH.targetSubjectsOf), key=str):
            patterns.append(f"?this {self.iri(shape, predicate)} {next(self.fresh)}")
        for predicate in sorted(self.graph.objects(shape, SH.targetObjectsOf), key=str):
            patterns.append(f"{next(self.fresh)} {self.iri(shape, predicate)} ?this")
        for target in sorted(self.graph.objects(shape, SH.target), key=lambda t: str(self.one(t, SH.select))):
            select = self.one(target, SH.select)
            if select is None or set(self.graph.objects(target, RDF.type)) - {SH.SPARQLTarget}:
                self.unsupported(shape, "a sh:target that is not a sh:SPARQLTarget with sh:select")
            self.merge(prefixes, self.declared(shape, target), shape)
            if re.match(r"\s*(PREFIX|BASE)\b", str(select), re.IGNORECASE):
                self.unsupported(shape, "PREFIX inside sh:select (declare prefixes with sh:prefixes)")
            patterns.append(f"{{ {select} }}")
        pattern = patterns[0] if len(patterns) == 1 else " UNION ".join(f"{{ {p} }}" for p in patterns)
        only_classes = len(patterns) == len(list(self.graph.objects(shape, SH.targetClass)))
        return Target(pattern, prefixes, tuple(classes) if only_classes else ())

    def few(self, target: Target) -> bool:
        """Whether to start from the focus nodes (few of them) rather than from the property's triples."""
        return self.sizes is not None and bool(target.classes) and self.sizes.at_most(list(target.classes), FEW)

    def hashed(self, classes: Iterable[Node]) -> bool:
        """Whether an anti-join against the instances of ``classes`` (or what they hold) may be a hash table:
        not when there are more than ``HASHED`` of them (or when the classes are unknown, e.g. a SPARQL target)."""
        iris = [c for c in classes if isinstance(c, URIRef)]
        return self.sizes is None or bool(iris) and self.sizes.at_most(iris, HASHED)

    # ---- constraints on the focus node itself (a node shape) -------------------------------------------
    def node_checks(self, target: Target, shape: Node) -> list[Check]:
        params = self.parameters(shape)
        for predicate in COUNT_CHECKS:
            if predicate in params and predicate != SH.hasValue:
                self.unsupported(shape, f"{self.name(predicate)} on a node shape (it needs sh:path)")
        severity, message, t = self.severity(shape), self.one(shape, SH.message), target.pattern
        checks = []
        for predicate in (*VALUE_CHECKS, SH.hasValue):
            if predicate not in params:
                continue
            value = params[predicate][0]
            if predicate == SH["class"]:
                where = f"{t} MINUS {{ {self.instances('?this', value)} }}"
            elif predicate == SH.hasValue:
                where = f"{t} FILTER (!sameTerm(?this, {self.term(shape, value)}))"
            else:
                where = f"{t} FILTER ({self.violates(shape, predicate, value, '?this')})"
            checks.append(Check(
                f"{self.name(shape)} {self.name(predicate)}", self.query(target.prefixes, "?this", where), severity,
                "", self.wording(message, predicate, params, None), "none" if predicate == SH.hasValue else "focus"))
        return checks

    # ---- constraints on the values of a property ------------------------------------------------------
    def property_checks(self, target: Target, prop: Node, source: str) -> list[Check]:
        params = self.parameters(prop)
        for predicate in (SH.property, SH.sparql):
            if predicate in params:
                self.unsupported(prop, f"{self.name(predicate)} inside a property shape")
        path, p, t = self.path(prop), self.sparql_path(prop), target.pattern
        few, hashed = self.few(target), self.hashed(target.classes)
        severity, message = self.severity(prop), self.one(prop, SH.message)
        checks = []

        def add(predicate: URIRef, select: str, where: str, tail: str = "", value: str = "none") -> None:
            checks.append(Check(f"{source} {self.name(predicate)}", self.query(target.prefixes, select, where, tail),
                                severity, path_text(self.graph, path), self.wording(message, predicate, params, path),
                                value))

        for predicate in VALUE_CHECKS:
            if predicate in params:
                value = params[predicate][0]
                if few:
                    where = f"{t} . ?this {p} ?value FILTER ({self.violates(prop, predicate, value, '?value')})"
                else:
                    test = (f"MINUS {{ {self.instances('?value', value)} }}"
                            if predicate == SH["class"] and self.hashed(self.classes(value)) else
                            f"FILTER ({self.violates(prop, predicate, value, '?value')})")
                    where = f"{{ SELECT ?this ?value WHERE {{ ?this {p} ?value {test} }} {BARRIER} }} {self.among(t)}"
                add(predicate, "?this ?value", where, value="value")
        values = f"?this {p} ?value"
        if SH.minCount in params and (n := self.count(prop, SH.minCount)) > 0:
            add(SH.minCount, "?this", *self.at_least(t, values, n, few, hashed))
        if SH.maxCount in params and (most := self.count(prop, SH.maxCount)) == 1 and not few and not hashed:
            # Two different values, found by a self-join that keeps nothing (a GROUP BY holds every node).
            add(SH.maxCount, "?this", f"{{ SELECT DISTINCT ?this WHERE {{ {values} . ?this {p} ?other "
                                      f"FILTER (!sameTerm(?value, ?other)) }} {BARRIER} }} {self.among(t)}")
        elif SH.maxCount in params:
            add(SH.maxCount, "?this", *self.more_than(t, values, f"> {self.count(prop, SH.maxCount)}", few))
        if SH.uniqueLang in params and self.flag(prop, SH.uniqueLang):
            add(SH.uniqueLang, "?this", *self.more_than(t, f'{values} FILTER (isLiteral(?value) && LANG(?value) != "")',
                                                          "> COUNT(DISTINCT LCASE(LANG(?value)))", few))
        if SH.hasValue in params:
            has = f"?this {p} {self.term(prop, params[SH.hasValue][0])}"
            add(SH.hasValue, "?this",
                f"{t} MINUS {{ {has} }}" if hashed and not few else f"{t} FILTER NOT EXISTS {{ {has} }}")
        if SH.qualifiedValueShape in params:
            qualified = f"{values} FILTER ({self.conforms(params[SH.qualifiedValueShape][0], '?value')})"
            if SH.qualifiedMinCount in params and (n := self.count(prop, SH.qualifiedMinCount)) > 0:
                add(SH.qualifiedMinCount, "?this", *self.at_least(t, qualified, n, few, hashed))
            if SH.qualifiedMaxCount in params:
                add(SH.qualifiedMaxCount, "?this",
                    *self.more_than(t, qualified, f"> {self.count(prop, SH.qualifiedMaxCount)}", few))
        return checks

    @staticmethod
    def at_least(target: str, values: str, n: int, few: bool, hashed: bool = True) -> tuple[str, str]:
        """(WHERE, after WHERE) selecting the focus nodes with fewer than ``n`` distinct ?value."""
        if n == 1:
            return (f"{target} MINUS {{ {values} }}" if hashed and not few else
                    f"{target} FILTER NOT EXISTS {{ {values} }}"), ""
        if few:
            return f"{target} OPTIONAL {{ {values} }}", f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) < {n})"
        return (f"{target} OPTIONAL {{ SELECT ?this (COUNT(?value) AS ?n) WHERE {{ {values} }} "
                f"GROUP BY ?this }} FILTER (COALESCE(?n, 0) < {n})"), ""

    @staticmethod
    def more_than(target: str, values: str, bound: str, few: bool) -> tuple[str, str]:
        """(WHERE, after WHERE) selecting the focus nodes whose count of distinct ?value is ``bound``."""
        if few:
            return f"{target} . {values}", f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) {bound})"
        # Alone in its subquery, the pattern gives each (?this, ?value) once: no set of values per node.
        having = f"GROUP BY ?this HAVING (COUNT(?value) {bound})"
        return f"{{ SELECT ?this WHERE {{ {values} }} {having} {BARRIER} }} {Compiler.among(target)}", ""

    @staticmethod
    def among(target: str) -> str:
        """Keeps the rows of the subquery before it whose ?this is a focus node (looked up row by row)."""
        return f"FILTER EXISTS {{ {target} }}"

    # ---- SPARQL-based constraints ------------------------------------------------------------------
    def sparql_check(self, target: Target, shape: Node, constraint: Node, number: int) -> Check:
        select = str(self.one(constraint, SH.select) or "")
        prefixes = dict(target.prefixes)
        self.merge(prefixes, self.declared(shape, constraint), shape)
        blanked = OPAQUE.sub(lambda m: " " * len(m.group(0)), select)
        if (found := NOT_IN_SPARQL.search(blanked)) or not select:
            self.unsupported(shape, f"a SPARQL constraint with {found.group(0).split()[0] if found else 'no sh:select'}")
        where = re.search(r"\bWHERE\s*\{", blanked, re.IGNORECASE)
        head = re.match(r"\s*SELECT\s+((DISTINCT|REDUCED)\s+)?", blanked, re.IGNORECASE)
        if where is None or head is None:
            self.unsupported(shape, "a SPARQL constraint that is not SELECT … WHERE { … }")
        projection = blanked[head.end():where.start()]
        this = "" if re.search(r"[?$]this\b|^\s*\*\s*$", projection) else "?this "
        query = (select[:head.end()] + this + select[head.end():where.end()]
                 + f" {{ SELECT DISTINCT ?this WHERE {{ {target.pattern} }} }} " + select[where.end():])
        messages = [m for m in (self.one(constraint, SH.message), self.one(shape, SH.message)) if m is not None]
        if len(messages) > 1:
            self.unsupported(shape, "sh:message on both the shape and its SPARQL constraint")
        message = template(str(messages[0])) if messages else default(SH.SPARQLConstraintComponent, self.terms, {}, None)
        return Check(f"{self.name(shape)} sh:sparql #{number}", self.header(prefixes) + query, self.severity(shape), "",
                     message, "value-or-focus")

    def declared(self, shape: Node, node: Node) -> dict[str, str]:
        found: dict[str, str] = {}
        for holder in self.graph.objects(node, SH.prefixes):
            for declaration in self.graph.objects(holder, SH.declare):
                prefix, namespace = self.one(declaration, SH.prefix), self.one(declaration, SH.namespace)
                self.merge(found, {str(prefix): str(namespace)}, shape)
        return found

    def merge(self, into: dict[str, str], more: dict[str, str], shape: Node) -> None:
        for prefix, namespace in more.items():
            if into.setdefault(prefix, namespace) != namespace:
                self.unsupported(shape, f"two namespaces for the prefix {prefix}:")

    # ---- small pieces ------------------------------------------------------------------------------
    def wording(self, message, predicate: URIRef, params: dict, path) -> Message:
        if message is not None:
            return fixed(str(message))
        return default(COMPONENT[predicate], self.terms, params, path)

    @staticmethod
    def query(prefixes: dict[str, str], select: str, where: str, tail: str = "") -> str:
        return f"{Compiler.header(prefixes)}SELECT DISTINCT {select} WHERE {{ {where} }} {tail}".rstrip()

    @staticmethod
    def header(prefixes: dict[str, str]) -> str:
        return "".join(f"PREFIX {prefix}: <{namespace}>\n" for prefix, namespace in sorted(prefixes.items()))
