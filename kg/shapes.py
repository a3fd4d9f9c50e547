"""The shapes everything reads, defined once: a project view, a ranked result and its ``why``, an open store.

A project view is what ``kg.views.project_view`` makes, the store keeps and ``Tsunagari.project`` returns
(``tsunagari show --json``); a result is what ``Tsunagari.similar`` and ``search`` return. The CLI printer,
the DataFrames (kg.frames), the server's pages and their templates read these keys. The surfaces (frames,
pictures, export, push, the server) type against ``OpenStore`` rather than importing the facade, so no
module imports from a layer above it (ARCHITECTURE.md).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired, Protocol, TypedDict

if TYPE_CHECKING:
    import networkx
    import rdflib

    from kg.store import Generation, Store


class OrganizationView(TypedDict):
    """The organisation of a project: the name without its legal form, as written, the match key, the IRI."""

    name: str
    written: str
    key: str
    iri: str
    legal_form: str | None          # an id, e.g. "npo"
    legal_form_ja: str | None
    legal_form_en: str | None
    trade_name: str | None
    department: str | None


class RegionView(TypedDict):
    """One place of a project. ``level``: prefecture, municipality, ward, district or block."""

    name: str
    code: str | None
    level: str
    prefecture: str | None
    prefecture_code: str | None
    block: str | None
    qualifier: str | None
    key: str
    name_en: NotRequired[str]                # prefectures, municipalities and wards
    parent_code: NotRequired[str | None]


class TagView(TypedDict):
    """A target group or theme of a project, with the words that matched and the fields they were in."""

    id: str
    ja: str
    en: str
    evidence: list[str]
    fields: list[str]


class ProvenanceView(TypedDict):
    file: str
    line: int
    page: NotRequired[int]                   # PDF sources: ``line`` is then the row of the table on that page


class ProjectView(TypedDict):
    """One project as the store keeps it (JSON-ready)."""

    id: str
    iri: str
    programme: str
    fiscal_year: int
    number: int
    title: str
    alt_titles: list[str]
    organization: OrganizationView
    region_text: str
    region_qualifiers: list[str]
    regions: list[RegionView]
    target_groups: list[TagView]
    themes: list[TagView]
    prior_adoption: bool
    category: str | None
    description: str | None
    provenance: ProvenanceView


class ConceptLabel(TypedDict):
    scheme: str
    id: str
    ja: str
    en: str


class MeaningLabel(ConceptLabel):
    score: float                             # how sure the match by meaning is, in (0, 1]


class Why(TypedDict):
    """Why a result was ranked where it is (see README, Similarity search)."""

    embedding: float                         # cosine of the two texts' embeddings
    concepts: float                          # the shared-concept score
    shared_target_groups: list[ConceptLabel]
    shared_themes: list[ConceptLabel]
    related_via_broader: list[ConceptLabel]
    by_meaning: list[MeaningLabel]
    region: str | None                       # "same municipality", "same prefecture", "same regional block"
    same_organization: bool


class Result(TypedDict):
    """One ranked project of ``similar`` or ``search``."""

    id: str
    title: str
    organization: str
    regions: list[str]
    score: float
    why: Why


class ViewIndex(Protocol):
    """What the server asks of the project views beyond a page of them (kg.viewdb.ViewTable is one)."""

    def __len__(self) -> int: ...

    def ids_around(self, text: str, k: int) -> list[str]: ...


class OpenStore(Protocol):
    """What a surface needs of an opened store (``kg.Tsunagari`` is one)."""

    store: "Store"
    generation: "Generation"
    folder: Path
    manifest: dict[str, Any]

    @property
    def views(self) -> ViewIndex: ...

    @property
    def graph(self) -> "rdflib.Graph": ...

    @property
    def network(self) -> "networkx.MultiDiGraph": ...

    def projects(self, *, prefecture: str | None = None, municipality: str | None = None,
                 block: str | None = None, target_group: str | None = None, theme: str | None = None,
                 fiscal_year: int | None = None, legal_form: str | None = None,
                 limit: int | None = None, offset: int = 0) -> list[ProjectView]: ...

    def count(self, **filters: Any) -> int: ...

    def project(self, project_id: str) -> ProjectView: ...

    def similar(self, project_id: str, *, top: int = 10, **filters: Any) -> list[Result]: ...

    def search(self, text: str, *, top: int = 10, **filters: Any) -> list[Result]: ...
