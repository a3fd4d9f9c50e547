"""The summary's featured projects, linked to their table rows although names and titles differ slightly.

A featured project is a run of paragraphs: category, title, organisation（prefecture）, an optional
※R5採択団体 note (its own paragraph or at the end of the organisation's), then the description.
"""
from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import replace

from kg.errors import RowError, quoted
from kg.normalize.organizations import parse_organization
from kg.normalize.text import clean, match_key
from kg.records import Highlight
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
    rows = [(_Key(parse_organization(row.organization).key), _Key(match_key(row.title)))
            for row in (result.rows if highlights else [])]
    for highlight in highlights:
        index = _best_row(highlight, rows, taken)
        if index is None:
            result.problems.append(RowError(result.file, highlight.line, "summary",
                                            f"featured project {quoted(highlight.title)} matches no table row",
                                            "check the organisation and title in the table", "warning",
                                            highlight.page if pdf else None))
            continue
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


class _Key:
    """A matching key with its character counts (for an upper bound of difflib's ratio without running it)."""

    def __init__(self, text: str) -> None:
        self.text, self.counts = text, Counter(text)

    def bound(self, other: "_Key") -> float:
        """At least ``ratio(self, other)``: difflib's quick_ratio, from counts made once."""
        length = len(self.text) + len(other.text)
        small, large = sorted((self.counts, other.counts), key=len)
        matches = sum(min(n, large.get(char, 0)) for char, n in small.items())
        return 2.0 * matches / length if length else 1.0

    def ratio(self, other: "_Key") -> float:
        return difflib.SequenceMatcher(None, self.text, other.text).ratio()


def _best_row(highlight: Highlight, rows: list[tuple[_Key, _Key]], taken: set[int]) -> int | None:
    """The row most like the highlight by organisation and title (equal scores: the last row), or None
    when none reaches MIN_LINK_SCORE. Rows whose bound cannot beat the best so far are not compared,
    which keeps a list of 40,000 rows from costing six full passes of difflib."""
    org, title = _Key(parse_organization(highlight.organization).key), _Key(match_key(highlight.title))
    best: tuple[float, int] | None = None
    for index, (row_org, row_title) in enumerate(rows):
        if index in taken:
            continue
        bound = 0.5 * org.bound(row_org) + 0.5 * title.bound(row_title)
        if bound < MIN_LINK_SCORE or (best is not None and bound < best[0]):
            continue
        score = 0.5 * org.ratio(row_org) + 0.5 * title.ratio(row_title)
        if best is None or (score, index) > best:
            best = (score, index)
    return best[1] if best is not None and best[0] >= MIN_LINK_SCORE else None
