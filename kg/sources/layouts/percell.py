"""One cell per line, as several PDF-to-text tools write a table: the header's labels on lines of their own,
then each row as its number followed by its cells, one a line, in the header's order.

An empty cell has no line; a row with one line fewer than the columns has its last column empty (or, when
that line is a ○ and the last column is the prior-adoption mark, the column before it). Rows are told apart
by their numbers, so the table must be numbered.
"""
from __future__ import annotations

from kg.errors import RowError, SourceError
from kg.sources.fields import REQUIRED, field_of, parse_flag
from kg.sources.pages import Extract, Line, TableRow, is_page_number, located

NAME = "one cell per line"
MAX_LABEL_PARTS = 2        # a label wrapped over two lines (R5採 / 択) is joined back


def header_at(lines: list[Line], index: int) -> tuple[list[str], int] | None:
    """The header labels starting at ``lines[index]`` and the index after them, or None."""
    labels, i = [], index
    while i < len(lines):
        text = lines[i].text.strip()
        if not text:
            break
        for parts in range(1, MAX_LABEL_PARTS + 1):
            joined = "".join(line.text.strip() for line in lines[i:i + parts])
            if field_of(joined):
                labels.append(joined)
                i += parts
                break
        else:
            break
    fields = {field_of(label) for label in labels}
    return (labels, i) if set(REQUIRED) <= fields else None


def detect(lines: list[Line]) -> bool:
    """Lines holding only 団体名, 取組名, 活動地域 (and the other labels), one after another."""
    return any(header_at(lines, i) for i in range(len(lines)) if field_of(lines[i].text.strip()))


def extract(lines: list[Line], file: str) -> Extract:
    """Rows from the first header on; a row whose lines do not fit the columns is reported and skipped."""
    first = next(i for i in range(len(lines)) if field_of(lines[i].text.strip()) and header_at(lines, i))
    found = header_at(lines, first)
    assert found is not None                 # ``first`` was chosen where a header is
    labels, i = found
    fields = [field_of(label) for label in labels]
    head = ""
    if fields[0] == "number":          # the numbers come on lines of their own
        head, labels, fields = labels[0], labels[1:], fields[1:]
    rows = [TableRow.at([head] + labels, lines[first])]
    problems: list[RowError] = []
    current: list[str] | None = None
    start, number = lines[first], 0

    def close() -> None:
        if current is None:
            return
        cells = _fit(current, fields)
        if cells is None:
            problems.append(located(file, start, "row", f"row {number} has {len(current)} lines for its "
                                    f"{len(fields)} columns; the row is skipped",
                                    "one cell per line is expected: join a cell wrapped over two lines", "error"))
        else:
            rows.append(TableRow.at([str(number)] + cells, start))

    while i < len(lines):
        line, text = lines[i], lines[i].text.strip()
        i += 1
        if not text:
            continue
        again = header_at(lines, i - 1) if field_of(text) else None
        if again:
            close()
            current, i = None, again[1]
        elif text.isdigit() and text.isascii() and int(text) > number:
            close()
            current, start, number = [], line, int(text)
        elif current is None:
            if not rows[1:] and not problems:
                raise SourceError(f"{line.where(file)}: one cell per line, but the row after the header does not "
                                  "start with its number: the rows cannot be told apart — give the PDF, CSV or "
                                  "text with the columns aligned or tab-separated")
            problems.append(located(file, line, "row", f"unexpected text in the table: {text[:40]!r}",
                                    "a row starts with its number; check the PDF extraction", "warning"))
        elif is_page_number(text) and len(current) >= len(fields) - 1:
            continue        # a page number after a complete row
        else:
            current.append(text)
    close()
    return Extract(lines[:first], rows, problems)


def _fit(values: list[str], fields: list[str | None]) -> list[str] | None:
    """Cells in the header's order from a row's lines, or None when they do not fit."""
    if len(values) == len(fields):
        # a last column of ○ marks holds a mark, not text pushed there by a cell wrapped over two lines
        return values if fields[-1] != "prior_adoption" or parse_flag(values[-1]) is not None else None
    if len(values) == len(fields) - 1 and len(values) >= 2:
        if fields[-1] == "prior_adoption" and parse_flag(values[-1]):
            return values[:-1] + [""] + values[-1:]
        return values + [""]
    return None
