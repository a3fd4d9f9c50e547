"""CSV, TSV and XLSX lists, in UTF-8 (with or without BOM) or CP932/Shift_JIS."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from kg.errors import RowError, SourceError
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
    from kg.sources.stream import TABLES, collect, open_source

    if path.suffix.lower() not in TABLES:
        raise SourceError(f"{path}: unknown format {path.suffix.lower()!r} — use .csv, .tsv, .xlsx "
                          "or the bundled .txt document")
    return collect(open_source(path, fiscal_year=fiscal_year, programme=programme))


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


def xlsx_cells(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells as text) of the first sheet of a workbook, streamed (openpyxl read-only mode)."""
    try:
        import openpyxl
    except ImportError as error:  # pragma: no cover - a declared dependency
        raise SourceError("reading .xlsx needs openpyxl: pip install openpyxl") from error
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a damaged file
        raise SourceError(f"{path}: not a readable .xlsx file ({error}) — open and re-save it in Excel") from None
    try:
        for index, values in enumerate(book.worksheets[0].iter_rows(values_only=True), start=1):
            yield index, ["" if v is None else str(v) for v in values]
    finally:
        book.close()
