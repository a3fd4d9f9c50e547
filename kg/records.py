"""Record types: frozen dataclasses with stable ids. Everything else is derived from these."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Provenance:
    """Where a record came from: file, 1-based line (text) or row (tables), fiscal year, programme.

    For a PDF, ``page`` is the page and ``line`` the row of the table on that page (its header is row 1).
    """

    file: str
    line: int
    fiscal_year: int
    programme: str
    page: int | None = None


@dataclass(frozen=True)
class Organization:
    """An organisation as written, with its legal form split off.

    ``key`` is the normalised name used for matching across sources (NFKC, no spaces,
    legal form removed); ``name`` is shown as written (without the legal form).
    """

    key: str
    name: str
    legal_form: str | None = None          # canonical id, e.g. "npo", "nintei-npo", "ippan-shadan"
    legal_form_text: str | None = None     # as written, e.g. "特定非営利活動法人"
    trade_name: str | None = None          # 屋号
    department: str | None = None          # e.g. 健康まちづくり部
    written: str = ""                      # the full text as in the source


@dataclass(frozen=True)
class PlaceRef:
    """One place named in a 活動地域 text.

    ``kind`` is prefecture | municipality | ward | district | block; ``key`` is the
    6-digit code for administrative areas, ``block:<id>`` for blocks and
    ``district:<pref code>:<name>`` for districts (郡), which have no code.
    """

    key: str
    kind: str
    surface: str
    qualifier: str | None = None


@dataclass(frozen=True)
class RegionParse:
    """A parsed 活動地域: resolved places, qualifiers kept verbatim, and what did not resolve."""

    text: str
    places: tuple[PlaceRef, ...] = ()
    qualifiers: tuple[str, ...] = ()
    unresolved: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tag:
    """A concept attached to a project, with the words that made us attach it."""

    scheme: str        # "target-group" | "theme"
    concept: str       # concept id (its notation), e.g. "hikikomori"
    evidence: tuple[str, ...]
    field: str         # "title" | "description" | "organization"


@dataclass(frozen=True)
class Highlight:
    """A project featured in the summary, with its category and description."""

    category: str
    title: str
    organization: str
    region_note: str
    description: str
    prior_adoption: bool
    line: int
    page: int | None = None


@dataclass(frozen=True)
class Project:
    """One funded project in one fiscal year of one programme."""

    id: str                 # stable: "<programme>-fy<year>-<number:03d>"
    programme: str
    fiscal_year: int
    number: int
    title: str
    organization: Organization
    region_text: str
    prior_adoption: bool
    provenance: Provenance
    regions: RegionParse = field(default_factory=lambda: RegionParse(""))
    alt_titles: tuple[str, ...] = ()
    category: str | None = None
    description: str | None = None
    tags: tuple[Tag, ...] = ()
