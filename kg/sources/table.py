"""CSV, TSV and XLSX lists, in UTF-8 (with or without BOM) or CP932/Shift_JIS."""
from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path
from typing import Iterable, Iterator

from kg.errors import RowError, SourceError
from kg.sources.programmes import programme_by_id
from kg.sources.fields import HEADERS, REQUIRED, SourceRow, is_header, map_header
from kg.sources.read import SourceRead
from kg.sources.rows import row_from_cells

ENCODINGS = ("utf-8-sig", "cp932")


def decode(data: bytes, file: str) -> str:
    """Decode UTF-8 (BOM or not) or CP932; a file in neither fails with the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("cp932")
        except UnicodeDecodeError:
            line = data[: utf8_error.start].count(b"\n") + 1
            raise SourceError(
                f"{file}:{line}: cannot decode byte {utf8_error.start} as UTF-8 or CP932/Shift_JIS — "
                "save the file as UTF-8 (Excel: 'CSV UTF-8') and try again") from None


def read_table(path: Path, *, fiscal_year: int | None = None, programme: str | None = None) -> SourceRead:
    """Read a CSV/TSV/XLSX list of projects: one row per project, a header row naming the columns."""
    if programme is not None:
        programme_by_id(programme)   # fails early on an id that cannot go into an IRI
    suffix = path.suffix.lower()
    data = path.read_bytes()
    if suffix in (".xlsx", ".xlsm"):
        rows = _xlsx_rows(path)
    elif suffix in (".csv", ".tsv", ".txt"):
        text = decode(data, str(path))
        delimiter = "\t" if suffix == ".tsv" or (suffix == ".txt" and "\t" in text) else ","
        try:
            rows = list(enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1))
        except csv.Error as error:   # e.g. a NUL byte: the file is binary or damaged
            raise SourceError(f"{path}: not a readable {suffix[1:].upper()} file ({error}) — "
                              "export it again from the spreadsheet as CSV UTF-8") from None
    else:
        raise SourceError(f"{path}: unknown format {suffix!r} — use .csv, .tsv, .xlsx or the bundled .txt document")
    result = rows_to_read(rows, str(path), fiscal_year=fiscal_year, programme=programme)
    result.sha256 = hashlib.sha256(data).hexdigest()
    return result


def rows_to_read(rows: Iterable[tuple[int, list[str]]], file: str, *,
                 fiscal_year: int | None, programme: str | None) -> SourceRead:
    """Find the header, then turn every later non-blank, non-header row into a SourceRow or errors."""
    result = SourceRead(file=file)
    for row, problems in iter_rows(rows, file, fiscal_year=fiscal_year, programme=programme):
        result.add(row, problems)
    return result


def iter_rows(rows: Iterable[tuple[int, list[str]]], file: str, *, fiscal_year: int | None,
              programme: str | None) -> Iterator[tuple[SourceRow | None, list[RowError]]]:
    """(row, problems) per data row, one at a time (the streaming build reads huge lists with it)."""
    header: dict[str, int] | None = None
    for line, cells in rows:
        if header is None:
            if is_header(cells):
                header = map_header(cells)
                _check_defaults(header, file, line, fiscal_year, programme)
            continue
        if not any(c.strip() for c in cells) or is_header(cells):
            continue
        yield row_from_cells(cells, header, file=file, line=line, fiscal_year=fiscal_year, programme=programme)
    if header is None:
        names = ", ".join("/".join(HEADERS[f][:2]) for f in REQUIRED)
        raise SourceError(f"{file}: no header row found — the list needs columns {names}")


def _check_defaults(header: dict[str, int], file: str, line: int,
                    fiscal_year: int | None, programme: str | None) -> None:
    if "fiscal_year" not in header and fiscal_year is None:
        raise SourceError(f"{file}:{line}: no 年度/fiscal_year column — pass --fiscal-year (e.g. 2024)")
    if "programme" not in header and programme is None:
        raise SourceError(f"{file}:{line}: no programme column — pass --programme (an id such as "
                          "'cao-kodoku-npo-model'; known ids are in kg/data/programmes.csv)")


def _xlsx_rows(path: Path) -> list[tuple[int, list[str]]]:
    try:
        import openpyxl
    except ImportError as error:  # pragma: no cover - a declared dependency
        raise SourceError("reading .xlsx needs openpyxl: pip install openpyxl") from error
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a damaged file
        raise SourceError(f"{path}: not a readable .xlsx file ({error}) — open and re-save it in Excel") from None
    sheet = book.worksheets[0]
    rows = [(index, ["" if v is None else str(v) for v in values])
            for index, values in enumerate(sheet.iter_rows(values_only=True), start=1)]
    book.close()
    return rows
