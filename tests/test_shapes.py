"""The SHACL shapes: the real graph conforms, and each kind of damage is caught at the right node."""
from __future__ import annotations

import csv
import re
from importlib import resources
from pathlib import Path

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SH, SKOS
from rdflib.plugins.sparql import prepareQuery

from kg.errors import ValidationError
from kg.validate import ValidationResult, Violation, ontology_graph, raise_for, shapes_graph, validate_graph
from kg.vocab import BASE, SCHEMA, TG, concept_iri, project_iri, region_iri, tag_iri

ROOT = Path(__file__).parents[1]
SOURCE = ROOT / "kg" / "data" / "r6_kodoku_koritsu_npo_model_projects.txt"
P1, P53 = project_iri("cao-kodoku-npo-model-fy2024-001"), project_iri("cao-kodoku-npo-model-fy2024-053")
TOTTORI_CITY, TOTTORI = region_iri("312011"), region_iri("310000")
TAG = tag_iri("cao-kodoku-npo-model-fy2024-053", "target-group", "hikikomori", "title")   # ひきこもりの状態にある方等…
ONTOLOGY = URIRef(BASE + "ontology")


@pytest.fixture(scope="module")
def graph() -> Graph:
    from kg.assemble import assemble
    from kg.rdf import to_graph
    from kg.sources import read_source

    return to_graph(assemble([read_source(SOURCE)]))


def copy(graph: Graph) -> Graph:
    result = Graph()
    result += graph
    return result


def short(node: URIRef) -> str:
    """How kg.validate names a node: project:…, region:…, or the full IRI in <>."""
    text = str(node)
    for prefix, namespace in (("project:", BASE + "project/"), ("region:", BASE + "region/")):
        if text.startswith(namespace):
            return prefix + text[len(namespace):]
    return f"<{text}>"


def test_the_real_graph_conforms_and_is_not_modified(graph):
    before = len(graph)
    result = validate_graph(graph)
    assert result.conforms, "\n".join(map(str, result.violations[:20]))
    assert result.violations == []
    assert len(graph) == before


# -- damage: (name, change the graph, expected focus node, text the violation must contain) -------------

def _remove(graph: Graph, s, p) -> None:
    graph.remove((s, p, None))


def _set(graph: Graph, s, p, o) -> None:
    graph.set((s, p, o))


KURAYOSHI, KOTOURA, HOKUEI = region_iri("312037"), region_iri("313718"), region_iri("313726")
LINK = URIRef(f"{P1}/similar/x")

# Each change touches its own node or property, so all of them are applied to one copy of the graph and
# validated once (validation takes ~0.75 s); each case then looks for its own violation.
MUTATIONS = [
    ("project without identifier", lambda g: _remove(g, P1, SCHEMA.identifier), P1, "schema:identifier"),
    ("project with a blank node", lambda g: g.add((P1, SCHEMA.location, BNode())), P1, "blank node"),
    ("a blank node subject", lambda g: g.add((BNode("b0"), RDF.type, SCHEMA.Place)), BNode("b0"), "blank node"),
    ("region with a 5-digit code", lambda g: _set(g, TOTTORI_CITY, DCTERMS.identifier, Literal("31201")),
     TOTTORI_CITY, "dcterms:identifier"),
    ("region with a bad check digit", lambda g: _set(g, KURAYOSHI, DCTERMS.identifier, Literal("312038")),
     KURAYOSHI, "check digit of local government code 312038 is wrong (expected 7)"),
    ("audience pointing at a theme",
     lambda g: g.add((P1, SCHEMA.audience, concept_iri("theme", "place-to-belong"))), P1,
     "schema:audience: schema:audience must be a skos:Concept of the target-group scheme"),
    ("audience without its tag assignment",
     lambda g: g.add((P53, SCHEMA.audience, concept_iri("target-group", "elderly"))), P53,
     "target-group/elderly is linked by schema:audience / dcterms:subject without a tg:TagAssignment"),
    ("fiscal year as an integer", lambda g: _set(g, P1, TG.fiscalYear, Literal(2024)), P1, "tg:fiscalYear"),
    ("two prior-adoption flags", lambda g: g.add((P1, TG.priorAdoption, Literal(True))), P1, "tg:priorAdoption"),
    ("implementedBy a region", lambda g: _set(g, P1, TG.implementedBy, TOTTORI), P1, "tg:implementedBy"),
    ("project without source", lambda g: _remove(g, P1, URIRef("http://www.w3.org/ns/prov#wasDerivedFrom")),
     P1, "prov:wasDerivedFrom"),
    ("prefecture inside a city", lambda g: _set(g, TOTTORI, SCHEMA.containedInPlace, KOTOURA),
     TOTTORI, "does not fit the code 310000"),
    ("town inside another prefecture's city",
     lambda g: _set(g, KOTOURA, SCHEMA.containedInPlace, region_iri("011002")), KOTOURA, "does not fit the code"),
    ("region without parent", lambda g: _remove(g, HOKUEI, SCHEMA.containedInPlace), HOKUEI,
     "schema:containedInPlace"),
    ("tag assignment without concept", lambda g: _remove(g, TAG, TG.concept), TAG, "tg:concept"),
    ("tag assignment matched nowhere", lambda g: _set(g, TAG, TG.matchedIn, Literal("body")), TAG, "tg:matchedIn"),
    ("concept without English label",
     lambda g: g.remove((concept_iri("target-group", "elderly"), SKOS.prefLabel, Literal("Older people", lang="en"))),
     concept_iri("target-group", "elderly"), "English"),
    ("concept hierarchy cycle",
     lambda g: g.add((concept_iri("theme", "food"), SKOS.broader, concept_iri("theme", "food"))),
     concept_iri("theme", "food"), "cycle"),
    ("similarity link without score",
     lambda g: (g.add((LINK, RDF.type, TG.SimilarityLink)), g.add((LINK, TG.linkFrom, P1)),
                g.add((LINK, TG.linkTo, P53))), LINK, "tg:score"),
]


@pytest.fixture(scope="module")
def damaged(graph) -> ValidationResult:
    copied = copy(graph)
    for _, change, _, _ in MUTATIONS:
        change(copied)
    return validate_graph(copied)


def _name(node) -> str:
    return f"_:{node}" if isinstance(node, BNode) else short(node)


@pytest.mark.parametrize("focus, text", [m[2:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS])
def test_damage_is_reported_at_the_right_node(damaged, focus, text):
    assert not damaged.conforms
    matching = [v for v in damaged.violations if v.focus == _name(focus) and text in str(v)]
    assert matching, f"no violation at {_name(focus)} mentioning {text!r}; got:\n" + "\n".join(
        str(v) for v in damaged.violations if v.focus == _name(focus))


def test_a_project_without_a_place_is_a_warning_not_a_violation(graph):
    """A row whose 活動地域 does not resolve loads with a warning (the build reports the row)."""
    copied = copy(graph)
    _remove(copied, P53, SCHEMA.areaServed)
    result = validate_graph(copied)
    assert result.conforms and result.violations == []
    assert any(w.focus == _name(P53) and "schema:areaServed" in str(w) for w in result.warnings)


def test_every_violation_comes_from_a_known_change(damaged):
    changed = {_name(m[2]) for m in MUTATIONS}
    strays = [v for v in damaged.violations if v.focus not in changed]
    assert not strays, "\n".join(map(str, strays))


def test_one_change_alone_is_caught(graph):
    copied = copy(graph)
    copied.remove((P1, SCHEMA.identifier, None))
    result = validate_graph(copied)
    assert [(v.focus, v.path) for v in result.violations] == [(short(P1), "schema:identifier")]


def test_raise_for_names_the_focus_node(graph):
    copied = copy(graph)
    copied.remove((P1, SCHEMA.identifier, None))
    with pytest.raises(ValidationError) as error:
        raise_for(validate_graph(copied))
    message = str(error.value)
    assert "1 SHACL constraint" in message
    assert "project:cao-kodoku-npo-model-fy2024-001 schema:identifier" in message


def test_raise_for_lists_the_first_violations_only():
    violations = [Violation(f"project:p{i}", "schema:name", "missing") for i in range(9)]
    with pytest.raises(ValidationError, match=r"and 4 more"):
        raise_for(ValidationResult(False, violations, ""))
    raise_for(ValidationResult(True, [], ""))      # a conforming result does not raise


# -- the check-digit rule, on every code of the gazetteer --------------------------------------------

def _check_digit_queries() -> tuple[str, str]:
    shapes = shapes_graph()
    shape = URIRef("https://w3id.org/tsunagari/shapes#CheckDigitShape")
    target = shapes.value(shapes.value(shape, SH.target), SH.select)
    constraint = shapes.value(shapes.value(shape, SH.sparql), SH.select)
    prefixes = "PREFIX schema: <https://schema.org/>\nPREFIX dcterms: <http://purl.org/dc/terms/>\n" \
               "PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>\n"
    return prefixes + str(target), prefixes + str(constraint).replace("$this", "?this")


def _areas(codes: list[str]) -> Graph:
    graph = Graph()
    for code in codes:
        graph.add((region_iri(code), RDF.type, SCHEMA.AdministrativeArea))
        graph.add((region_iri(code), DCTERMS.identifier, Literal(code)))
    return graph


def _expected_check_digit(code: str) -> int:
    r = sum(w * int(d) for w, d in zip((6, 5, 4, 3, 2), code[:5])) % 11
    return (11 - r) % 10


@pytest.mark.slow
def test_check_digit_sparql_accepts_every_real_code_and_rejects_every_wrong_digit():
    rows = csv.DictReader(resources.files("kg").joinpath("data/gazetteer.csv").read_text(encoding="utf-8")
                          .splitlines())
    every = [row["code"] for row in rows]
    assert len(every) > 1900
    codes = every[::3]                         # a third of them (~2 s less) still has every remainder r
    assert {sum(w * int(d) for w, d in zip((6, 5, 4, 3, 2), c[:5])) % 11 for c in codes} == set(range(11))
    target, constraint = _check_digit_queries()
    assert list(_areas(codes).query(target)) == []
    wrong = [c[:5] + str((int(c[5]) + 1 + i % 9) % 10) for i, c in enumerate(codes[::5])]
    found = {str(row[0]).rsplit("/", 1)[1] for row in _areas(wrong).query(target)}
    assert found == set(wrong)
    per_node = prepareQuery(constraint)
    for code, right in list(zip(wrong, codes[::5]))[:25]:
        (row,) = _areas([code]).query(per_node, initBindings={"this": region_iri(code)})
        assert int(row.expected) == _expected_check_digit(code) == int(right[5])


# -- the ontology declares what the graph uses --------------------------------------------------------

def _tg_terms_in_rdf_py() -> set[URIRef]:
    text = (ROOT / "kg" / "rdf.py").read_text(encoding="utf-8")
    return {TG[name] for name in re.findall(r"\bTG\.(\w+)", text)}


def test_ontology_declares_every_tg_term(graph):
    ontology = ontology_graph()
    used = {p for p in graph.predicates() if str(p).startswith(str(TG))}
    used |= {o for o in graph.objects(None, RDF.type) if str(o).startswith(str(TG))}
    used |= _tg_terms_in_rdf_py()
    assert TG.fiscalYear in used and TG.RegionalBlock in used
    for term in sorted(used):
        kinds = set(ontology.objects(term, RDF.type))
        assert kinds & {OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty}, f"{term} is not declared"
        for predicate in (RDFS.label, RDFS.comment):
            languages = {o.language for o in ontology.objects(term, predicate)}
            assert {"ja", "en"} <= languages, f"{term}: {predicate} needs ja and en"
        if OWL.Class not in kinds:
            assert ontology.value(term, RDFS.domain) and ontology.value(term, RDFS.range), f"{term}: domain/range"
        assert ontology.value(term, RDFS.isDefinedBy) == ONTOLOGY


def test_ontology_header_and_no_blank_nodes():
    ontology = ontology_graph()
    assert (ONTOLOGY, RDF.type, OWL.Ontology) in ontology
    assert ontology.value(ONTOLOGY, DCTERMS.license) == URIRef("https://creativecommons.org/licenses/by/4.0/")
    assert {t.language for t in ontology.objects(ONTOLOGY, DCTERMS.title)} == {"ja", "en"}
    assert ontology.value(ONTOLOGY, DCTERMS.creator) and ontology.value(ONTOLOGY, OWL.versionInfo)
    assert not any(isinstance(term, BNode) for triple in ontology for term in triple)


def test_reused_terms_have_usage_notes():
    ontology = ontology_graph()
    for term in (SCHEMA.Project, SCHEMA.areaServed, SCHEMA.audience, DCTERMS.subject, SCHEMA.containedInPlace,
                 DCTERMS.identifier, DCTERMS.isPartOf, URIRef("http://www.w3.org/ns/prov#wasDerivedFrom"),
                 SKOS.Concept):
        assert {n.language for n in ontology.objects(term, SKOS.scopeNote)} == {"ja", "en"}, term


def test_shapes_use_only_declared_tg_terms():
    ontology, shapes = ontology_graph(), shapes_graph()
    mentioned = {t for triple in shapes for t in triple if isinstance(t, URIRef) and str(t).startswith(str(TG))}
    text = "\n".join(str(o) for o in shapes.objects(None, SH.select))
    mentioned |= {TG[name] for name in re.findall(r"\btg:(\w+)", text)}
    for term in mentioned:
        assert (term, RDFS.label, None) in ontology, f"shapes use undeclared {term}"
