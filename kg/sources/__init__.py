"""Readers: one per input shape. Each returns a SourceRead (rows + located problems)."""
from __future__ import annotations

from pathlib import Path

from kg.errors import SourceError
from kg.sources.document import read_document
from kg.sources.fields import SourceRow
from kg.sources.read import SourceRead
from kg.sources.table import read_table

__all__ = ["read_source", "read_document", "read_table", "SourceRead", "SourceRow"]


def read_source(path: Path | str, *, fiscal_year: int | None = None, programme: str | None = None) -> SourceRead:
    """Read any supported source: the programme document (.txt) or a list (.csv, .tsv, .xlsx)."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such file — give the path of a .txt document or a .csv/.tsv/.xlsx list")
    if path.suffix.lower() == ".txt":
        return read_document(path, fiscal_year=fiscal_year, programme=programme)
    return read_table(path, fiscal_year=fiscal_year, programme=programme)
