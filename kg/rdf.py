"""Records -> RDF, as N-Triples lines: the writers every build uses, at every size.

    >>> from kg.rdf import project_lines, to_graph
    >>> lines = project_lines(project, source_sha)       # doctest: +SKIP
    >>> graph = to_graph(dataset)                         # doctest: +SKIP

Each writer returns the lines (``"<s> <p> <o> .\\n"``) of one part of the graph: a project, an
organisation, the regions, the programmes, the sources, the vocabularies, a project's similarity
links. The build sorts and deduplicates them into ``graph.nt``; ``to_graph`` parses the same lines into
an rdflib Graph for small in-memory use. The lines are byte for byte what rdflib's N-Triples serializer
writes for the same terms (``nt_line`` does it for rdflib terms; tests/test_rdf.py compares them).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS, SKOS, XSD

from kg.assemble import Dataset, SourceInfo
from kg.normalize.concepts import ConceptSchemes
from kg.normalize.organizations import LEGAL_FORMS
from kg.normalize.regions import Gazetteer
from kg.records import Organization, Project
from kg.sources.programmes import programme_by_id
from kg.vocab import (
    BASE, ORG, PREFIXES, SCHEMA, TG, concept_iri_text, funder_iri, legal_form_iri, organization_iri_text,
    programme_iri_text, project_iri_text, region_iri_text, scheme_iri, similarity_iri_text, source_iri_text,
    tag_iri_text,
)

AUDIENCE_SCHEME = "target-group"


# ---- terms ------------------------------------------------------------------------------------------


def nt_iri(value: str) -> str:
    """An IRI as N-Triples writes it: ``<value>``."""
    return f"<{value}>"


def nt_literal(lexical: str, lang: str | None = None, datatype: str | None = None) -> str:
    """A literal as N-Triples writes it (the escapes of rdflib's serializer: \\\\ \\n \\" \\r)."""
    text = '"' + lexical.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"').replace("\r", "\\r") + '"'
    if lang:
        return f"{text}@{lang}"
    if datatype:
        return f"{text}^^<{datatype}>"
    return text


def nt_term(term: Any) -> str:
    """An rdflib term (IRI, literal or blank node) in N-Triples."""
    if isinstance(term, Literal):
        return nt_literal(str(term), term.language, str(term.datatype) if term.datatype else None)
    if isinstance(term, BNode):
        return f"_:{term}"
    if isinstance(term, URIRef):
        return nt_iri(str(term))
    raise TypeError(f"not an RDF term: {term!r}")


def nt_line(subject: Any, predicate: Any, obj: Any) -> str:
    """One triple of rdflib terms as an N-Triples line (with its newline)."""
    return f"{nt_term(subject)} {nt_term(predicate)} {nt_term(obj)} .\n"


def graph_lines(graph: Graph) -> list[str]:
    """Every triple of an rdflib Graph as N-Triples lines (unsorted)."""
    return [nt_line(s, p, o) for s, p, o in graph]


def _iri(term: Any) -> str:
    return nt_iri(str(term))


def _text(value: str, lang: str = "ja") -> str:
    return nt_literal(value, lang)


def _bool(value: bool) -> str:
    return nt_literal("true" if value else "false", datatype=str(XSD.boolean))


A = _iri(RDF.type)
P_NAME, P_IDENTIFIER, P_LABEL = _iri(SCHEMA.name), _iri(SCHEMA.identifier), _iri(RDFS.label)
P_ALT, P_PREF = _iri(SKOS.altLabel), _iri(SKOS.prefLabel)
C_PROJECT = _iri(SCHEMA.Project)
P = {name: _iri(term) for name, term in {
    "number": TG.number, "fiscalYear": TG.fiscalYear, "priorAdoption": TG.priorAdoption,
    "isPartOf": DCTERMS.isPartOf, "implementedBy": TG.implementedBy, "regionText": TG.activityRegionText,
    "areaServed": SCHEMA.areaServed, "qualifier": TG.regionQualifier, "category": TG.highlightCategory,
    "description": SCHEMA.description, "audience": SCHEMA.audience, "subject": DCTERMS.subject, "tag": TG.tag,
    "concept": TG.concept, "matchedIn": TG.matchedIn, "evidence": TG.evidence,
    "derivedFrom": PROV.wasDerivedFrom, "sourceLine": TG.sourceLine, "sourcePage": TG.sourcePage,
}.items()}
C_TAG = _iri(TG.TagAssignment)
XSD_INTEGER, XSD_GYEAR = str(XSD.integer), str(XSD.gYear)


# ---- the writers ------------------------------------------------------------------------------------


def project_lines(project: Project, source_sha: str) -> list[str]:
    """The triples of one project: names, numbers, organisation, regions, tags with evidence, provenance.

    Its programme's own triples come from ``programme_lines`` (once per programme).
    """
    node = nt_iri(project_iri_text(project.id))
    out = [f"{node} {A} {C_PROJECT} .\n",
           f"{node} {P_IDENTIFIER} {nt_literal(project.id)} .\n"]
    title = _text(project.title)
    out += [f"{node} {P_NAME} {title} .\n", f"{node} {P_LABEL} {title} .\n"]
    out += [f"{node} {P_ALT} {_text(t)} .\n" for t in project.alt_titles]
    out += [f"{node} {P['number']} {nt_literal(str(project.number), datatype=XSD_INTEGER)} .\n",
            f"{node} {P['fiscalYear']} {nt_literal(str(project.fiscal_year), datatype=XSD_GYEAR)} .\n",
            f"{node} {P['priorAdoption']} {_bool(project.prior_adoption)} .\n",
            f"{node} {P['isPartOf']} {nt_iri(programme_iri_text(project.programme))} .\n",
            f"{node} {P['implementedBy']} {nt_iri(organization_iri_text(project.organization.key))} .\n",
            f"{node} {P['regionText']} {_text(project.region_text)} .\n"]
    out += [f"{node} {P['areaServed']} {nt_iri(region_iri_text(place.key))} .\n" for place in project.regions.places]
    out += [f"{node} {P['qualifier']} {_text(q)} .\n" for q in project.regions.qualifiers]
    if project.category:
        out.append(f"{node} {P['category']} {_text(project.category)} .\n")
    if project.description:
        out.append(f"{node} {P['description']} {_text(project.description)} .\n")
    for tag in project.tags:
        concept = nt_iri(concept_iri_text(tag.scheme, tag.concept))
        relation = P["audience"] if tag.scheme == AUDIENCE_SCHEME else P["subject"]
        assignment = nt_iri(tag_iri_text(project.id, tag.scheme, tag.concept, tag.field))
        out += [f"{node} {relation} {concept} .\n", f"{node} {P['tag']} {assignment} .\n",
                f"{assignment} {A} {C_TAG} .\n", f"{assignment} {P['concept']} {concept} .\n",
                f"{assignment} {P['matchedIn']} {nt_literal(tag.field)} .\n"]
        out += [f"{assignment} {P['evidence']} {_text(words)} .\n" for words in tag.evidence]
    if source_sha:
        out.append(f"{node} {P['derivedFrom']} {nt_iri(source_iri_text(source_sha))} .\n")
    out.append(f"{node} {P['sourceLine']} {nt_literal(str(project.provenance.line), datatype=XSD_INTEGER)} .\n")
    if project.provenance.page is not None:
        out.append(f"{node} {P['sourcePage']} {nt_literal(str(project.provenance.page), datatype=XSD_INTEGER)} .\n")
    return out


def programme_lines(programme_ids: Iterable[str]) -> list[str]:
    """Each programme (a schema:FundingScheme) with its names and its government funder."""
    out: list[str] = []
    for programme_id in sorted(set(programme_ids)):
        programme = programme_by_id(programme_id)
        node = nt_iri(programme_iri_text(programme_id))
        out += [f"{node} {A} {_iri(SCHEMA.FundingScheme)} .\n",
                f"{node} {P_IDENTIFIER} {nt_literal(programme.id)} .\n",
                f"{node} {P_NAME} {_text(programme.ja)} .\n", f"{node} {P_NAME} {_text(programme.en, 'en')} .\n"]
        if programme.funder_ja:
            # A government funder is not typed schema:Organization: that class lists implementing organisations.
            funder = _iri(funder_iri(programme.funder_ja))
            out += [f"{node} {_iri(SCHEMA.funder)} {funder} .\n",
                    f"{funder} {A} {_iri(SCHEMA.GovernmentOrganization)} .\n",
                    f"{funder} {P_NAME} {_text(programme.funder_ja)} .\n",
                    f"{funder} {P_NAME} {_text(programme.funder_en, 'en')} .\n"]
    return out


def organization_lines(organization: Organization, labels: Iterable[str] = ()) -> list[str]:
    """One organisation: its names as written (other spellings as skos:altLabel), legal form, 屋号, department."""
    node = nt_iri(organization_iri_text(organization.key))
    written = _text(organization.written)
    out = [f"{node} {A} {_iri(SCHEMA.Organization)} .\n", f"{node} {A} {_iri(ORG.Organization)} .\n",
           f"{node} {P_NAME} {_text(organization.name)} .\n", f"{node} {P_LABEL} {written} .\n",
           f"{node} {P_PREF} {written} .\n"]
    out += [f"{node} {P_ALT} {_text(label)} .\n" for label in sorted(labels)]
    if organization.legal_form:
        out.append(f"{node} {_iri(TG.legalForm)} {_iri(legal_form_iri(organization.legal_form))} .\n")
    if organization.trade_name:
        out.append(f"{node} {_iri(SCHEMA.alternateName)} {_text(organization.trade_name)} .\n")
    if organization.department:
        out.append(f"{node} {_iri(TG.department)} {_text(organization.department)} .\n")
    return out


def region_lines(gazetteer: Gazetteer, keys: Iterable[str]) -> list[str]:
    """All blocks and prefectures, plus every place in ``keys`` (place keys of projects) and those above it."""
    out: list[str] = []
    for block in gazetteer.blocks():
        node = nt_iri(region_iri_text(f"block:{block.id}"))
        out += [f"{node} {A} {_iri(SCHEMA.Place)} .\n", f"{node} {A} {_iri(TG.RegionalBlock)} .\n",
                f"{node} {P_IDENTIFIER} {nt_literal(block.id)} .\n", f"{node} {P_NAME} {_text(block.name)} .\n",
                f"{node} {P_NAME} {_text(block.name_en, 'en')} .\n", f"{node} {P_LABEL} {_text(block.name)} .\n"]
    codes = {r.code for r in gazetteer.prefectures()}
    for key in sorted(set(keys)):
        if key.startswith("district:"):
            _, prefecture_code, name = key.split(":", 2)
            node = nt_iri(region_iri_text(key))
            out += [f"{node} {A} {_iri(SCHEMA.Place)} .\n", f"{node} {A} {_iri(TG.District)} .\n",
                    f"{node} {P_NAME} {_text(name)} .\n", f"{node} {P_LABEL} {_text(name)} .\n",
                    f"{node} {_iri(SCHEMA.containedInPlace)} {nt_iri(region_iri_text(prefecture_code))} .\n"]
        elif not key.startswith("block:"):
            codes.update(r.code for r in gazetteer.ancestors(key) if hasattr(r, "code"))
            codes.add(key)
    for code in sorted(codes):
        region = gazetteer.get(code)
        node = nt_iri(region_iri_text(code))
        parent = region.parent_code or None
        above = region_iri_text(parent) if parent else region_iri_text(f"block:{region.block}")
        out += [f"{node} {A} {_iri(SCHEMA.AdministrativeArea)} .\n",
                f"{node} {_iri(DCTERMS.identifier)} {nt_literal(region.code)} .\n",
                f"{node} {P_NAME} {_text(region.name)} .\n", f"{node} {P_NAME} {_text(region.name_en, 'en')} .\n",
                f"{node} {P_LABEL} {_text(region.name)} .\n",
                f"{node} {_iri(TG.reading)} {_text(region.reading, 'ja-Hira')} .\n",
                f"{node} {_iri(TG.romaji)} {_text(region.romaji, 'ja-Latn')} .\n",
                f"{node} {_iri(TG.level)} {nt_literal(region.level)} .\n",
                f"{node} {_iri(SCHEMA.containedInPlace)} {nt_iri(above)} .\n"]
    return out


def source_lines(sources: Iterable[SourceInfo]) -> list[str]:
    """Each input file as a prov:Entity with its name, title and SHA-256."""
    out: list[str] = []
    for source in sources:
        node = nt_iri(source_iri_text(source.sha256))
        out += [f"{node} {A} {_iri(PROV.Entity)} .\n", f"{node} {P_NAME} {nt_literal(source.name)} .\n",
                f"{node} {_iri(DCTERMS.title)} {_text(source.title)} .\n",
                f"{node} {_iri(TG.sha256)} {nt_literal(source.sha256)} .\n"]
    return out


def vocabulary_lines(concepts: ConceptSchemes) -> list[str]:
    """The target-group and theme schemes (concepts.ttl) and the legal-form scheme."""
    out = graph_lines(concepts.graph())
    scheme = _iri(scheme_iri("legal-form"))
    out += [f"{scheme} {A} {_iri(SKOS.ConceptScheme)} .\n", f"{scheme} {P_PREF} {_text('法人格')} .\n",
            f"{scheme} {P_PREF} {_text('Legal forms', 'en')} .\n"]
    for form in LEGAL_FORMS.values():
        node = _iri(legal_form_iri(form.id))
        out += [f"{node} {A} {_iri(SKOS.Concept)} .\n", f"{node} {_iri(SKOS.inScheme)} {scheme} .\n",
                f"{node} {_iri(SKOS.notation)} {nt_literal(form.id)} .\n", f"{node} {P_PREF} {_text(form.ja)} .\n",
                f"{node} {P_PREF} {_text(form.en, 'en')} .\n"]
    out += [f"{_iri(legal_form_iri('npo'))} {P_ALT} {_text('NPO法人')} .\n",
            f"{_iri(legal_form_iri('certified-npo'))} {P_ALT} {_text('認定NPO法人')} .\n"]
    return out


def similarity_lines(source: str, hits: Iterable[tuple[str, float]]) -> list[str]:
    """A project's top-k "similar to" links, best first: a tg:similarTo edge and a tg:SimilarityLink
    node with score (4 decimals) and rank."""
    out: list[str] = []
    a = nt_iri(project_iri_text(source))
    for rank, (target, score) in enumerate(hits, start=1):
        b, link = nt_iri(project_iri_text(target)), nt_iri(similarity_iri_text(source, target))
        out += [f"{a} {_iri(TG.similarTo)} {b} .\n", f"{link} {A} {_iri(TG.SimilarityLink)} .\n",
                f"{link} {_iri(TG.linkFrom)} {a} .\n", f"{link} {_iri(TG.linkTo)} {b} .\n",
                f"{link} {_iri(TG.score)} {nt_literal(f'{float(score):.4f}', datatype=str(XSD.decimal))} .\n",
                f"{link} {_iri(TG.rank)} {nt_literal(str(rank), datatype=XSD_INTEGER)} .\n"]
    return out


# ---- graphs in memory -------------------------------------------------------------------------------


def new_graph() -> Graph:
    """An empty rdflib Graph with the project prefixes bound."""
    graph = Graph()
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace, override=True)
    return graph


def dataset_lines(data: Dataset, gazetteer: Gazetteer | None = None,
                  concepts: ConceptSchemes | None = None) -> list[str]:
    """Every line of a dataset's graph (unsorted, possibly repeated): what the build writes, in one list."""
    gazetteer = gazetteer or Gazetteer.load()
    concepts = concepts or ConceptSchemes.load()
    out = vocabulary_lines(concepts) + source_lines(data.sources)
    out += region_lines(gazetteer, {p.key for project in data.projects for p in project.regions.places})
    out += programme_lines(project.programme for project in data.projects)
    for key, organization in data.organizations.items():
        out += organization_lines(organization, data.org_labels.get(key, set()))
    sha_by_name = {s.name: s.sha256 for s in data.sources}
    for project in data.projects:
        out += project_lines(project, sha_by_name.get(project.provenance.file, ""))
    return out


def to_graph(data: Dataset, gazetteer: Gazetteer | None = None, concepts: ConceptSchemes | None = None) -> Graph:
    """The knowledge graph of a dataset as an rdflib Graph (for small, in-memory use: tests, notebooks).

    The same triples as the build's ``graph.nt``, from the same writers.
    """
    graph = new_graph()
    graph.parse(data="".join(dataset_lines(data, gazetteer, concepts)), format="nt")
    return graph


__all__ = ["to_graph", "new_graph", "dataset_lines", "project_lines", "programme_lines", "organization_lines",
           "region_lines", "source_lines", "vocabulary_lines", "similarity_lines", "nt_line", "nt_term",
           "nt_iri", "nt_literal", "graph_lines", "BASE"]
