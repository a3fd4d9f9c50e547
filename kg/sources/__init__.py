"""Readers: one per input shape (the programme PDF, its text in any layout, CSV/TSV, XLSX).

Each gives rows and located problems: ``open_source`` as a stream, ``read_source`` whole (a SourceRead).
"""
from __future__ import annotations

from pathlib import Path

from kg.sources.document import read_document
from kg.sources.fields import SourceRow
from kg.sources.read import SourceRead
from kg.sources.stream import Source, bundled_source, collect, open_source
from kg.sources.table import read_table

__all__ = ["open_source", "bundled_source", "Source", "read_source", "read_document", "read_table", "SourceRead",
           "SourceRow"]


def read_source(path: Path | str, *, fiscal_year: int | None = None, programme: str | None = None) -> SourceRead:
    """Read any supported source whole: the programme document (.pdf, or its text as .txt) or a list
    (.csv, .tsv, .xlsx).

        >>> read = read_source("r7_list.pdf")                       # doctest: +SKIP
        >>> read.rows[0].page, read.rows[0].line, read.problems     # doctest: +SKIP
        (3, 2, [])
    """
    return collect(open_source(path, fiscal_year=fiscal_year, programme=programme))
