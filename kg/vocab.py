"""Namespaces and IRI minting, in one place. IRIs derive from ids only, so the same input gives the same graph."""
from __future__ import annotations

import hashlib
from functools import lru_cache

from rdflib import Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SKOS, XSD

BASE = "https://w3id.org/tsunagari/"
TG = Namespace(BASE + "ontology#")
SCHEMA = Namespace("https://schema.org/")
ORG = Namespace("http://www.w3.org/ns/org#")
SH = Namespace("http://www.w3.org/ns/shacl#")

PREFIXES = {
    "tg": TG, "schema": SCHEMA, "org": ORG, "skos": SKOS, "dcterms": DCTERMS, "prov": PROV,
    "rdfs": RDFS, "rdf": RDF, "xsd": XSD, "owl": OWL,
    "project": Namespace(BASE + "project/"), "region": Namespace(BASE + "region/"),
    "orgn": Namespace(BASE + "organization/"),
}


def short_hash(text: str, length: int = 12) -> str:
    """A stable ASCII token for a Japanese key (IRIs stay ASCII for tools that dislike IRIs with kanji)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


# Each IRI is minted as text by a ``*_iri_text`` function (what the N-Triples writers use: no rdflib term
# per IRI at a million projects) and as an rdflib URIRef by its twin.

def project_iri_text(project_id: str) -> str:
    return f"{BASE}project/{project_id}"


@lru_cache(maxsize=100_000)
def organization_iri_text(key: str) -> str:
    return f"{BASE}organization/{short_hash(key)}"


def region_iri_text(key: str) -> str:
    """6-digit codes -> region/131164; 'block:kanto' -> region/block/kanto; districts by a hash of their key."""
    if key.startswith("block:"):
        return f"{BASE}region/block/{key.split(':', 1)[1]}"
    if key.startswith("district:"):
        return f"{BASE}region/district/{short_hash(key)}"
    return f"{BASE}region/{key}"


def concept_iri_text(scheme: str, concept: str) -> str:
    return f"{BASE}concept/{scheme}/{concept}"


def similarity_iri_text(project_id: str, other_id: str) -> str:
    return f"{BASE}project/{project_id}/similar/{other_id}"


def programme_iri_text(programme: str) -> str:
    return f"{BASE}programme/{programme}"


def source_iri_text(sha256: str) -> str:
    return f"{BASE}source/{sha256[:16]}"


def tag_iri_text(project_id: str, scheme: str, concept: str, field: str) -> str:
    """One tag assignment per concept and per field it was found in (title, description, organization)."""
    return f"{BASE}project/{project_id}/tag/{scheme}/{concept}/{field}"


def project_iri(project_id: str) -> URIRef:
    return URIRef(project_iri_text(project_id))


def organization_iri(key: str) -> URIRef:
    return URIRef(organization_iri_text(key))


def region_iri(key: str) -> URIRef:
    """6-digit codes -> region/131164; 'block:kanto' -> region/block/kanto; districts by a hash of their key."""
    return URIRef(region_iri_text(key))


def concept_iri(scheme: str, concept: str) -> URIRef:
    return URIRef(concept_iri_text(scheme, concept))


def scheme_iri(scheme: str) -> URIRef:
    return URIRef(f"{BASE}concept/{scheme}")


def legal_form_iri(form: str) -> URIRef:
    return URIRef(f"{BASE}concept/legal-form/{form}")


def similarity_iri(project_id: str, other_id: str) -> URIRef:
    return URIRef(similarity_iri_text(project_id, other_id))


def funder_iri(name: str) -> URIRef:
    return URIRef(f"{BASE}organization/funder/{short_hash(name)}")


def programme_iri(programme: str) -> URIRef:
    return URIRef(programme_iri_text(programme))


def source_iri(sha256: str) -> URIRef:
    return URIRef(source_iri_text(sha256))


def tag_iri(project_id: str, scheme: str, concept: str, field: str) -> URIRef:
    """One tag assignment per concept and per field it was found in (title, description, organization)."""
    return URIRef(tag_iri_text(project_id, scheme, concept, field))
