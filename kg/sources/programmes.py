"""Funding programmes: a small data file, so a new programme is a new row, not new code."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from kg.errors import SourceError


@dataclass(frozen=True)
class Programme:
    id: str
    ja: str
    en: str
    funder_ja: str = ""
    funder_en: str = ""
    title_pattern: str = ""


_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@lru_cache(maxsize=1)
def programmes() -> dict[str, Programme]:
    """The known programmes from kg/data/programmes.csv, by id."""
    text = resources.files("kg").joinpath("data/programmes.csv").read_text(encoding="utf-8")
    return {row["id"]: Programme(**row) for row in csv.DictReader(io.StringIO(text))}


def programme_for_title(title: str) -> Programme | None:
    """The programme whose title pattern occurs in a document title."""
    for programme in programmes().values():
        if programme.title_pattern and re.search(programme.title_pattern, title):
            return programme
    return None


def programme_by_id(programme_id: str) -> Programme:
    """A known programme, or a new one named only by its id (labels can be added to programmes.csv)."""
    if programme_id in programmes():
        return programmes()[programme_id]
    if not _ID.match(programme_id):
        raise SourceError(
            f"programme id {programme_id!r} must be lower-case ASCII letters, digits and hyphens "
            "(it becomes part of every project IRI), e.g. 'kyumin-yokin-2025'")
    return Programme(programme_id, programme_id, programme_id)
