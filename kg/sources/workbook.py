"""XLSX lists streamed row by row (openpyxl read-only mode), within limits a hostile workbook cannot pass.

An XLSX file is a zip archive: a 2 MB file can inflate to gigabytes. Before anything is inflated, the
sizes the archive declares are checked (Python's zipfile never inflates a part beyond its declared size);
then rows are read one at a time, at most ``MAX_ROWS`` of them, ``MAX_COLUMNS`` wide, each cell at most
``MAX_CELL`` characters. What is refused is said, with the limit.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Iterator

from kg.errors import RowError, SourceError

MAX_INFLATED = 1 << 30          # bytes: all parts of the workbook together, inflated
MAX_STRINGS = 256 << 20         # bytes: the shared-strings part, which openpyxl holds in memory whole
MAX_ROWS = 1_048_576            # Excel's own limit
MAX_COLUMNS = 256               # far more than a list has; Excel allows 16,384
MAX_CELL = 32_767               # characters: Excel's own limit on a cell

Records = Iterator[tuple[int, list[str] | None, list[RowError]]]


def check_archive(path: Path) -> None:
    """Refuse a workbook whose parts would inflate past the limits (a decompression bomb)."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise SourceError(f"{path}: not a readable .xlsx file ({error}) — open and re-save it in Excel") from None
    total = sum(part.file_size for part in parts)
    biggest = max(parts, key=lambda part: part.file_size, default=None)
    strings = sum(part.file_size for part in parts if part.filename.lower().endswith("sharedstrings.xml"))
    if (total > MAX_INFLATED or strings > MAX_STRINGS) and biggest is not None:
        raise SourceError(
            f"{path}: refused: the workbook would inflate to {total / 2**20:,.0f} MB (largest part "
            f"{biggest.filename}, {biggest.file_size / 2**20:,.0f} MB; shared strings {strings / 2**20:,.0f} MB), "
            f"over the limits of {MAX_INFLATED >> 20:,} MB in all and {MAX_STRINGS >> 20:,} MB of shared strings — "
            "is it really the list? Save it as CSV UTF-8 to read a list this large")


def xlsx_records(path: Path) -> Records:
    """(row number, cells as text or None, problems) of the first sheet, streamed within the limits."""
    try:
        import openpyxl
        from openpyxl.utils.escape import unescape
    except ImportError as error:  # pragma: no cover - a declared dependency
        raise SourceError("reading .xlsx needs openpyxl: pip install openpyxl") from error
    check_archive(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except MemoryError:
        raise SourceError(f"{path}: ran out of memory opening the workbook — save it as CSV UTF-8") from None
    except Exception as error:  # openpyxl raises many types for a damaged file
        raise SourceError(f"{path}: not a readable .xlsx file ({error}) — open and re-save it in Excel") from None
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()        # a declared size can be a lie: rows are as wide as their cells
        wide = False
        for index, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if index > MAX_ROWS:
                yield index, None, [RowError(str(path), index, "row", f"rows after row {MAX_ROWS:,} are not read "
                                             "(more than Excel allows)", "split the list or save it as CSV UTF-8")]
                return
            problems = []
            if len(values) > MAX_COLUMNS and not wide and any(v is not None for v in values[MAX_COLUMNS:]):
                wide = True
                problems.append(RowError(str(path), index, "row", f"cells after column {MAX_COLUMNS} are not "
                                         "read (here and in any later row)", "delete the extra columns", "warning"))
            # Excel writes control characters as _xHHHH_ escapes: decoded, so that they are found and removed.
            cells = ["" if v is None else unescape(v) if isinstance(v, str) and "_x" in v else str(v)
                     for v in values[:MAX_COLUMNS]]
            long = next((i for i, cell in enumerate(cells) if len(cell) > MAX_CELL), None)
            if long is not None:
                problems.append(RowError(str(path), index, f"column {long + 1}", f"a cell longer than "
                                         f"{MAX_CELL:,} characters (Excel's limit); the row is skipped",
                                         "shorten the cell"))
                yield index, None, problems
                continue
            yield index, cells, problems
    except MemoryError:
        raise SourceError(f"{path}: ran out of memory reading the workbook — save it as CSV UTF-8") from None
    except Exception as error:  # a damaged sheet part
        raise SourceError(f"{path}: not a readable .xlsx file ({error}) — open and re-save it in Excel") from None
    finally:
        book.close()
