"""Records -> rdflib Graph, a pure function. The graph is the source of truth for queries and exports."""
from __future__ import annotations

from rdflib import Graph, Literal
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS, SKOS, XSD

from kg.assemble import Dataset
from kg.normalize.concepts import ConceptSchemes
from kg.normalize.organizations import LEGAL_FORMS
from kg.normalize.regions import Gazetteer
from kg.records import Organization, Project
from kg.sources.programmes import programme_by_id
from kg.vocab import (
    BASE, ORG, PREFIXES, SCHEMA, TG, concept_iri, funder_iri, legal_form_iri, organization_iri, programme_iri,
    project_iri, region_iri, scheme_iri, similarity_iri, source_iri, tag_iri,
)

AUDIENCE_SCHEME = "target-group"
SUBJECT_SCHEME = "theme"


def new_graph() -> Graph:
    graph = Graph()
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace, override=True)
    return graph


def to_graph(data: Dataset, gazetteer: Gazetteer | None = None, concepts: ConceptSchemes | None = None) -> Graph:
    """Build the knowledge graph of a dataset: projects, organisations, regions, concepts, sources."""
    gazetteer = gazetteer or Gazetteer.load()
    concepts = concepts or ConceptSchemes.load()
    graph = new_graph()
    graph += concepts.graph()
    _add_legal_forms(graph)
    for source in data.sources:
        node = source_iri(source.sha256)
        graph.add((node, RDF.type, PROV.Entity))
        graph.add((node, SCHEMA.name, Literal(source.name)))
        graph.add((node, DCTERMS.title, Literal(source.title, lang="ja")))
        graph.add((node, TG.sha256, Literal(source.sha256)))
    place_keys = {p.key for project in data.projects for p in project.regions.places}
    _add_regions(graph, gazetteer, place_keys)
    for key, organization in data.organizations.items():
        _add_organization(graph, organization, data.org_labels.get(key, set()))
    sha_by_name = {s.name: s.sha256 for s in data.sources}
    for project in data.projects:
        _add_project(graph, project, sha_by_name.get(project.provenance.file, ""))
    return graph


def _add_project(graph: Graph, project: Project, source_sha: str) -> None:
    node = project_iri(project.id)
    add = graph.add
    add((node, RDF.type, SCHEMA.Project))
    add((node, SCHEMA.identifier, Literal(project.id)))
    add((node, SCHEMA.name, Literal(project.title, lang="ja")))
    add((node, RDFS.label, Literal(project.title, lang="ja")))
    for title in project.alt_titles:
        add((node, SKOS.altLabel, Literal(title, lang="ja")))
    add((node, TG.number, Literal(project.number, datatype=XSD.integer)))
    add((node, TG.fiscalYear, Literal(str(project.fiscal_year), datatype=XSD.gYear)))
    add((node, TG.priorAdoption, Literal(project.prior_adoption)))
    _add_programme(graph, project.programme)
    add((node, DCTERMS.isPartOf, programme_iri(project.programme)))
    add((node, TG.implementedBy, organization_iri(project.organization.key)))
    add((node, TG.activityRegionText, Literal(project.region_text, lang="ja")))
    for place in project.regions.places:
        add((node, SCHEMA.areaServed, region_iri(place.key)))
    for qualifier in project.regions.qualifiers:
        add((node, TG.regionQualifier, Literal(qualifier, lang="ja")))
    if project.category:
        add((node, TG.highlightCategory, Literal(project.category, lang="ja")))
    if project.description:
        add((node, SCHEMA.description, Literal(project.description, lang="ja")))
    for tag in project.tags:
        concept = concept_iri(tag.scheme, tag.concept)
        add((node, SCHEMA.audience if tag.scheme == AUDIENCE_SCHEME else DCTERMS.subject, concept))
        assignment = tag_iri(project.id, tag.scheme, tag.concept, tag.field)
        add((node, TG.tag, assignment))
        add((assignment, RDF.type, TG.TagAssignment))
        add((assignment, TG.concept, concept))
        add((assignment, TG.matchedIn, Literal(tag.field)))
        for words in tag.evidence:
            add((assignment, TG.evidence, Literal(words, lang="ja")))
    if source_sha:
        add((node, PROV.wasDerivedFrom, source_iri(source_sha)))
    add((node, TG.sourceLine, Literal(project.provenance.line, datatype=XSD.integer)))
    if project.provenance.page is not None:
        add((node, TG.sourcePage, Literal(project.provenance.page, datatype=XSD.integer)))


def _add_programme(graph: Graph, programme_id: str) -> None:
    node = programme_iri(programme_id)
    if (node, RDF.type, SCHEMA.FundingScheme) in graph:
        return
    programme = programme_by_id(programme_id)
    graph.add((node, RDF.type, SCHEMA.FundingScheme))
    graph.add((node, SCHEMA.identifier, Literal(programme.id)))
    graph.add((node, SCHEMA.name, Literal(programme.ja, lang="ja")))
    graph.add((node, SCHEMA.name, Literal(programme.en, lang="en")))
    if programme.funder_ja:
        # A government funder is not typed schema:Organization: that class lists implementing organisations.
        funder = funder_iri(programme.funder_ja)
        graph.add((node, SCHEMA.funder, funder))
        graph.add((funder, RDF.type, SCHEMA.GovernmentOrganization))
        graph.add((funder, SCHEMA.name, Literal(programme.funder_ja, lang="ja")))
        graph.add((funder, SCHEMA.name, Literal(programme.funder_en, lang="en")))


def _add_organization(graph: Graph, organization: Organization, labels: set[str]) -> None:
    node = organization_iri(organization.key)
    graph.add((node, RDF.type, SCHEMA.Organization))
    graph.add((node, RDF.type, ORG.Organization))
    graph.add((node, SCHEMA.name, Literal(organization.name, lang="ja")))
    graph.add((node, RDFS.label, Literal(organization.written, lang="ja")))
    graph.add((node, SKOS.prefLabel, Literal(organization.written, lang="ja")))
    for label in sorted(labels):
        graph.add((node, SKOS.altLabel, Literal(label, lang="ja")))
    if organization.legal_form:
        graph.add((node, TG.legalForm, legal_form_iri(organization.legal_form)))
    if organization.trade_name:
        graph.add((node, SCHEMA.alternateName, Literal(organization.trade_name, lang="ja")))
    if organization.department:
        graph.add((node, TG.department, Literal(organization.department, lang="ja")))


def _add_legal_forms(graph: Graph) -> None:
    scheme = scheme_iri("legal-form")
    graph.add((scheme, RDF.type, SKOS.ConceptScheme))
    graph.add((scheme, SKOS.prefLabel, Literal("法人格", lang="ja")))
    graph.add((scheme, SKOS.prefLabel, Literal("Legal forms", lang="en")))
    for form in LEGAL_FORMS.values():
        node = legal_form_iri(form.id)
        graph.add((node, RDF.type, SKOS.Concept))
        graph.add((node, SKOS.inScheme, scheme))
        graph.add((node, SKOS.notation, Literal(form.id)))
        graph.add((node, SKOS.prefLabel, Literal(form.ja, lang="ja")))
        graph.add((node, SKOS.prefLabel, Literal(form.en, lang="en")))
    npo = legal_form_iri("npo")
    graph.add((npo, SKOS.altLabel, Literal("NPO法人", lang="ja")))
    graph.add((legal_form_iri("certified-npo"), SKOS.altLabel, Literal("認定NPO法人", lang="ja")))


def _add_regions(graph: Graph, gazetteer: Gazetteer, keys: set[str]) -> None:
    """All blocks and prefectures, plus every place a project names and the places above it."""
    for block in gazetteer.blocks():
        node = region_iri(f"block:{block.id}")
        graph.add((node, RDF.type, SCHEMA.Place))
        graph.add((node, RDF.type, TG.RegionalBlock))
        graph.add((node, SCHEMA.identifier, Literal(block.id)))
        graph.add((node, SCHEMA.name, Literal(block.name, lang="ja")))
        graph.add((node, SCHEMA.name, Literal(block.name_en, lang="en")))
        graph.add((node, RDFS.label, Literal(block.name, lang="ja")))
    codes = {r.code for r in gazetteer.prefectures()}
    for key in keys:
        if key.startswith("district:"):
            _add_district(graph, gazetteer, key)
        elif not key.startswith("block:"):
            codes.update(r.code for r in gazetteer.ancestors(key) if hasattr(r, "code"))
            codes.add(key)
    for code in sorted(codes):
        region = gazetteer.get(code)
        node = region_iri(code)
        graph.add((node, RDF.type, SCHEMA.AdministrativeArea))
        graph.add((node, DCTERMS.identifier, Literal(region.code)))
        graph.add((node, SCHEMA.name, Literal(region.name, lang="ja")))
        graph.add((node, SCHEMA.name, Literal(region.name_en, lang="en")))
        graph.add((node, RDFS.label, Literal(region.name, lang="ja")))
        graph.add((node, TG.reading, Literal(region.reading, lang="ja-Hira")))
        graph.add((node, TG.romaji, Literal(region.romaji, lang="ja-Latn")))
        graph.add((node, TG.level, Literal(region.level)))
        parent = region.parent_code or None
        graph.add((node, SCHEMA.containedInPlace,
                   region_iri(parent) if parent else region_iri(f"block:{region.block}")))


def _add_district(graph: Graph, gazetteer: Gazetteer, key: str) -> None:
    _, prefecture_code, name = key.split(":", 2)
    node = region_iri(key)
    graph.add((node, RDF.type, SCHEMA.Place))
    graph.add((node, RDF.type, TG.District))
    graph.add((node, SCHEMA.name, Literal(name, lang="ja")))
    graph.add((node, RDFS.label, Literal(name, lang="ja")))
    graph.add((node, SCHEMA.containedInPlace, region_iri(prefecture_code)))


def add_similarity_links(graph: Graph, links: dict[str, list[dict]]) -> None:
    """Top-k "similar to" links: a direct tg:similarTo edge and a tg:SimilarityLink with score and rank."""
    for source in sorted(links):
        for rank, hit in enumerate(links[source], start=1):
            a, b = project_iri(source), project_iri(hit["id"])
            link = similarity_iri(source, hit["id"])
            graph.add((a, TG.similarTo, b))
            graph.add((link, RDF.type, TG.SimilarityLink))
            graph.add((link, TG.linkFrom, a))
            graph.add((link, TG.linkTo, b))
            graph.add((link, TG.score, Literal(f"{float(hit['score']):.4f}", datatype=XSD.decimal)))
            graph.add((link, TG.rank, Literal(rank, datatype=XSD.integer)))


__all__ = ["to_graph", "new_graph", "add_similarity_links", "BASE"]
