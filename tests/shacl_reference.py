"""The reference the tests hold kg.validate to: pyshacl run on the whole rdflib graph.

kg.validate compiles the shapes into SPARQL and runs them on Oxigraph; here the same shapes go through
pyshacl (no inference, SHACL Advanced Features on for the SPARQL targets), and its report is read
into the same Violations (focus, path, message).
"""
from __future__ import annotations

import re
from functools import lru_cache

from rdflib import BNode, Graph
from rdflib.namespace import RDF, SH

from kg.validate import Violation, shapes_graph
from kg.validate.messages import short


def pyshacl_results(graph: Graph, shapes: Graph | None = None) -> tuple[bool, list[Violation], list[Violation]]:
    """(conforms, violations, warnings) as pyshacl reports them on ``graph``."""
    from pyshacl import validate

    conforms, report, _ = validate(
        _QueryCachingGraph.over(graph), shacl_graph=shapes if shapes is not None else shapes_graph(),
        inference="none", advanced=True, abort_on_first=False, allow_warnings=True, meta_shacl=False,
        inplace=True)
    return bool(conforms), _violations(report, SH.Violation), _violations(report, SH.Warning)


def comparable(violations: list[Violation]) -> list[Violation]:
    """Violations with the members of "not in list [...]" sorted: pyshacl keeps sh:in in a set, so
    its default message lists them in an order that changes from run to run."""
    def fix(v: Violation) -> Violation:
        message = re.sub(r"not in list \[(.*)\]", lambda m: f"not in list [{', '.join(sorted(m.group(1).split(', ')))}]",
                         v.message)
        return v._replace(message=message)
    return sorted(fix(v) for v in violations)


def _violations(report: Graph, severity) -> list[Violation]:
    found = set()
    # Only the report's own results: nested ones (sh:detail, from sh:node / sh:or) are typed alike.
    results = [r for report_node in report.subjects(RDF.type, SH.ValidationReport)
               for r in report.objects(report_node, SH.result)
               if report.value(r, SH.resultSeverity) == severity]
    for result in results:
        message = report.value(result, SH.resultMessage)
        value = report.value(result, SH.value)
        if message is not None:
            text = str(message)
        else:
            component = report.value(result, SH.sourceConstraintComponent)
            text = f"fails {short(component)}" if component is not None else "fails a constraint"
        if value is not None and short(value) not in text:
            text += f" (value: {short(value)})"
        found.add(Violation(short(report.value(result, SH.focusNode)), _path(report, report.value(result, SH.resultPath)),
                            text))
    return sorted(found)


def _path(report: Graph, path) -> str:
    if path is None:
        return ""
    if isinstance(path, BNode):
        inverse = report.value(path, SH.inversePath)
        return f"^{short(inverse)}" if inverse is not None else "(complex path)"
    return short(path)


class _QueryCachingGraph(Graph):
    """The same triples (the store is shared), but SPARQL text is parsed once: pyshacl sends a SPARQL
    constraint's text again for every focus node and rdflib would parse it each time (~20x slower)."""

    @classmethod
    def over(cls, graph: Graph) -> Graph:
        if type(graph) is not Graph:
            return graph
        view = cls(store=graph.store, identifier=graph.identifier)
        view.namespace_manager = graph.namespace_manager
        return view

    def query(self, query_object, processor="sparql", result="sparql", initNs=None,  # noqa: N803
              initBindings=None, use_store_provided=True, **kwargs):  # noqa: N803
        if isinstance(query_object, str):
            query_object = _prepared(query_object, tuple(sorted((initNs or {}).items())))
            initNs = None  # noqa: N806
        return super().query(query_object, processor, result, initNs, initBindings, use_store_provided, **kwargs)


@lru_cache(maxsize=256)
def _prepared(text: str, namespaces: tuple):
    from rdflib.plugins.sparql import prepareQuery

    return prepareQuery(text, initNs=dict(namespaces))
