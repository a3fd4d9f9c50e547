"""The NetworkX projection of the RDF graph: same node ids as the IRIs, typed edges."""
from __future__ import annotations

from typing import Any

import networkx as nx
from rdflib import Graph, Literal
from rdflib.namespace import RDF
from rdflib.term import Node

from kg.vocab import PREFIXES, TG

# Classes that become nodes, in order of preference for the node's "type" attribute.
NODE_TYPES = ("schema:Project", "schema:Organization", "schema:AdministrativeArea", "tg:RegionalBlock",
              "tg:District", "skos:Concept", "schema:FundingScheme", "schema:GovernmentOrganization",
              "prov:Entity", "skos:ConceptScheme", "tg:SimilarityLink")


def qname(graph: Graph, term: Node) -> str:
    """Prefixed name with the project prefixes (schema:areaServed), else the full IRI."""
    for prefix, namespace in sorted(PREFIXES.items(), key=lambda item: -len(str(item[1]))):
        if str(term).startswith(str(namespace)):
            return f"{prefix}:{str(term)[len(str(namespace)):]}"
    return str(term)


def to_networkx(graph: Graph) -> nx.MultiDiGraph:
    """Typed nodes with their literals as attributes and one edge per object property.

    Tag assignments are not nodes: their evidence is put on the project -> concept edge instead.
    """
    result = nx.MultiDiGraph()
    kinds: dict[Any, str] = {}      # rdflib's Node is not orderable to mypy; these are URIRefs
    for subject, kind in graph.subject_objects(RDF.type):
        name = qname(graph, kind)
        if name in NODE_TYPES and (subject not in kinds or NODE_TYPES.index(name) < NODE_TYPES.index(kinds[subject])):
            kinds[subject] = name
    for node in sorted(kinds):
        attributes: dict[str, Any] = {"type": kinds[node]}
        for predicate, value in sorted(graph.predicate_objects(node)):
            if isinstance(value, Literal):
                key = qname(graph, predicate)
                if value.language:
                    key += f"@{value.language}"
                text = value.toPython()
                text = text if isinstance(text, (int, float, bool)) else str(value)
                attributes[key] = text if key not in attributes else f"{attributes[key]} | {text}"
        result.add_node(str(node), **attributes)
    evidence = _tag_evidence(graph)
    for subject in sorted(kinds):
        for predicate, value in sorted(graph.predicate_objects(subject)):
            if predicate == RDF.type or value not in kinds:
                continue
            relation = qname(graph, predicate)
            attributes = {"relation": relation}
            if (subject, value) in evidence:
                attributes["evidence"], attributes["matched_in"] = evidence[(subject, value)]
            result.add_edge(str(subject), str(value), key=relation, **attributes)
    return result


def _tag_evidence(graph: Graph) -> dict[tuple[Node, Node | None], tuple[str, str]]:
    """(project, concept) -> (matched words, fields), merged over the per-field assignments."""
    words: dict[tuple[Node, Node | None], set[str]] = {}
    fields: dict[tuple[Node, Node | None], set[str]] = {}
    for project, assignment in graph.subject_objects(TG.tag):
        key = (project, graph.value(assignment, TG.concept))
        words.setdefault(key, set()).update(str(w) for w in graph.objects(assignment, TG.evidence))
        fields.setdefault(key, set()).update(str(f) for f in graph.objects(assignment, TG.matchedIn))
    return {key: (" / ".join(sorted(words[key])), " ".join(sorted(fields[key]))) for key in words}
