"""Layouts of the programme document's text, one small module each, chosen from the content.

A layout module has ``NAME``, ``detect(lines) -> bool`` and ``extract(lines, file) -> Extract``: it says how
the table is laid out, and the document reader does the rest (title, fiscal year, rows, highlights). A new
layout is a new module added to ``LAYOUTS``.
"""
from __future__ import annotations

from types import ModuleType

from kg.errors import SourceError
from kg.normalize.text import match_key
from kg.sources.layouts import aligned, percell, tabbed
from kg.sources.pages import Line

LAYOUTS: tuple[ModuleType, ...] = (tabbed, aligned, percell)
_WORDS = ("団体名", "取組名", "活動地域")


def choose(lines: list[Line], file: str) -> ModuleType:
    """The layout of a document's text, from its content; a clear error when there is no table to read."""
    for layout in LAYOUTS:
        if layout.detect(lines):
            return layout
    for line in lines:
        if all(word in match_key(line.text) for word in _WORDS):
            raise SourceError(
                f"{line.where(file)}: found the table header ({' '.join(line.text.split())[:40]}) but cannot tell "
                "its columns apart — separate the columns with tabs or at least two spaces (pdftotext -layout), "
                "put one cell per line, or give the PDF, CSV or XLSX list")
    raise SourceError(f"{file}: no table header (団体名, 取組名, 活動地域) found — is this a programme list? "
                      "Give its PDF, its text (tab-separated, space-aligned or one cell per line), CSV or XLSX")
