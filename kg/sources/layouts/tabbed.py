"""Tab-separated text (the bundled document): one table row a line, cells separated by tabs."""
from __future__ import annotations

from kg.sources.fields import is_header
from kg.sources.pages import Extract, Line, TableRow, is_page_number, located

NAME = "tab-separated"


def detect(lines: list[Line]) -> bool:
    """A line of tab-separated cells names the required columns."""
    return any("\t" in line.text and is_header(line.text.split("\t")) for line in lines)


def extract(lines: list[Line], file: str) -> Extract:
    """Rows from the first header on; a line without tabs inside the table is reported, page numbers skipped."""
    start = next(i for i, line in enumerate(lines) if "\t" in line.text and is_header(line.text.split("\t")))
    rows, problems = [], []
    for line in lines[start:]:
        text = line.text.rstrip(" \u3000")
        if "\t" in text:
            rows.append(TableRow.at(text.split("\t"), line))
        elif text.strip() and not is_page_number(text):
            problems.append(located(file, line, "row", f"unexpected text in the table: {text.strip()[:40]!r}",
                                    "a row needs tab-separated cells; check the PDF extraction", "warning"))
    return Extract(lines[:start], rows, problems)
