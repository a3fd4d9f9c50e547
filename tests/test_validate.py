"""kg.validate gives the results pyshacl gives on the whole graph: every shape, every constraint kind.

One copy of the bundled graph gets ~110 changes, each on its own node; pyshacl (the reference, run on
the whole rdflib graph) and kg.validate (shapes compiled to SPARQL, run on Oxigraph) must then report
the same (focus, path, message) results, and every compiled check must have fired at least once.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS, SKOS, XSD

from shacl_reference import comparable, pyshacl_results
from kg.validate import shape_checks, validate_graph, validate_store
from kg.validate.messages import short
from kg.validate.run import oxigraph_of, run_checks, store_terms
from kg.vocab import BASE, SCHEMA, TG, concept_iri, project_iri, region_iri

SOURCE = Path(__file__).parents[1] / "kg" / "data" / "r6_kodoku_koritsu_npo_model_projects.txt"
EX = Namespace("https://example.org/")


@pytest.fixture(scope="module")
def graph() -> Graph:
    from kg.assemble import assemble
    from kg.rdf import to_graph
    from kg.sources import read_source

    return to_graph(assemble([read_source(SOURCE)]))


def copy(graph: Graph) -> Graph:
    result = Graph()
    for prefix, namespace in graph.namespaces():
        result.bind(prefix, namespace, override=True)
    result += graph
    return result


def nodes(graph: Graph) -> SimpleNamespace:
    """Nodes of the bundled graph to damage, one per change."""
    def of(cls):
        return sorted(graph.subjects(RDF.type, cls))

    areas = of(SCHEMA.AdministrativeArea)
    municipalities = [a for a in areas if str(graph.value(a, TG.level)) == "municipality"
                      and not any(graph.subjects(SCHEMA.containedInPlace, a))]
    return SimpleNamespace(p=[project_iri(f"cao-kodoku-npo-model-fy2024-{i:03d}") for i in range(1, 78)],
                           tag=of(TG.TagAssignment), org=of(SCHEMA.Organization), area=municipalities,
                           prefecture=[a for a in areas if str(graph.value(a, TG.level)) == "prefecture"],
                           block=of(TG.RegionalBlock), district=of(TG.District)[0],
                           concept=[c for c in of(SKOS.Concept) if "/theme/" in str(c)],
                           scheme=of(SKOS.ConceptScheme), programme=of(SCHEMA.FundingScheme)[0],
                           source=of(PROV.Entity)[0])


def ja(text: str) -> Literal:
    return Literal(text, lang="ja")


def put(g, s, p, o):
    g.set((s, p, o))


def add(g, s, p, o):
    g.add((s, p, o))


def drop(g, s, p, o=None):
    g.remove((s, p, o))


def drop_lang(g, s, p, language):
    for o in list(g.objects(s, p)):
        if o.language == language:
            g.remove((s, p, o))


def two(g, s, p, first, second):
    g.set((s, p, first))
    g.add((s, p, second))


def link_untagged(g, project):
    """Link ``project`` to a theme none of its tag assignments names (tgsh:TagsAgreeShape, one way)."""
    tagged = {g.value(tag, TG.concept) for tag in g.objects(project, TG.tag)}
    themes = sorted(c for c in g.subjects(RDF.type, SKOS.Concept) if "/theme/" in str(c) and c not in tagged)
    g.add((project, DCTERMS.subject, themes[0]))


def owner(tag) -> URIRef:
    return URIRef(str(tag).split("/tag/")[0])


def unlink_tagged(g, tag):
    """Drop the direct link to the concept of ``tag`` from its project (tgsh:TagsAgreeShape, the other way)."""
    concept = g.value(tag, TG.concept)
    for predicate in (SCHEMA.audience, DCTERMS.subject):
        g.remove((owner(tag), predicate, concept))


def link(g, iri, **changes):
    """A similarity link with every property right, then ``changes`` (None drops a property)."""
    props = {"type": TG.SimilarityLink, "linkFrom": project_iri("cao-kodoku-npo-model-fy2024-001"),
             "linkTo": project_iri("cao-kodoku-npo-model-fy2024-002"),
             "score": Literal(Decimal("0.5")), "rank": Literal(1)} | changes
    for name, value in props.items():
        predicate = RDF.type if name == "type" else TG[name]
        for one in value if isinstance(value, tuple) else (value,) if value is not None else ():
            g.add((iri, predicate, one))


THEME, TARGET = concept_iri("theme", "food"), concept_iri("target-group", "children")
TOTTORI, KURAYOSHI, KOTOURA = region_iri("310000"), region_iri("312037"), region_iri("313718")

# (id, change(graph, nodes), expected(nodes) -> (focus, path, words the new result must contain) or None)
CHANGES = [
    ("project without identifier", lambda g, n: drop(g, n.p[0], SCHEMA.identifier),
     lambda n: (n.p[0], "schema:identifier", "exactly one schema:identifier")),
    ("project with two identifiers", lambda g, n: add(g, n.p[1], SCHEMA.identifier, Literal("x-fy2024-901")),
     lambda n: (n.p[1], "schema:identifier", "exactly one schema:identifier")),
    ("identifier as an integer", lambda g, n: put(g, n.p[2], SCHEMA.identifier, Literal(2)),
     lambda n: (n.p[2], "schema:identifier", '(value: "2")')),
    ("identifier off pattern", lambda g, n: put(g, n.p[3], SCHEMA.identifier, Literal("Bad ID")),
     lambda n: (n.p[3], "schema:identifier", '"Bad ID"')),
    ("name only in English", lambda g, n: put(g, n.p[4], SCHEMA.name, Literal("A project", lang="en")),
     lambda n: (n.p[4], "schema:name", "in Japanese")),
    ("two Japanese names", lambda g, n: add(g, n.p[5], SCHEMA.name, ja("二つ目の名前")),
     lambda n: (n.p[5], "schema:name", "More than one String shares the same Language")),
    ("no fiscal year", lambda g, n: drop(g, n.p[6], TG.fiscalYear), lambda n: (n.p[6], "tg:fiscalYear", "exactly one")),
    ("two fiscal years", lambda g, n: add(g, n.p[7], TG.fiscalYear, Literal("2023", datatype=XSD.gYear)),
     lambda n: (n.p[7], "tg:fiscalYear", "exactly one")),
    ("fiscal year as an integer", lambda g, n: put(g, n.p[8], TG.fiscalYear, Literal(2024)),
     lambda n: (n.p[8], "tg:fiscalYear", 'an xsd:gYear such as')),
    ("no prior adoption", lambda g, n: drop(g, n.p[9], TG.priorAdoption), lambda n: (n.p[9], "tg:priorAdoption", "")),
    ("two prior adoptions", lambda g, n: two(g, n.p[10], TG.priorAdoption, Literal(True), Literal(False)),
     lambda n: (n.p[10], "tg:priorAdoption", "exactly one")),
    ("prior adoption as text", lambda g, n: put(g, n.p[11], TG.priorAdoption, Literal("yes")),
     lambda n: (n.p[11], "tg:priorAdoption", '"yes"')),
    ("two numbers", lambda g, n: two(g, n.p[12], TG.number, Literal(1), Literal(2)),
     lambda n: (n.p[12], "tg:number", "More than 1 values on project:cao-kodoku-npo-model-fy2024-013->tg:number")),
    ("number as text", lambda g, n: put(g, n.p[13], TG.number, Literal("one")),
     lambda n: (n.p[13], "tg:number", "Value is not Literal with datatype xsd:integer")),
    ("number zero", lambda g, n: put(g, n.p[14], TG.number, Literal(0)),
     lambda n: (n.p[14], "tg:number", 'Value is not >= Literal("1", datatype=xsd:integer)')),
    ("no organisation", lambda g, n: drop(g, n.p[15], TG.implementedBy), lambda n: (n.p[15], "tg:implementedBy", "")),
    ("two organisations", lambda g, n: two(g, n.p[16], TG.implementedBy, n.org[0], n.org[1]),
     lambda n: (n.p[16], "tg:implementedBy", "exactly one")),
    ("implemented by a region", lambda g, n: put(g, n.p[17], TG.implementedBy, TOTTORI),
     lambda n: (n.p[17], "tg:implementedBy", "region:310000")),
    ("no programme", lambda g, n: drop(g, n.p[18], DCTERMS.isPartOf), lambda n: (n.p[18], "dcterms:isPartOf", "")),
    ("a second programme that is a region", lambda g, n: add(g, n.p[19], DCTERMS.isPartOf, TOTTORI),
     lambda n: (n.p[19], "dcterms:isPartOf", "region:310000")),
    ("area served is a concept", lambda g, n: put(g, n.p[20], SCHEMA.areaServed, THEME),
     lambda n: (n.p[20], "schema:areaServed", "must be a schema:AdministrativeArea")),
    ("no area served (a warning)", lambda g, n: drop(g, n.p[21], SCHEMA.areaServed), None),
    ("audience from the theme scheme", lambda g, n: add(g, n.p[22], SCHEMA.audience, THEME),
     lambda n: (n.p[22], "schema:audience", "target-group scheme")),
    ("audience as text", lambda g, n: add(g, n.p[23], SCHEMA.audience, ja("子ども")),
     lambda n: (n.p[23], "schema:audience", '"子ども"@ja')),
    ("subject from the target-group scheme", lambda g, n: add(g, n.p[24], DCTERMS.subject, TARGET),
     lambda n: (n.p[24], "dcterms:subject", "theme scheme")),
    ("tag that is a region", lambda g, n: add(g, n.p[25], TG.tag, KOTOURA),
     lambda n: (n.p[25], "tg:tag", "Value does not have class tg:TagAssignment")),
    ("no source", lambda g, n: drop(g, n.p[26], PROV.wasDerivedFrom), lambda n: (n.p[26], "prov:wasDerivedFrom", "")),
    ("derived from a project", lambda g, n: add(g, n.p[27], PROV.wasDerivedFrom, n.p[0]),
     lambda n: (n.p[27], "prov:wasDerivedFrom", "a prov:Entity")),
    ("similar to a region", lambda g, n: add(g, n.p[28], TG.similarTo, TOTTORI),
     lambda n: (n.p[28], "tg:similarTo", "another schema:Project")),
    ("similar to a project (fine)", lambda g, n: add(g, n.p[29], TG.similarTo, n.p[30]), None),
    ("no source line", lambda g, n: drop(g, n.p[31], TG.sourceLine), lambda n: (n.p[31], "tg:sourceLine", "")),
    ("two source lines", lambda g, n: add(g, n.p[32], TG.sourceLine, Literal(999)),
     lambda n: (n.p[32], "tg:sourceLine", "exactly one")),
    ("source line zero", lambda g, n: put(g, n.p[33], TG.sourceLine, Literal(0)),
     lambda n: (n.p[33], "tg:sourceLine", '(value: "0")')),
    ("source line as text", lambda g, n: put(g, n.p[34], TG.sourceLine, Literal("x")),
     lambda n: (n.p[34], "tg:sourceLine", '(value: "x")')),
    ("two source pages", lambda g, n: two(g, n.p[41], TG.sourcePage, Literal(1), Literal(2)),
     lambda n: (n.p[41], "tg:sourcePage", "at most one tg:sourcePage")),
    ("source page as text", lambda g, n: put(g, n.p[42], TG.sourcePage, Literal("p. 3")),
     lambda n: (n.p[42], "tg:sourcePage", '(value: "p. 3")')),
    ("source page zero", lambda g, n: put(g, n.p[43], TG.sourcePage, Literal(0)),
     lambda n: (n.p[43], "tg:sourcePage", '(value: "0")')),
    ("two region texts", lambda g, n: two(g, n.p[35], TG.activityRegionText, ja("甲"), ja("乙")),
     lambda n: (n.p[35], "tg:activityRegionText", "More than 1 values")),
    ("region text without language", lambda g, n: put(g, n.p[36], TG.activityRegionText, Literal("plain")),
     lambda n: (n.p[36], "tg:activityRegionText", "Value is not Literal with datatype rdf:langString")),
    ("two highlight categories", lambda g, n: two(g, n.p[37], TG.highlightCategory, ja("甲"), ja("乙")),
     lambda n: (n.p[37], "tg:highlightCategory", "More than 1 values")),
    ("highlight category without language", lambda g, n: put(g, n.p[38], TG.highlightCategory, Literal(3)),
     lambda n: (n.p[38], "tg:highlightCategory", "rdf:langString")),
    ("a project that is a blank node", lambda g, n: add(g, BNode("proj"), RDF.type, SCHEMA.Project),
     lambda n: (BNode("proj"), "", "Value is not of Node Kind sh:IRI")),
    ("an instance of a subclass of Project", lambda g, n: (add(g, EX.Special, RDFS.subClassOf, SCHEMA.Project),
                                                           add(g, EX.special1, RDF.type, EX.Special)),
     lambda n: (EX.special1, "schema:identifier", "exactly one schema:identifier")),
    ("implemented by an instance of a subclass", lambda g, n: (
        add(g, EX.Npo, RDFS.subClassOf, SCHEMA.Organization), add(g, EX.npo1, RDF.type, EX.Npo),
        add(g, EX.npo1, SCHEMA.name, ja("団体")), put(g, n.p[39], TG.implementedBy, EX.npo1)), None),
    # concepts and schemes
    ("a concept that is a blank node", lambda g, n: add(g, BNode("concept"), RDF.type, SKOS.Concept),
     lambda n: (BNode("concept"), "skos:notation", "exactly one skos:notation")),
    ("concept without Japanese label", lambda g, n: drop_lang(g, n.concept[0], SKOS.prefLabel, "ja"),
     lambda n: (n.concept[0], "skos:prefLabel", "in Japanese")),
    ("concept without English label", lambda g, n: drop_lang(g, n.concept[1], SKOS.prefLabel, "en"),
     lambda n: (n.concept[1], "skos:prefLabel", "in English")),
    ("concept with two English labels", lambda g, n: add(g, n.concept[2], SKOS.prefLabel, Literal("Other", lang="en")),
     lambda n: (n.concept[2], "skos:prefLabel", "More than one String")),
    ("concept without notation", lambda g, n: drop(g, n.concept[3], SKOS.notation),
     lambda n: (n.concept[3], "skos:notation", "exactly one skos:notation")),
    ("concept with two notations", lambda g, n: add(g, n.concept[4], SKOS.notation, Literal("other")),
     lambda n: (n.concept[4], "", "does not end in its skos:notation other")),
    ("notation off pattern", lambda g, n: put(g, n.concept[5], SKOS.notation, Literal("Bad!")),
     lambda n: (n.concept[5], "skos:notation", '"Bad!"')),
    ("concept without scheme", lambda g, n: drop(g, n.concept[6], SKOS.inScheme),
     lambda n: (n.concept[6], "skos:inScheme", "needs skos:inScheme")),
    ("concept in a project", lambda g, n: put(g, n.concept[7], SKOS.inScheme, n.p[0]),
     lambda n: (n.concept[7], "skos:inScheme", "a skos:ConceptScheme")),
    ("broader is a region", lambda g, n: add(g, n.concept[8], SKOS.broader, TOTTORI),
     lambda n: (n.concept[8], "skos:broader", "Value does not have class skos:Concept")),
    ("broader in another scheme", lambda g, n: add(g, n.concept[9], SKOS.broader, TARGET),
     lambda n: (n.concept[9], "", "is in another scheme")),
    ("broader cycle", lambda g, n: add(g, n.concept[10], SKOS.broader, n.concept[10]),
     lambda n: (n.concept[10], "", "cycle")),
    ("a scheme that is a blank node", lambda g, n: add(g, BNode("scheme"), RDF.type, SKOS.ConceptScheme),
     lambda n: (BNode("scheme"), "skos:prefLabel", "Less than 1 values on [ rdf:type skos:ConceptScheme ]")),
    ("scheme with two Japanese labels", lambda g, n: add(g, n.scheme[0], SKOS.prefLabel, ja("別名")),
     lambda n: (n.scheme[0], "skos:prefLabel", "More than one String")),
    # tag assignments
    ("a tag that is a blank node", lambda g, n: add(g, BNode("tag"), RDF.type, TG.TagAssignment),
     lambda n: (BNode("tag"), "^tg:tag", "belongs to exactly one")),
    ("tag without concept", lambda g, n: drop(g, n.tag[1], TG.concept), lambda n: (n.tag[1], "tg:concept", "")),
    ("tag with two concepts", lambda g, n: add(g, n.tag[2], TG.concept, THEME), lambda n: (n.tag[2], "tg:concept", "")),
    ("tag of a region", lambda g, n: put(g, n.tag[3], TG.concept, TOTTORI),
     lambda n: (n.tag[3], "tg:concept", "a skos:Concept")),
    ("tag matched nowhere", lambda g, n: drop(g, n.tag[4], TG.matchedIn), lambda n: (n.tag[4], "tg:matchedIn", "")),
    ("tag matched twice", lambda g, n: two(g, n.tag[5], TG.matchedIn, Literal("title"), Literal("organization")),
     lambda n: (n.tag[5], "tg:matchedIn", "must be one of")),
    ("tag matched in the body", lambda g, n: put(g, n.tag[6], TG.matchedIn, Literal("body")),
     lambda n: (n.tag[6], "tg:matchedIn", '(value: "body")')),
    ("tag without evidence", lambda g, n: drop(g, n.tag[7], TG.evidence), lambda n: (n.tag[7], "tg:evidence", "")),
    ("evidence without language", lambda g, n: put(g, n.tag[8], TG.evidence, Literal("plain")),
     lambda n: (n.tag[8], "tg:evidence", '"plain"')),
    ("tag of no project", lambda g, n: drop(g, None, TG.tag, n.tag[9]), lambda n: (n.tag[9], "^tg:tag", "")),
    ("tag of two projects", lambda g, n: add(g, n.p[40], TG.tag, n.tag[10]), lambda n: (n.tag[10], "^tg:tag", "")),
    ("tag of a region", lambda g, n: add(g, KURAYOSHI, TG.tag, n.tag[11]),
     lambda n: (n.tag[11], "^tg:tag", "region:312037")),
    ("a theme linked without its tag", lambda g, n: link_untagged(g, n.p[41]),
     lambda n: (n.p[41], "", "dcterms:subject without a tg:TagAssignment, or the reverse")),
    ("a tag whose concept is not linked", lambda g, n: unlink_tagged(g, n.tag[12]),
     lambda n: (owner(n.tag[12]), "", "dcterms:subject without a tg:TagAssignment, or the reverse")),
    # similarity links
    ("link without score", lambda g, n: link(g, EX.l0, score=None), lambda n: (EX.l0, "tg:score", "")),
    ("link without source", lambda g, n: link(g, EX.l1, linkFrom=None), lambda n: (EX.l1, "tg:linkFrom", "")),
    ("link from a region", lambda g, n: link(g, EX.l2, linkFrom=TOTTORI), lambda n: (EX.l2, "tg:linkFrom", "")),
    ("link from two projects", lambda g, n: link(g, EX.l3, linkFrom=(n.p[0], n.p[1])), lambda n: (EX.l3, "tg:linkFrom", "")),
    ("link without target", lambda g, n: link(g, EX.l4, linkTo=None), lambda n: (EX.l4, "tg:linkTo", "")),
    ("link to a region", lambda g, n: link(g, EX.l5, linkTo=TOTTORI), lambda n: (EX.l5, "tg:linkTo", "region:310000")),
    ("link to two projects", lambda g, n: link(g, EX.l6, linkTo=(n.p[2], n.p[3])), lambda n: (EX.l6, "tg:linkTo", "")),
    ("two scores", lambda g, n: link(g, EX.l7, score=(Literal(Decimal("0.1")), Literal(Decimal("0.2")))),
     lambda n: (EX.l7, "tg:score", "")),
    ("score as text", lambda g, n: link(g, EX.l8, score=Literal("high")), lambda n: (EX.l8, "tg:score", '"high"')),
    ("rank zero", lambda g, n: link(g, EX.l9, rank=Literal(0)), lambda n: (EX.l9, "tg:rank", '"0"')),
    ("rank as text", lambda g, n: link(g, EX.l10, rank=Literal("first")), lambda n: (EX.l10, "tg:rank", '"first"')),
    ("no rank", lambda g, n: link(g, EX.l11, rank=None), lambda n: (EX.l11, "tg:rank", "")),
    ("two ranks", lambda g, n: link(g, EX.l12, rank=(Literal(1), Literal(2))), lambda n: (EX.l12, "tg:rank", "")),
    ("a link that is a blank node", lambda g, n: link(g, BNode("link")),
     lambda n: (BNode("link"), "", "Value is not of Node Kind sh:IRI")),
    # organisations, programme, source
    ("an organisation that is a blank node", lambda g, n: add(g, BNode("org"), RDF.type, SCHEMA.Organization),
     lambda n: (BNode("org"), "schema:name", "exactly one schema:name")),
    ("organisation without name", lambda g, n: drop(g, n.org[2], SCHEMA.name), lambda n: (n.org[2], "schema:name", "")),
    ("organisation with two names", lambda g, n: add(g, n.org[3], SCHEMA.name, ja("別名")),
     lambda n: (n.org[3], "schema:name", "")),
    ("organisation name without language", lambda g, n: put(g, n.org[4], SCHEMA.name, Literal("SKY")),
     lambda n: (n.org[4], "schema:name", '"SKY"')),
    ("two legal forms", lambda g, n: two(g, n.org[5], TG.legalForm, concept_iri("legal-form", "npo"),
                                         concept_iri("legal-form", "certified-npo")),
     lambda n: (n.org[5], "tg:legalForm", "legal-form scheme")),
    ("legal form from the theme scheme", lambda g, n: put(g, n.org[6], TG.legalForm, THEME),
     lambda n: (n.org[6], "tg:legalForm", "legal-form scheme")),
    ("organisation with two labels", lambda g, n: add(g, n.org[7], SKOS.prefLabel, ja("別名")),
     lambda n: (n.org[7], "skos:prefLabel", "More than 1 values on orgn:")),
    ("a programme that is a blank node", lambda g, n: add(g, BNode("programme"), RDF.type, SCHEMA.FundingScheme),
     lambda n: (BNode("programme"), "schema:identifier", "Less than 1 values on [ rdf:type schema:FundingScheme ]")),
    ("a programme with nothing", lambda g, n: add(g, URIRef(BASE + "programme/empty"), RDF.type, SCHEMA.FundingScheme),
     lambda n: (URIRef(BASE + "programme/empty"), "schema:name", "Less than 1 values on <https://w3id.org/")),
    ("programme with two identifiers", lambda g, n: add(g, n.programme, SCHEMA.identifier, Literal("other")),
     lambda n: (n.programme, "schema:identifier", "More than 1 values")),
    ("programme with two English names", lambda g, n: add(g, n.programme, SCHEMA.name, Literal("Other", lang="en")),
     lambda n: (n.programme, "schema:name", "More than one String")),
    ("source hash off pattern, and two of them", lambda g, n: add(g, n.source, TG.sha256, Literal("ABC")),
     lambda n: (n.source, "tg:sha256", '"ABC"')),
    ("source with two names", lambda g, n: add(g, n.source, SCHEMA.name, Literal("other.csv")),
     lambda n: (n.source, "schema:name", "More than 1 values")),
    ("a source that is a blank node", lambda g, n: add(g, BNode("src"), RDF.type, PROV.Entity),
     lambda n: (BNode("src"), "tg:sha256", "64 lower-case hex digits")),
    # administrative areas
    ("an area that is a blank node", lambda g, n: add(g, BNode("area"), RDF.type, SCHEMA.AdministrativeArea),
     lambda n: (BNode("area"), "", "Value is not of Node Kind sh:IRI")),
    ("area code as an integer", lambda g, n: put(g, n.area[0], DCTERMS.identifier, Literal(123456)),
     lambda n: (n.area[0], "dcterms:identifier", '(value: "123456")')),
    ("area with two codes", lambda g, n: add(g, n.area[1], DCTERMS.identifier, Literal("999999")),
     lambda n: (n.area[1], "dcterms:identifier", "6-digit")),
    ("area without code", lambda g, n: drop(g, n.area[2], DCTERMS.identifier), lambda n: (n.area[2], "dcterms:identifier", "")),
    ("area with a 5-digit code", lambda g, n: put(g, n.area[3], DCTERMS.identifier, Literal("31201")),
     lambda n: (n.area[3], "dcterms:identifier", '"31201"')),
    ("area with a bad check digit", lambda g, n: put(g, n.area[4], DCTERMS.identifier, Literal("312038")),
     lambda n: (n.area[4], "", "check digit of local government code 312038 is wrong (expected 7)")),
    ("area without Japanese name", lambda g, n: drop_lang(g, n.area[5], SCHEMA.name, "ja"),
     lambda n: (n.area[5], "schema:name", "in Japanese")),
    ("area with two Japanese names", lambda g, n: add(g, n.area[6], SCHEMA.name, ja("別名")),
     lambda n: (n.area[6], "schema:name", "exactly one schema:name in Japanese")),
    ("area without parent", lambda g, n: drop(g, n.area[7], SCHEMA.containedInPlace),
     lambda n: (n.area[7], "schema:containedInPlace", "")),
    ("area with two parents", lambda g, n: add(g, n.area[8], SCHEMA.containedInPlace, TOTTORI),
     lambda n: (n.area[8], "schema:containedInPlace", "")),
    ("area inside a concept", lambda g, n: put(g, n.area[9], SCHEMA.containedInPlace, THEME),
     lambda n: (n.area[9], "schema:containedInPlace", "contained in exactly one place")),
    ("prefecture inside a city", lambda g, n: put(g, TOTTORI, SCHEMA.containedInPlace, KOTOURA),
     lambda n: (TOTTORI, "", "does not fit the code 310000")),
    ("area level city", lambda g, n: put(g, n.area[10], TG.level, Literal("city")),
     lambda n: (n.area[10], "tg:level", 'Value Literal("city") not in list')),
    ("area with two levels", lambda g, n: add(g, n.area[11], TG.level, Literal("ward")),
     lambda n: (n.area[11], "tg:level", "More than 1 values")),
    ("reading not in hiragana", lambda g, n: put(g, n.area[12], TG.reading, ja("よみ")),
     lambda n: (n.area[12], "tg:reading", 'String language is not in ( Literal("ja-Hira") )')),
    ("reading with a region subtag", lambda g, n: put(g, n.area[13], TG.reading, Literal("よみ", lang="ja-Hira-JP")),
     lambda n: (n.area[13], "tg:reading", "String language is not in")),
    ("two readings", lambda g, n: add(g, n.area[14], TG.reading, Literal("べつ", lang="ja-Hira")),
     lambda n: (n.area[14], "tg:reading", "More than 1 values")),
    ("romaji in English", lambda g, n: put(g, n.area[15], TG.romaji, Literal("Town", lang="en")),
     lambda n: (n.area[15], "tg:romaji", "String language is not in")),
    ("two romaji", lambda g, n: add(g, n.area[16], TG.romaji, Literal("Betsu", lang="ja-Latn")),
     lambda n: (n.area[16], "tg:romaji", "More than 1 values")),
    # regional blocks and districts
    ("block that is not a place", lambda g, n: drop(g, n.block[0], RDF.type, SCHEMA.Place),
     lambda n: (n.block[0], "", "Value does not have class schema:Place")),
    ("block id off pattern", lambda g, n: put(g, n.block[1], SCHEMA.identifier, Literal("Bad Block")),
     lambda n: (n.block[1], "schema:identifier", "Value does not match pattern '^[a-z-]+$'")),
    ("block without id", lambda g, n: drop(g, n.block[2], SCHEMA.identifier),
     lambda n: (n.block[2], "schema:identifier", "Less than 1 values")),
    ("block with two ids", lambda g, n: add(g, n.block[3], SCHEMA.identifier, Literal("other")),
     lambda n: (n.block[3], "schema:identifier", "More than 1 values")),
    ("block without Japanese name", lambda g, n: drop_lang(g, n.block[4], SCHEMA.name, "ja"),
     lambda n: (n.block[4], "schema:name", "Focus node does not conform to shape MinCount 1 MaxCount 1")),
    ("block with two Japanese names", lambda g, n: add(g, n.block[5], SCHEMA.name, ja("別名")),
     lambda n: (n.block[5], "schema:name", "MaxCount 1")),
    ("block inside something", lambda g, n: add(g, n.block[6], SCHEMA.containedInPlace, TOTTORI),
     lambda n: (n.block[6], "schema:containedInPlace", "top of the hierarchy")),
    ("district that is not a place, without name, in a block and a prefecture", lambda g, n: (
        drop(g, n.district, RDF.type, SCHEMA.Place), drop(g, n.district, SCHEMA.name),
        add(g, n.district, SCHEMA.containedInPlace, n.block[7])),
     lambda n: (n.district, "schema:containedInPlace", "exactly one prefecture")),
    ("a block and a district that are blank nodes", lambda g, n: (
        add(g, BNode("block"), RDF.type, TG.RegionalBlock), add(g, BNode("district"), RDF.type, TG.District)),
     lambda n: (BNode("block"), "", "Value is not of Node Kind sh:IRI")),
    ("district without parent, with two names", lambda g, n: (
        add(g, EX.district, RDF.type, TG.District), add(g, EX.district, RDF.type, SCHEMA.Place),
        add(g, EX.district, SCHEMA.name, ja("甲郡")), add(g, EX.district, SCHEMA.name, ja("乙郡"))),
     lambda n: (EX.district, "schema:name", "exactly one schema:name in Japanese")),
]


@pytest.fixture(scope="module")
def damaged(graph):
    g, n = copy(graph), nodes(graph)
    for _, change, _ in CHANGES:
        change(g, n)
    return g, n


@pytest.fixture(scope="module")
def both(damaged):
    """(pyshacl's results, kg.validate's results, (check, rows) for every compiled check) on the damaged graph."""
    g, _ = damaged
    reference = pyshacl_results(g)
    store = oxigraph_of(g)
    checks, rows = shape_checks(store), {}
    run_checks(store, checks, store_terms(store, g.namespace_manager),
               timing=lambda check, seconds, n: rows.__setitem__(id(check), n))
    return reference, validate_graph(g), [(check.source, rows[id(check)]) for check in checks]


@pytest.mark.slow
def test_bundled_graph_same_as_pyshacl(graph):
    conforms, violations, warnings = pyshacl_results(graph)
    result = validate_graph(graph)
    assert conforms and result.conforms
    assert result.violations == violations == [] and result.warnings == warnings == []


@pytest.mark.slow
def test_damaged_graph_same_results_as_pyshacl(both):
    (conforms, violations, warnings), result, _ = both
    assert not conforms and not result.conforms
    assert len(result.violations) > 100
    assert comparable(result.violations) == comparable(violations)
    assert comparable(result.warnings) == comparable(warnings)


@pytest.mark.slow
def test_every_compiled_check_fires_on_the_damaged_graph(both):
    """Every constraint of every shape in shapes.ttl is exercised by at least one change above."""
    *_, rows = both
    assert len(rows) > 100
    silent = [source for source, count in rows if not count]
    assert not silent, "no change above breaks:\n" + "\n".join(silent)


@pytest.mark.parametrize("expected", [c[2] for c in CHANGES], ids=[c[0] for c in CHANGES])
def test_each_change_is_reported_at_its_node(both, damaged, expected):
    _, result, _ = both
    if expected is None:
        return
    focus, path, words = expected(damaged[1])
    found = [str(v) for v in result.violations if v.focus == short(focus) and v.path == path]
    assert any(words in text for text in found), f"{short(focus)} {path}: no {words!r} in {found}"


def test_unresolved_area_is_a_warning_only(both, damaged):
    _, result, _ = both
    focus = short(damaged[1].p[21])
    assert [str(w) for w in result.warnings if w.focus == focus] == [
        f"{focus} schema:areaServed: a project needs at least one schema:areaServed, "
        "a schema:AdministrativeArea or schema:Place"]
    assert not any(v.focus == focus for v in result.violations)


def test_store_on_disk_gives_the_graph_results(damaged, tmp_path):
    """validate_store on a bulk-loaded, read-only Oxigraph folder = validate_graph (no blank nodes here:
    bulk loading renames them)."""
    import pyoxigraph

    from kg.engines import load_oxigraph

    g = Graph()
    for triple in damaged[0]:
        if not any(isinstance(term, BNode) for term in triple):
            g.add(triple)
    (tmp_path / "graph.nt").write_bytes(g.serialize(format="nt", encoding="utf-8"))
    load_oxigraph(tmp_path / "graph.nt", tmp_path / "oxigraph")
    result = validate_store(pyoxigraph.Store.read_only(str(tmp_path / "oxigraph")))
    expected = validate_graph(copy_with_kg_prefixes(g))
    assert not result.conforms and result.violations == expected.violations and result.warnings == expected.warnings


def test_folder_checked_by_processes_gives_the_store_results(damaged, tmp_path):
    """validate_folder shares the checks among processes: the same violations and warnings, in the same
    order, as validate_store in one process (blank nodes included: the same folder is read)."""
    import pyoxigraph

    from kg.engines import load_oxigraph
    from kg.validate import validate_folder

    (tmp_path / "graph.nt").write_bytes(damaged[0].serialize(format="nt", encoding="utf-8"))
    store = load_oxigraph(tmp_path / "graph.nt", tmp_path / "oxigraph")
    del store
    one = validate_store(pyoxigraph.Store.read_only(str(tmp_path / "oxigraph")))
    shared = validate_folder(tmp_path / "oxigraph", workers=2)
    assert not one.conforms and any("blank node" in v.message for v in one.violations)
    assert (shared.violations, shared.warnings, shared.text) == (one.violations, one.warnings, one.text)



@pytest.mark.parametrize("workers", [1, 2])
def test_no_blank_nodes_leaves_out_exactly_the_blank_node_checks(damaged, tmp_path, workers):
    """What the build says when the merged lines hold no "_:": the same result but the blank-node rule's."""
    from kg.engines import load_oxigraph
    from kg.validate import BLANK_NODE_SHAPE, validate_folder

    (tmp_path / "graph.nt").write_bytes(damaged[0].serialize(format="nt", encoding="utf-8"))
    store = load_oxigraph(tmp_path / "graph.nt", tmp_path / "oxigraph")
    del store                                            # closed: read by other processes
    full = validate_folder(tmp_path / "oxigraph", workers=workers)
    told = validate_folder(tmp_path / "oxigraph", workers=workers, no_blank_nodes=True)
    blank = [v for v in full.violations if "blank node in the data graph" in v.message]
    assert blank and BLANK_NODE_SHAPE == "tgsh:NoBlankNodeShape"
    assert told.violations == [v for v in full.violations if v not in blank] and told.warnings == full.warnings

def copy_with_kg_prefixes(graph: Graph) -> Graph:
    from kg.rdf import new_graph

    result = new_graph()
    result += graph
    return result


@pytest.mark.slow
def test_an_ill_formed_year_pyshacl_lets_through_is_a_violation(graph):
    """Where kg.validate is stricter than pyshacl, on purpose: rdflib checks no lexical form of
    xsd:gYear, so pyshacl takes "20x4" for a year; XML Schema (and kg.validate) do not."""
    g, p1 = copy(graph), project_iri("cao-kodoku-npo-model-fy2024-001")
    put(g, p1, TG.fiscalYear, Literal("20x4", datatype=XSD.gYear))
    _, reference, _ = pyshacl_results(g)
    assert reference == []
    assert [str(v) for v in validate_graph(g).violations] == [
        f'{short(p1)} tg:fiscalYear: a project needs exactly one tg:fiscalYear, an xsd:gYear such as "2024" '
        '(value: "20x4")']


def test_text_report_lists_violations_then_warnings(both):
    _, result, _ = both
    lines = result.text.splitlines()
    assert lines[0].startswith("SHACL (kg/data/shapes.ttl): the graph does not conform — ")
    assert f"{len(result.violations):,} violations" in lines[0]
    assert lines[1] == "violations (node, path: message):"
    assert lines[2] == f"  - {result.violations[0]}"
    assert "warnings (node, path: message):" in lines
    assert lines[-1] == f"  - {result.warnings[-1]}"


@pytest.fixture()
def broken_store(built_store, tmp_path) -> Path:
    """A copy of the built bundled store whose Oxigraph database lost an identifier and got a wrong code."""
    import shutil

    import pyoxigraph as ox

    from kg.store import Store

    store = tmp_path / "store"
    shutil.copytree(built_store, store)
    database = ox.Store(str(Store(store).generation() / "oxigraph"))
    p1 = ox.NamedNode(project_iri("cao-kodoku-npo-model-fy2024-001"))
    for quad in list(database.quads_for_pattern(p1, ox.NamedNode(str(SCHEMA.identifier)), None)):
        database.remove(quad)
    kurayoshi, code = ox.NamedNode(str(KURAYOSHI)), ox.NamedNode(str(DCTERMS.identifier))
    for quad in list(database.quads_for_pattern(kurayoshi, code, None)):
        database.remove(quad)
    database.add(ox.Quad(kurayoshi, code, ox.Literal("312038")))
    database.flush()
    del database
    return store


def test_validate_command_checks_the_database_and_exits_1_with_located_violations(broken_store, built_store):
    from click.testing import CliRunner

    from kg.cli import cli

    result = CliRunner().invoke(cli, ["validate", "--store", str(broken_store)])
    assert result.exit_code == 1
    assert "does not conform — 2 violations, 0 warnings" in result.output
    assert ("  - project:cao-kodoku-npo-model-fy2024-001 schema:identifier: a project needs exactly one "
            "schema:identifier like cao-kodoku-npo-model-fy2024-001") in result.output
    assert "  - region:312037: the check digit of local government code 312038 is wrong (expected 7)" in result.output
    good = CliRunner().invoke(cli, ["validate", "--store", str(built_store)])
    assert good.exit_code == 0 and "the graph conforms — 0 violations, 0 warnings" in good.output


def test_api_validate_reads_the_database_not_graph_nt(broken_store):
    from kg import Tsunagari

    kg = Tsunagari.open(broken_store)
    result = kg.validate()
    assert not result.conforms and len(result.violations) == 2
    assert "graph" not in kg.__dict__        # the rdflib graph was never parsed
