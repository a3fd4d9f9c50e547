"""The NetworkX view: the same nodes as the RDF graph, typed edges, evidence on concept edges."""
from __future__ import annotations

import pytest
from rdflib import RDF, URIRef

from kg import Tsunagari
from kg.vocab import SCHEMA


@pytest.fixture(scope="module")
def kg(built_store):
    return Tsunagari.open(built_store)


def test_nodes_are_the_typed_iris_of_the_graph(kg):
    network = kg.network
    projects = {str(s) for s in kg.graph.subjects(RDF.type, SCHEMA.Project)}
    assert projects == {n for n, d in network.nodes(data=True) if d["type"] == "schema:Project"}
    assert len(projects) == 77
    areas = {str(s) for s in kg.graph.subjects(RDF.type, SCHEMA.AdministrativeArea)}
    assert areas <= set(network.nodes)


def test_edges_are_typed_and_carry_evidence(kg):
    network = kg.network
    project = "https://w3id.org/tsunagari/project/cao-kodoku-npo-model-fy2024-062"
    relations = {(data["relation"], v.rsplit("/", 1)[-1]) for _, v, data in network.out_edges(project, data=True)}
    assert ("schema:areaServed", "360007") in relations           # 徳島県
    assert ("schema:audience", "hikikomori") in relations
    edge = network.get_edge_data(project, "https://w3id.org/tsunagari/concept/target-group/hikikomori")
    assert "ひきこもり" in edge["schema:audience"]["evidence"]


def test_region_hierarchy_edges(kg):
    network = kg.network
    ward = "https://w3id.org/tsunagari/region/131172"      # Tokyo's 北区
    (parent,) = [v for _, v, k in network.out_edges(ward, keys=True) if k == "schema:containedInPlace"]
    assert parent.endswith("/130001")
    (block,) = [v for _, v, k in network.out_edges(parent, keys=True) if k == "schema:containedInPlace"]
    assert block.endswith("/block/kanto")
    assert network.nodes[ward]["dcterms:identifier"] == "131172"
    assert URIRef(ward) in set(kg.graph.subjects())
