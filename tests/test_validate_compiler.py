"""The SHACL compiler on small shapes of its own: the constructs shapes.ttl does not use yet give
pyshacl's results too, both join orders agree, and anything unsupported fails loudly."""
from __future__ import annotations

import pytest
from rdflib import Graph

from shacl_reference import comparable, pyshacl_results
from kg.errors import ShapesError
from kg.validate.compiler import FEW, HASHED, compile_shapes
from kg.validate.run import StoreSizes, oxigraph_of, run_checks, store_terms, subclasses

PREFIXES = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ex: <https://example.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
"""

SHAPES = PREFIXES + """
ex:ByNode a sh:NodeShape ; sh:targetNode ex:a , ex:b ;
    sh:property [ sh:path ex:v ; sh:maxInclusive 10 ; sh:minExclusive 0 ] ,
                [ sh:path ex:w ; sh:maxExclusive 5 ; sh:minCount 2 ; sh:maxCount 3 ] .
ex:BySubject a sh:NodeShape ; sh:targetSubjectsOf ex:knows ; sh:nodeKind sh:BlankNodeOrIRI ;
    sh:property [ sh:path ex:knows ; sh:nodeKind sh:IRI ] ,
                [ sh:path ex:code ; sh:pattern "^ab" ; sh:flags "i" ] ,
                [ sh:path ex:label ; sh:languageIn ( "*" ) ] ,
                [ sh:path ex:kind ; sh:hasValue ex:Good ] ,
                [ sh:path ex:lit ; sh:nodeKind sh:Literal ] ,
                [ sh:path ex:blank ; sh:nodeKind sh:BlankNode ] ,
                [ sh:path ex:notIri ; sh:nodeKind sh:BlankNodeOrLiteral ] ,
                [ sh:path ex:notBlank ; sh:nodeKind sh:IRIOrLiteral ] .
ex:ByObject a sh:NodeShape ; sh:targetObjectsOf ex:knows ;
    sh:property [ sh:path ex:tag ; sh:qualifiedValueShape [ sh:datatype xsd:integer ] ;
                  sh:qualifiedMinCount 2 ; sh:qualifiedMaxCount 3 ] .
ex:ByClass a sh:NodeShape ; sh:targetClass ex:Thing ; sh:hasValue ex:t1 ;
    sh:property [ sh:path ex:size ; sh:minCount 2 ; sh:maxCount 2 ; sh:datatype xsd:decimal ] ,
                [ sh:path ex:part ; sh:hasValue ex:Good ; sh:class ex:Thing ] ,
                [ sh:path ex:tag ; sh:qualifiedValueShape [ sh:datatype xsd:integer ] ; sh:qualifiedMinCount 2 ;
                  sh:severity sh:Warning ] .
ex:PropertyWithTarget a sh:PropertyShape ; sh:targetClass ex:Thing ; sh:path ex:colour ;
    sh:in ( ex:Red ex:Blue ) ; sh:message "colour is red or blue" .
"""

DATA = PREFIXES + """
ex:a ex:v 0 , 11 , 5 ; ex:w 1 .
ex:b ex:v "x" ; ex:w 1 , 2 , 3 , 4 , 9 .
ex:s1 ex:knows ex:o1 , "text" ; ex:code "ABc" ; ex:label "x"@en , "plain" ; ex:kind ex:Good ;
      ex:lit "ok" , ex:notLiteral ; ex:blank ex:notBlank ; ex:notIri "fine" , ex:bad ; ex:notBlank ex:fine .
ex:s2 ex:knows ex:o2 ; ex:code "xab" ; ex:kind ex:Bad .
ex:o1 ex:tag 1 , 2 , 3 , 4 , "five" .
ex:o2 ex:tag 1 .
ex:Special rdfs:subClassOf ex:Thing .
ex:t1 a ex:Thing ; ex:size 1.5 , 2.5 ; ex:part ex:t2 , ex:Good ; ex:colour ex:Red ; ex:tag 1 , 2 .
ex:t2 a ex:Special ; ex:size 1.0 ; ex:part ex:nothing ; ex:colour ex:Green , ex:Blue ; ex:tag 1 .
ex:t3 a ex:Thing ; ex:size "big" , 3.0 , 4.0 ; ex:colour "red" .
"""


class Always:
    """Sizes that give every class ``nodes`` instances: few (start from the focus nodes), many (from the
    triples, anti-joins hashed) or very many (from the triples, each node looked up)."""

    def __init__(self, nodes: int) -> None:
        self.nodes = nodes

    def at_most(self, classes, n: int) -> bool:
        return self.nodes <= n


PLANS = [Always(1), Always(FEW + 1), Always(HASHED + 1)]
PLAN_IDS = ["few", "many", "very many"]


def ours(data: Graph, shapes: Graph, sizes=None):
    store = oxigraph_of(data)
    checks = compile_shapes(shapes, subclasses(store), sizes or StoreSizes(store))
    return run_checks(store, checks, store_terms(store, data.namespace_manager))


@pytest.fixture(scope="module")
def graphs() -> tuple[Graph, Graph]:
    return Graph().parse(data=DATA, format="turtle"), Graph().parse(data=SHAPES, format="turtle")


@pytest.mark.parametrize("sizes", [None, *PLANS], ids=["store sizes", *PLAN_IDS])
def test_other_constructs_match_pyshacl(graphs, sizes):
    data, shapes = graphs
    conforms, violations, warnings = pyshacl_results(data, shapes)
    found, warned = ours(data, shapes, sizes)
    assert not conforms and len(violations) > 20 and warnings
    assert comparable(found) == comparable(violations)
    assert comparable(warned) == comparable(warnings)


@pytest.mark.slow
def test_every_join_plan_matches_pyshacl_on_the_damaged_bundled_graph(damaged):
    from kg.validate import shapes_graph

    graph = damaged[0]
    _, violations, warnings = pyshacl_results(graph)
    for sizes, plan in zip(PLANS, PLAN_IDS):
        found, warned = ours(graph, shapes_graph(), sizes)
        assert comparable(found) == comparable(violations), plan
        assert comparable(warned) == comparable(warnings), plan


@pytest.fixture(scope="module")
def damaged():
    import test_validate

    from kg.assemble import assemble
    from kg.rdf import to_graph
    from kg.sources import read_source

    graph = to_graph(assemble([read_source(test_validate.SOURCE)]))
    copy, n = test_validate.copy(graph), test_validate.nodes(graph)
    for _, change, _ in test_validate.CHANGES:
        change(copy, n)
    return copy, n


UNSUPPORTED = [
    ("closed shape", "ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:closed true .", "sh:closed"),
    ("property pair", "ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:property [ sh:path ex:p ; sh:equals ex:q ] .",
     "sh:equals"),
    ("string length", "ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:property [ sh:path ex:p ; sh:minLength 2 ] .",
     "sh:minLength"),
    ("unknown datatype", "ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:property [ sh:path ex:p ; sh:datatype xsd:date ] .",
     "sh:datatype xsd:date"),
    ("sequence path", "ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:property [ sh:path ( ex:p ex:q ) ; sh:minCount 1 ] .",
     "a property path other than"),
    ("deactivated", "ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:deactivated true .", "sh:deactivated"),
    ("info severity", "ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:severity sh:Info ; sh:nodeKind sh:IRI .",
     "sh:severity sh:Info"),
    ("implicit class target", "ex:S a sh:NodeShape , rdfs:Class ; sh:targetClass ex:T .", "implicit class target"),
    ("recursive shapes", "ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:property [ sh:path ex:p ; sh:node ex:N ] . "
                         "ex:N sh:property [ sh:path ex:p ; sh:node ex:N ] .", "recursive shape"),
    ("two messages", "ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:nodeKind sh:IRI ; sh:message \"a\"@en , \"b\"@ja .",
     "2 values of sh:message"),
    ("disjoint qualified shapes", "ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:property [ sh:path ex:p ; "
     "sh:qualifiedValueShape [ sh:class ex:C ] ; sh:qualifiedMinCount 1 ; sh:qualifiedValueShapesDisjoint true ] .",
     "sh:qualifiedValueShapesDisjoint"),
    ("count in a nested shape", "ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:property [ sh:path ex:p ; sh:node ex:N ] . "
                                "ex:N sh:property [ sh:path ex:q ; sh:minCount 2 ] .", "sh:minCount above 1"),
    ("SPARQL subquery", "ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:sparql [ a sh:SPARQLConstraint ; sh:select "
     "\"SELECT $this WHERE { { SELECT ?x WHERE { ?x ?p ?o } } }\" ] .", "a SPARQL constraint with SELECT"),
    ("SPARQL MINUS", "ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:sparql [ a sh:SPARQLConstraint ; sh:select "
     "\"SELECT $this WHERE { $this ?p ?o MINUS { $this a ?c } }\" ] .", "a SPARQL constraint with MINUS"),
    ("SPARQL on a property", "ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:property [ sh:path ex:p ; sh:sparql "
     "[ sh:select \"SELECT $this WHERE { $this $PATH ?v }\" ] ] .", "sh:sparql inside a property shape"),
    ("custom target", "ex:S a sh:NodeShape ; sh:target [ a ex:MyTarget ] .", "not a sh:SPARQLTarget"),
    ("custom component", "ex:C a sh:ConstraintComponent .", "rdf:type sh:ConstraintComponent"),
]


@pytest.mark.parametrize("turtle, construct", [u[1:] for u in UNSUPPORTED], ids=[u[0] for u in UNSUPPORTED])
def test_unsupported_constructs_fail_loudly_naming_shape_and_construct(turtle, construct):
    shapes = Graph().parse(data=PREFIXES + turtle, format="turtle")
    with pytest.raises(ShapesError) as error:
        compile_shapes(shapes)
    message = str(error.value)
    assert construct in message and "kg/data/shapes.ttl" in message
    assert "ex:S" in message or "ex:C" in message or "ex:N" in message


def test_every_shape_of_shapes_ttl_compiles():
    from rdflib.namespace import SH

    from kg.validate import shapes_graph

    checks = compile_shapes(shapes_graph())
    targeted = {s for p in (SH.targetClass, SH.target) for s in shapes_graph().subjects(p, None)}
    names = {c.source.split()[0] for c in checks}
    assert len(targeted) == 16 and names == {f"tgsh:{str(s).rsplit('#', 1)[1]}" for s in targeted}
