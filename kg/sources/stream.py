"""Sources as streams: one ``Source`` per input file, its rows read one at a time.

    >>> from kg.sources import open_source
    >>> source = open_source("list.csv", fiscal_year=2025, programme="p")   # doctest: +SKIP
    >>> for row, problems in source.rows(): ...                             # doctest: +SKIP

``open_source`` hashes the file and settles its encoding in one pass over the bytes (constant memory);
``rows()`` then yields ``(SourceRow or None, problems)`` in file order. CSV, TSV and XLSX are streamed,
so a list of a million rows never sits in memory; a document (.pdf, or its text as .txt) is small and is
read whole, because its highlights are linked to table rows only once the whole table is known.
"""
from __future__ import annotations

import codecs
import hashlib
import os
from importlib import resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from kg.errors import RowError, SourceError
from kg.sources.fields import SourceRow, parse_fiscal_year
from kg.sources.read import SourceRead

Rows = Iterator[tuple[SourceRow | None, list[RowError]]]
STREAMED = (".csv", ".tsv")
TABLES = (".csv", ".tsv", ".xlsx", ".xlsm")
DOCUMENTS = (".txt", ".pdf")     # read whole: small, and their highlights need the whole table
CHUNK = 1 << 22


@dataclass
class Source:
    """One input file: where it is, its content hash, its title, and a way to read its rows again.

    ``rows()`` may be called more than once (each call reads the file from the start).
    """

    path: Path
    sha256: str
    read_rows: Callable[[], Rows] = field(repr=False)
    title: str = ""

    @property
    def file(self) -> str:
        return str(self.path)

    @property
    def name(self) -> str:
        """The file name without folders: the graph does not depend on where the file lies."""
        return os.path.basename(str(self.path))

    def rows(self) -> Rows:
        return self.read_rows()

    def numbers(self) -> set[int]:
        """The numbers (No.) the source's rows state: rows without one are numbered around them."""
        return {row.number for row, _ in self.rows() if row is not None and row.number is not None}


def bundled_source() -> Path:
    """The FY2024 Cabinet Office list shipped with the package (see README for attribution)."""
    return Path(str(resources.files("kg").joinpath("data/r6_kodoku_koritsu_npo_model_projects.txt")))


def open_source(path: Path | str, *, fiscal_year: int | None = None, programme: str | None = None) -> Source:
    """Open any supported source: the programme document (.pdf, or its text as .txt) or a list (.csv, .tsv, .xlsx).

    ``fiscal_year`` and ``programme`` override what the source states (its title, or a row's 年度 and
    programme cells); where they differ, the rows carry a warning. They do not apply to the bundled list
    (``bundled_source``): its year and programme are known, and a build merging it with a new list names
    the new list's year. Raises SourceError when the file is missing or cannot be decoded; rows with
    problems are not errors here: ``rows()`` yields them with their located problems.
    """
    from kg.sources.programmes import programme_by_id

    if fiscal_year is not None and parse_fiscal_year(fiscal_year) != fiscal_year:
        raise SourceError(f"fiscal year {fiscal_year!r}: give the year the fiscal year starts in, with four "
                          "digits (e.g. 2025 for 令和7年度)")
    path = Path(path)
    if path.is_file() and path.resolve() == bundled_source().resolve():
        fiscal_year = programme = None
    if path.is_dir():
        raise SourceError(f"{path}: is a directory — give the list file itself (.pdf, .txt, .csv, .tsv or .xlsx)")
    if not path.is_file():
        raise SourceError(f"{path}: no such file — give the path of a .pdf or .txt document or a .csv/.tsv/.xlsx list")
    suffix = path.suffix.lower()
    if suffix not in TABLES and suffix not in DOCUMENTS:
        raise SourceError(f"{path}: unknown format {suffix!r} — use .pdf, .txt (the PDF's text), .csv, .tsv or .xlsx")
    if programme is not None:
        programme_by_id(programme)   # fails early on an id that cannot go into an IRI
    if suffix in DOCUMENTS:
        return _whole(path, fiscal_year, programme)
    sha256, encoding = scan(path, decode=suffix in STREAMED)
    if suffix in STREAMED:
        return Source(path, sha256, lambda: _csv_rows(path, encoding, fiscal_year, programme))
    return Source(path, sha256, lambda: _xlsx_rows(path, fiscal_year, programme))


def scan(path: Path, *, decode: bool) -> tuple[str, str | None]:
    """SHA-256 of a file and, with ``decode``, its encoding: "utf-8-sig" when all of it is UTF-8, else "cp932".

    A file in neither fails with the line and byte of the first byte that is not UTF-8; so does a file that
    starts with a UTF-8 byte-order mark and then has bytes that are not UTF-8 (it mixes encodings).
    """
    from kg.sources.table import BOM, bad_byte_message

    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8, lines, offset, bad_line, bom = decode, 0, 0, 0, None
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            if bom is None:
                bom = chunk.startswith(BOM)
            digest.update(chunk)
            if utf8:
                try:
                    decoder.decode(chunk)
                    offset += len(chunk)
                except UnicodeDecodeError as error:
                    utf8 = False
                    offset += error.start
                    bad_line = lines + chunk[:error.start].count(b"\n") + 1
            lines += chunk.count(b"\n")
        if utf8:
            try:
                decoder.decode(b"", final=True)     # a multi-byte character cut off at the end
            except UnicodeDecodeError:
                utf8, bad_line = False, lines + 1
    if not decode:
        return digest.hexdigest(), None
    if utf8:
        return digest.hexdigest(), "utf-8-sig"
    if bom:
        raise SourceError(bad_byte_message(str(path), bad_line, offset, bom=True))
    try:
        with open(path, encoding="cp932") as f:
            while f.read(CHUNK):
                pass
    except UnicodeDecodeError:
        raise SourceError(bad_byte_message(str(path), bad_line, offset)) from None
    return digest.hexdigest(), "cp932"


def _csv_rows(path: Path, encoding: str | None, fiscal_year: int | None, programme: str | None) -> Rows:
    from kg.sources.delimited import line_ending, records
    from kg.sources.table import iter_rows

    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with open(path, encoding=encoding, newline=line_ending(path)) as f:
        yield from iter_rows(records(f, str(path), delimiter), str(path),
                             fiscal_year=fiscal_year, programme=programme)


def _xlsx_rows(path: Path, fiscal_year: int | None, programme: str | None) -> Rows:
    from kg.sources.table import iter_rows
    from kg.sources.workbook import xlsx_records

    yield from iter_rows(xlsx_records(path), str(path), fiscal_year=fiscal_year, programme=programme)


def _whole(path: Path, fiscal_year: int | None, programme: str | None) -> Source:
    """A document read whole once; its rows and problems replayed on every ``rows()``."""
    from kg.sources.document import read_document
    from kg.sources.pdf import read_pdf

    reader = read_pdf if path.suffix.lower() == ".pdf" else read_document
    read = reader(path, fiscal_year=fiscal_year, programme=programme)
    return Source(path, read.sha256, lambda: replay(read), title=read.title)


def replay(read: SourceRead) -> Rows:
    """The rows of a SourceRead as a stream; problems not tied to a loaded row come first."""
    if read.problems:
        yield None, list(read.problems)
    for row in read.rows:
        yield row, []


def collect(source: Source) -> SourceRead:
    """Read a whole source into a SourceRead (rows and problems in lists)."""
    result = SourceRead(file=source.file, title=source.title, sha256=source.sha256)
    for row, problems in source.rows():
        result.add(row, problems)
    return result
