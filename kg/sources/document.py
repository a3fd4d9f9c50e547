"""The programme document: a title with the fiscal year, a summary with featured projects, then the table.

The text may come in any extraction layout (``kg.sources.layouts``: tab-separated, space-aligned, one
cell per line, chosen from the content) or from the PDF itself (``kg.sources.pdf``); both give an
``Extract``, and ``read_extract`` turns it into rows the same way: fiscal year and programme from the
title, header rows (repeated on every page) mapped to fields, each row checked, the summary's
featured projects linked to their rows.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from kg.errors import RowError, SourceError, quoted
from kg.normalize.text import clean
from kg.sources.fields import header_with_data, is_header, map_header, parse_fiscal_year
from kg.sources.highlights import link_highlights, parse_highlights
from kg.sources.pages import Extract, drop_furniture, paragraphs, text_lines
from kg.sources.programmes import programme_by_id, programme_for_title
from kg.sources.read import SourceRead
from kg.sources.rows import header_problems, row_from_cells
from kg.sources.table import decode

_FY = re.compile(r"(令和|平成)\s*(\d{1,2}|元)\s*年度")
TITLE_LINES = 5       # the title is among the first lines of text


def read_document(path: Path, *, fiscal_year: int | None = None, programme: str | None = None) -> SourceRead:
    """Read the programme document as text, in whichever layout its table is written."""
    from kg.sources.layouts import choose

    data = path.read_bytes()
    lines, problems = text_lines(decode(data, str(path)), str(path))
    lines = drop_furniture(lines)
    extract = choose(lines, str(path)).extract(lines, str(path))
    extract.problems[:0] = problems
    return read_extract(extract, file=str(path), sha256=hashlib.sha256(data).hexdigest(),
                        fiscal_year=fiscal_year, programme=programme)


def read_extract(extract: Extract, *, file: str, sha256: str, fiscal_year: int | None,
                 programme: str | None, pdf: bool = False) -> SourceRead:
    """Rows and highlights from what a layout (or the PDF reader) found."""
    title = document_title(extract)
    result = SourceRead(file=file, title=title, sha256=sha256)
    # The title states the year and programme; the options override it, with a warning where they differ.
    match = _FY.search(title)
    stated_year = parse_fiscal_year(match.group(1) + match.group(2)) if match else None
    if match and fiscal_year is not None and stated_year is not None and stated_year != fiscal_year:
        result.problems.append(_overridden(file, "年度/fiscal year", f"FY{stated_year} ({match.group(0)})",
                                           f"--fiscal-year {fiscal_year}"))
    fiscal_year = fiscal_year if fiscal_year is not None else stated_year
    if fiscal_year is None:
        raise SourceError(f"{file}:1: no fiscal year (令和N年度) in the title {quoted(title)} — "
                          "pass --fiscal-year")
    found = programme_for_title(title)
    if programme is not None:
        programme = programme_by_id(programme).id
        if found and found.id != programme:
            result.problems.append(_overridden(file, "programme", found.id, f"--programme {programme}"))
    programme = programme if programme is not None else (found.id if found else None)
    if programme is None:
        raise SourceError(f"{file}:1: unknown programme for title {quoted(title)} — pass --programme ID "
                          "or add a row to kg/data/programmes.csv")
    programme = programme_by_id(programme).id

    result.problems.extend(extract.problems)
    header: dict[str, int] | None = None
    noted: set[tuple[str, str]] = set()
    for row in extract.rows:
        named = is_header(row.cells)
        mixed = header is not None and named and header_with_data(row.cells, file, row.line, row.page)
        if mixed:
            result.problems.append(mixed)
        elif named:
            if header is None:
                result.problems.extend(header_problems(row.cells, file=file, line=row.line, page=row.page))
            header = map_header(row.cells)
        elif header is not None and any(cell.strip() for cell in row.cells):
            result.add(*row_from_cells(row.cells, header, file=file, line=row.line, page=row.page,
                                       fiscal_year=fiscal_year, programme=programme, noted=noted))
    if header is None:
        raise SourceError(f"{file}: no table header (団体名, 取組名, 活動地域) found — is this the programme document?")
    link_highlights(result, parse_highlights(paragraphs(extract.summary)), pdf=pdf)
    return result


def _overridden(file: str, column: str, stated: str, option: str) -> RowError:
    return RowError(file, 1, column, f"the title states {stated}; {option} overrides it",
                    f"drop {option.split()[0]} to keep what the document states", "warning")


def document_title(extract: Extract) -> str:
    """The first line that states a fiscal year or a known programme, else the first line of text."""
    first = [clean(line.text) for line in extract.summary if line.text.strip()][:TITLE_LINES]
    return next((text for text in first if _FY.search(text) or programme_for_title(text)), first[0] if first else "")
