"""The N-Triples writers: the same bytes as rdflib's serializer, and to_graph is what the build stores."""
from __future__ import annotations

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import to_isomorphic
from rdflib.namespace import XSD

from kg.assemble import assemble
from kg.build import sorted_ntriples
from kg.rdf import dataset_lines, nt_line, nt_literal, to_graph
from kg.sources import read_source
from kg.store import Store


@pytest.fixture(scope="module")
def bundled(document):
    return assemble([read_source(document)])


def test_our_lines_are_rdflibs_bytes_on_the_whole_bundled_graph(bundled):
    graph = to_graph(bundled)
    ours = sorted({nt_line(s, p, o).encode("utf-8") for s, p, o in graph})
    assert b"".join(ours) == sorted_ntriples(graph)


def test_the_writers_give_the_graph_the_build_stores(bundled, built_store):
    written = sorted(set(line.encode("utf-8") for line in dataset_lines(bundled)))
    assert b"".join(written) == Store(built_store).path("graph.nt").read_bytes()


@pytest.mark.parametrize("term", [
    Literal('say "hi"\\n\nnew line\r\tand tab', lang="ja"),
    Literal("plain"), Literal("０１２ 全角"), Literal(7, datatype=XSD.integer), Literal(True),
    Literal("2024", datatype=XSD.gYear), Literal("1.2500", datatype=XSD.decimal), Literal("x", lang="ja-Hira"),
    URIRef("https://w3id.org/tsunagari/project/a-fy2024-001"), BNode("b1"),
])
def test_each_kind_of_term_as_rdflib_writes_it(term):
    subject, predicate = URIRef("https://example.org/s"), URIRef("https://example.org/p")
    graph = Graph()
    graph.add((subject, predicate, term))
    assert nt_line(subject, predicate, term).encode("utf-8") == graph.serialize(format="nt", encoding="utf-8")


def test_an_escaped_literal_reads_back():
    text = 'a "quoted" \\ back\nslash\r'
    graph = Graph().parse(data=f"<urn:s> <urn:p> {nt_literal(text, 'ja')} .\n", format="nt")
    assert graph.value(URIRef("urn:s"), URIRef("urn:p")) == Literal(text, lang="ja")


def test_to_graph_parses_the_same_lines(bundled):
    lines = "".join(dataset_lines(bundled))
    assert to_isomorphic(to_graph(bundled)) == to_isomorphic(Graph().parse(data=lines, format="nt"))
