"""The Cabinet Office document as text extracted from its PDF: a summary, then the table.

Layout: a title line with the fiscal year (令和6年度 …), a summary whose featured projects come as
blocks (category, title, organisation（region）, optional ※R5採択団体, description), then a
tab-separated table whose header repeats after every page break.
"""
from __future__ import annotations

import difflib
import hashlib
import re
from pathlib import Path

from kg.errors import RowError, SourceError
from kg.normalize.organizations import parse_organization
from kg.normalize.text import clean, match_key
from kg.records import Highlight
from kg.sources.fields import is_header, map_header, parse_fiscal_year
from kg.sources.programmes import programme_by_id, programme_for_title
from kg.sources.read import SourceRead
from kg.sources.rows import row_from_cells
from kg.sources.table import decode

_FY = re.compile(r"(令和|平成)\s*(\d{1,2}|元)\s*年度")
_ORG_LINE = re.compile(r"^(?P<org>.+?)（(?P<region>[^（）]+[都道府県])）$")
_PRIOR_NOTE = re.compile(r"^※\s*R\d+採択団体$")
_PAGE_NUMBER = re.compile(r"(?<=[。．.])\d{1,3}$")
_ROW = re.compile(r"^\d+\t")
MIN_LINK_SCORE = 0.6


def read_document(path: Path, *, fiscal_year: int | None = None, programme: str | None = None) -> SourceRead:
    """Read the programme document: table rows across page breaks, and the summary's highlights linked to them."""
    data = path.read_bytes()
    lines = decode(data, str(path)).splitlines()
    title = next((clean(line) for line in lines if line.strip()), "")
    # The document states its year and programme; the options are fallbacks for documents that do not.
    match = _FY.search(title)
    fiscal_year = (parse_fiscal_year(match.group(1) + match.group(2)) if match else None) or fiscal_year
    if fiscal_year is None:
        raise SourceError(f"{path}:1: no fiscal year (令和N年度) in the title {title!r} — pass --fiscal-year")
    found = programme_for_title(title)
    programme = found.id if found else programme
    if programme is None:
        raise SourceError(f"{path}:1: unknown programme for title {title!r} — pass --programme ID "
                          "or add a row to kg/data/programmes.csv")
    programme = programme_by_id(programme).id

    result = SourceRead(file=str(path), title=title, sha256=hashlib.sha256(data).hexdigest())
    header: dict[str, int] | None = None
    table_start = len(lines)
    for number, raw in enumerate(lines, start=1):
        cells = raw.split("\t")
        if len(cells) > 1 and is_header(cells):
            header = map_header(cells)
            table_start = min(table_start, number)
        elif header is not None and raw.strip() and (_ROW.match(raw) or "\t" in raw):
            row, problems = row_from_cells(cells, header, file=str(path), line=number,
                                           fiscal_year=fiscal_year, programme=programme)
            result.add(row, problems)
        elif header is not None and raw.strip() and not raw.strip().isdigit():
            result.problems.append(RowError(str(path), number, "row", f"unexpected text in the table: {raw.strip()[:40]!r}",
                                            "a row needs tab-separated cells; check the PDF extraction", "warning"))
    if header is None:
        raise SourceError(f"{path}: no table header (団体名, 取組名, 活動地域) found — is this the programme document?")
    highlights = parse_highlights(lines[: table_start - 1])
    link_highlights(result, highlights)
    return result


def parse_highlights(lines: list[str]) -> list[Highlight]:
    """Featured-project blocks of the summary: category, title, organisation（region）, note, description."""
    entries = [(n, clean(text)) for n, text in enumerate(lines, start=1) if text.strip()]
    found = []
    for i, (line, text) in enumerate(entries):
        match = _ORG_LINE.match(text)
        if not match or i < 2 or i + 1 >= len(entries):
            continue
        rest = [t for _, t in entries[i + 1: i + 3]]
        prior = bool(_PRIOR_NOTE.match(rest[0]))
        description = rest[1] if prior and len(rest) > 1 else rest[0]
        found.append(Highlight(
            category=entries[i - 2][1], title=entries[i - 1][1], organization=match.group("org"),
            region_note=match.group("region"), description=_PAGE_NUMBER.sub("", description),
            prior_adoption=prior, line=entries[i - 1][0]))
    return found


def link_highlights(result: SourceRead, highlights: list[Highlight]) -> None:
    """Attach each highlight to its table row, although names and titles differ slightly."""
    from dataclasses import replace

    taken: set[int] = set()
    for highlight in highlights:
        scored = sorted(((_similarity(highlight, row), index) for index, row in enumerate(result.rows)
                         if index not in taken), reverse=True)
        if not scored or scored[0][0] < MIN_LINK_SCORE:
            result.problems.append(RowError(result.file, highlight.line, "summary",
                                            f"featured project {highlight.title!r} matches no table row",
                                            "check the organisation and title in the table", "warning"))
            continue
        index = scored[0][1]
        taken.add(index)
        row = result.rows[index]
        result.rows[index] = replace(
            row, description=row.description or highlight.description,
            category=row.category or highlight.category,
            alt_titles=row.alt_titles + ((highlight.title,) if match_key(highlight.title) != match_key(row.title) else ()),
            alt_organizations=row.alt_organizations + (
                (highlight.organization,) if match_key(highlight.organization) != match_key(row.organization) else ()),
        )


def _similarity(highlight: Highlight, row) -> float:
    org_a = parse_organization(highlight.organization).key
    org_b = parse_organization(row.organization).key
    org = difflib.SequenceMatcher(None, org_a, org_b).ratio()
    title = difflib.SequenceMatcher(None, match_key(highlight.title), match_key(row.title)).ratio()
    return 0.5 * org + 0.5 * title
