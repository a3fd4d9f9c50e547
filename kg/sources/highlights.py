"""The summary's featured projects, linked to their table rows although names and titles differ slightly.

A featured project is a run of paragraphs: category, title, organisation（prefecture）, an optional
※R5採択団体 note (its own paragraph or at the end of the organisation's), then the description.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import replace

from kg.errors import RowError, quoted
from kg.normalize.organizations import parse_organization
from kg.normalize.text import clean, match_key
from kg.records import Highlight
from kg.sources.fields import SourceRow
from kg.sources.pages import Line
from kg.sources.read import SourceRead

_ORG_LINE = re.compile(r"^(?P<org>.+?)（(?P<region>[^（）]+[都道府県])）\s*(?P<note>※\s*R\d+採択団体)?$")
_PRIOR_NOTE = re.compile(r"^※\s*R\d+採択団体$")
_PAGE_NUMBER = re.compile(r"(?<=[。．.])\d{1,3}$")
MIN_LINK_SCORE = 0.6


def parse_highlights(paragraphs: list[Line]) -> list[Highlight]:
    """Featured-project blocks of the summary: category, title, organisation（region）, note, description."""
    entries = [(line, clean(line.text)) for line in paragraphs if line.text.strip()]
    found = []
    for i, (line, text) in enumerate(entries):
        match = _ORG_LINE.match(text)
        if not match or i < 2 or i + 1 >= len(entries):
            continue
        rest = [t for _, t in entries[i + 1: i + 3]]
        note = bool(_PRIOR_NOTE.match(rest[0]))
        description = rest[1] if note and len(rest) > 1 else rest[0]
        title_line = entries[i - 1][0]
        found.append(Highlight(
            category=entries[i - 2][1], title=entries[i - 1][1], organization=match.group("org"),
            region_note=match.group("region"), description=_PAGE_NUMBER.sub("", description),
            prior_adoption=note or bool(match.group("note")), line=title_line.number, page=title_line.page))
    return found


def link_highlights(result: SourceRead, highlights: list[Highlight], *, pdf: bool = False) -> None:
    """Attach each highlight to its table row: category and description added, spelling variants kept."""
    taken: set[int] = set()
    for highlight in highlights:
        scored = sorted(((_similarity(highlight, row), index) for index, row in enumerate(result.rows)
                         if index not in taken), reverse=True)
        if not scored or scored[0][0] < MIN_LINK_SCORE:
            result.problems.append(RowError(result.file, highlight.line, "summary",
                                            f"featured project {quoted(highlight.title)} matches no table row",
                                            "check the organisation and title in the table", "warning",
                                            highlight.page if pdf else None))
            continue
        index = scored[0][1]
        taken.add(index)
        row = result.rows[index]
        result.rows[index] = replace(
            row, description=row.description or highlight.description,
            category=row.category or highlight.category,
            alt_titles=row.alt_titles + (
                (highlight.title,) if match_key(highlight.title) != match_key(row.title) else ()),
            alt_organizations=row.alt_organizations + (
                (highlight.organization,) if match_key(highlight.organization) != match_key(row.organization) else ()),
        )


def _similarity(highlight: Highlight, row: SourceRow) -> float:
    org_a = parse_organization(highlight.organization).key
    org_b = parse_organization(row.organization).key
    org = difflib.SequenceMatcher(None, org_a, org_b).ratio()
    title = difflib.SequenceMatcher(None, match_key(highlight.title), match_key(row.title)).ratio()
    return 0.5 * org + 0.5 * title
