"""Named errors. Each message says where (file, row, column) and what to do."""
from __future__ import annotations

from dataclasses import dataclass


class KgError(Exception):
    """Base class for every error tsunagari raises on purpose."""


@dataclass(frozen=True)
class RowError:
    """A problem with one row of a source: kept, reported, never fatal for the other rows."""

    file: str
    row: int
    column: str
    message: str
    hint: str = ""
    level: str = "error"   # "error": the row was skipped; "warning": loaded, but look at it
    page: int | None = None   # PDF sources: the page; ``row`` is then the row of the table on that page

    def __str__(self) -> str:
        where = f"{self.file}:{self.row}" if self.page is None else f"{self.file}: page {self.page}, row {self.row}"
        if self.column:
            where += f" ({self.column})"
        text = f"{where}: {self.level}: {self.message}"
        return f"{text} — {self.hint}" if self.hint else text


def quoted(value: str, limit: int = 120) -> str:
    """``value`` as a message quotes it: its repr, cut after ``limit`` characters with the full length said
    (a hostile cell may hold 131,072 characters; the message must stay one readable line)."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}… ({len(value):,} characters)"


def counted(n: int, noun: str) -> str:
    """``n`` and the noun, singular for one: "1 project", "0 projects", "1,200 rows"."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


class SourceError(KgError):
    """A source cannot be read at all (wrong encoding, no header, unknown format)."""


class StoreError(KgError):
    """The store folder is missing, incomplete or from another version."""


class NotFound(KgError):
    """An id, region or concept that does not exist."""


class ValidationError(KgError):
    """The built graph does not conform to the SHACL shapes."""


class ShapesError(KgError):
    """The SHACL shapes use a construct the validator cannot check (it names the shape and the construct)."""


class EmbeddingError(KgError):
    """The embedding model or the stored vectors failed (kg.similar turns the ``embeddings`` package's
    errors into these, so callers catch only KgError)."""


class ModelError(EmbeddingError):
    """The embedding model cannot be loaded or run here (the message says why and what to install or pass)."""


class VectorsError(EmbeddingError, StoreError):
    """The store's vectors are damaged, or were made from other input or with another model: rebuild."""
