"""CSV, TSV and XLSX lists, in UTF-8 (with or without BOM) or CP932/Shift_JIS: header mapping and rows."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from kg.errors import RowError, SourceError
from kg.sources.fields import HEADERS, REQUIRED, SourceRow, header_with_data, is_header, map_header
from kg.sources.read import SourceRead
from kg.sources.rows import header_problems, row_from_cells

BOM = b"\xef\xbb\xbf"


def decode(data: bytes, file: str) -> str:
    """Decode UTF-8 (BOM or not) or CP932; a file in neither fails with the line and byte of the first bad byte.

    A file that starts with a UTF-8 byte-order mark is UTF-8: a bad byte in it is an error, not a sign of CP932.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        offset = error.start + (len(BOM) if data.startswith(BOM) else 0)   # the codec counts after the BOM
        if data.startswith(BOM):
            raise SourceError(bad_byte_message(file, data[:offset].count(b"\n") + 1, offset, bom=True)) from None
        try:
            return data.decode("cp932")
        except UnicodeDecodeError:
            raise SourceError(bad_byte_message(file, data[:offset].count(b"\n") + 1, offset)) from None


def bad_byte_message(file: str, line: int, offset: int, *, bom: bool = False) -> str:
    """The message for a file that is not UTF-8 (nor CP932): where the first bad byte is, what to do."""
    if bom:
        return (f"{file}:{line}: byte {offset} is not UTF-8, although the file starts with a UTF-8 byte-order "
                "mark — the file mixes encodings; save it again as UTF-8 (Excel: 'CSV UTF-8')")
    return (f"{file}:{line}: cannot decode byte {offset} as UTF-8 or CP932/Shift_JIS — "
            "save the file as UTF-8 (Excel: 'CSV UTF-8') and try again")


def read_table(path: Path, *, fiscal_year: int | None = None, programme: str | None = None) -> SourceRead:
    """Read a CSV/TSV/XLSX list of projects: one row per project, a header row naming the columns."""
    from kg.sources.stream import TABLES, collect, open_source

    if path.suffix.lower() not in TABLES:
        raise SourceError(f"{path}: unknown format {path.suffix.lower()!r} — use .csv, .tsv, .xlsx "
                          "or the bundled .txt document")
    return collect(open_source(path, fiscal_year=fiscal_year, programme=programme))


def iter_rows(records: Iterable[tuple[int, list[str] | None, list[RowError]]], file: str, *,
              fiscal_year: int | None, programme: str | None) -> Iterator[tuple[SourceRow | None, list[RowError]]]:
    """(row, problems) per data row, one at a time (the streaming build reads huge lists with it).

    ``records`` are (line, cells, problems) as the CSV and XLSX readers give them; cells are None for a
    record that could not be read (its problems say why).
    """
    header: dict[str, int] | None = None
    noted: set[tuple[str, str]] = set()     # stated values an option overrides, warned about once
    for line, cells, problems in records:
        named = cells is not None and is_header(cells)
        if cells is not None and header is None and named:
            header = map_header(cells)
            _check_defaults(header, file, line, fiscal_year, programme)
            problems = problems + header_problems(cells, file=file, line=line)
        elif cells is not None and header is not None and named:
            mixed = header_with_data(cells, file, line)
            problems = problems + [mixed] if mixed else problems
        elif cells is not None and header is not None and any(c.strip() for c in cells):
            row, more = row_from_cells(cells, header, file=file, line=line, fiscal_year=fiscal_year,
                                       programme=programme, noted=noted)
            yield row, problems + more
            continue
        if problems:
            yield None, problems
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
