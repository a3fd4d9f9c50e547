"""The JSON view of a project: what `tsunagari show --json`, the API and the store's projects.json give."""
from __future__ import annotations

from typing import Any, cast

from kg.normalize.concepts import ConceptSchemes
from kg.normalize.organizations import LEGAL_FORMS
from kg.normalize.regions import Gazetteer
from kg.records import PlaceRef, Project
from kg.shapes import ProjectView, ProvenanceView, RegionView, TagView
from kg.vocab import organization_iri, project_iri


def project_view(project: Project, gazetteer: Gazetteer, concepts: ConceptSchemes) -> ProjectView:
    """A plain dict (JSON-ready) with the project, its organisation, regions and concepts resolved."""
    org = project.organization
    form = LEGAL_FORMS.get(org.legal_form) if org.legal_form else None
    return {
        "id": project.id,
        "iri": str(project_iri(project.id)),
        "programme": project.programme,
        "fiscal_year": project.fiscal_year,
        "number": project.number,
        "title": project.title,
        "alt_titles": list(project.alt_titles),
        "organization": {
            "name": org.name, "written": org.written, "key": org.key, "iri": str(organization_iri(org.key)),
            "legal_form": org.legal_form, "legal_form_ja": form.ja if form else None,
            "legal_form_en": form.en if form else None,
            "trade_name": org.trade_name, "department": org.department,
        },
        "region_text": project.region_text,
        "region_qualifiers": list(project.regions.qualifiers),
        "regions": [region_view(place, gazetteer) for place in project.regions.places],
        "target_groups": _tags(project, "target-group", concepts),
        "themes": _tags(project, "theme", concepts),
        "prior_adoption": project.prior_adoption,
        "category": project.category,
        "description": project.description,
        "provenance": _provenance(project),
    }


def _provenance(project: Project) -> ProvenanceView:
    provenance: ProvenanceView = {"file": project.provenance.file, "line": project.provenance.line}
    if project.provenance.page is not None:
        provenance["page"] = project.provenance.page
    return provenance


def region_view(place: PlaceRef, gazetteer: Gazetteer) -> RegionView:
    """One place of a project with its code, level, prefecture and block."""
    view: dict[str, Any] = {"name": place.surface, "code": None, "level": place.kind, "prefecture": None,
                            "prefecture_code": None, "block": None, "qualifier": place.qualifier, "key": place.key}
    if place.kind == "block":
        view["block"] = place.key.split(":", 1)[1]
        return cast(RegionView, view)
    if place.kind == "district":
        prefecture = gazetteer.get(place.key.split(":")[1])
        view.update(name=place.key.split(":", 2)[2], prefecture=prefecture.name,
                    prefecture_code=prefecture.code, block=prefecture.block)
        return cast(RegionView, view)
    region = gazetteer.get(place.key)
    prefecture = gazetteer.get(region.prefecture_code)
    view.update(name=region.name, name_en=region.name_en, code=region.code, level=region.level,
                prefecture=prefecture.name, prefecture_code=prefecture.code, block=region.block,
                parent_code=region.parent_code or None)
    return cast(RegionView, view)


def _tags(project: Project, scheme: str, concepts: ConceptSchemes) -> list[TagView]:
    merged: dict[str, TagView] = {}
    for tag in project.tags:
        if tag.scheme != scheme:
            continue
        concept = concepts.get(scheme, tag.concept)
        entry = merged.setdefault(tag.concept, {"id": tag.concept, "ja": concept.ja, "en": concept.en,
                                                "evidence": [], "fields": []})
        entry["evidence"] += [w for w in tag.evidence if w not in entry["evidence"]]
        if tag.field not in entry["fields"]:
            entry["fields"].append(tag.field)
    return [merged[key] for key in sorted(merged)]
