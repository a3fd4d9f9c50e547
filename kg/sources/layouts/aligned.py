"""Space-aligned text, as ``pdftotext -layout`` writes a table: each column at its own position.

A single space may be part of a name and a run of spaces usually separates columns, but a full cell can
come within one space of the next column, so columns are found by position: on each page (from one
header to the next), a column boundary is a position left blank by (nearly) every line below the header,
the rightmost such gap before each header label. A wrapped cell continues on the next lines under its
column (cells top-aligned); a header label may wrap too (``R5`` / ``採択``). A row starts at a line with
its number in the first column; a table without numbers has a blank line between rows.
"""
from __future__ import annotations

import re

from kg.errors import RowError, SourceError
from kg.sources.fields import is_header
from kg.sources.pages import Extract, Line, TableRow, join_wrapped, located, width

NAME = "space-aligned"
_PIECE = re.compile(r"[^ \t]+(?: [^ \t]+)*")
MAX_HEADER_LINES = 3        # a header label wraps over at most this many lines
MAX_LABEL_WIDTH = 8         # a wrapped label's later lines are short
STRAY_SHARE = 0.05          # lines allowed to run through a gap between columns
DRIFT = 2                   # a column's text may start this many characters left of where it usually does


def pieces(text: str) -> list[tuple[int, str]]:
    """Runs of text separated by two or more spaces: (position, text)."""
    return [(m.start(), m.group()) for m in _PIECE.finditer(text)]


def detect(lines: list[Line]) -> bool:
    """A line whose space-separated pieces name the required columns."""
    return any(is_header([text for _, text in pieces(line.text)]) for line in lines if "\t" not in line.text)


def extract(lines: list[Line], file: str) -> Extract:
    """Rows of every page of the table; rows whose text runs across a column boundary are reported."""
    heads = [i for i, line in enumerate(lines) if is_header([text for _, text in pieces(line.text)])]
    rows: list[TableRow] = []
    problems: list[RowError] = []
    for k, start in enumerate(heads):
        end = heads[k + 1] if k + 1 < len(heads) else len(lines)
        _block(lines[start:end], file, rows, problems)
    return Extract(lines[:heads[0]], rows, problems)


def _block(block: list[Line], file: str, rows: list[TableRow], problems: list[RowError]) -> None:
    """One header and the lines below it (one page of the table)."""
    header, body = block[0], block[1:]
    labels = pieces(header.text)
    more = 0
    while (more < min(MAX_HEADER_LINES - 1, len(body)) and body[more].text.strip()
           and not _number(pieces(body[more].text)[0][1])
           and all(width(text) <= MAX_LABEL_WIDTH for _, text in pieces(body[more].text))):
        more += 1
    continued, data = body[:more], body[more:]
    content = [line for line in data if line.text.strip()]
    bounds = [0] + _boundaries(labels, content, header, file)
    heads = [_cells(line.text, bounds)[0] for line in [header, *continued]]
    rows.append(TableRow.at([join_wrapped([cells[j] for cells in heads]) for j in range(len(bounds))], header))

    numbered = any(_number(_cells(line.text, bounds)[0][0]) for line in content)
    current: list[list[str]] | None = None
    first, bad = header, 0

    def close() -> None:
        nonlocal current
        if current is not None and bad:
            problems.append(located(file, first, "row", f"line {bad} has text that runs across a column boundary; "
                                    "the row is skipped", "check the alignment of that line", "error"))
        elif current is not None:
            rows.append(TableRow.at([join_wrapped(parts) for parts in current], first))
        current = None

    for line in data:
        if not line.text.strip():
            if not numbered:
                close()
            continue
        cells, readable = _cells(line.text, bounds)
        lead = cells[0]
        if numbered and _number(lead) or not numbered and current is None:
            close()
            current, first, bad = [[] for _ in bounds], line, 0
        elif lead or current is None:
            close()
            problems.append(located(file, line, "row", f"unexpected text in the table: {line.text.strip()[:40]!r}",
                                    "a row starts with its number; check the PDF extraction", "warning"))
            continue
        bad = bad or (0 if readable else line.number)
        for parts, cell in zip(current, cells):
            parts.append(cell)
    close()


def _cells(text: str, bounds: list[int]) -> tuple[list[str], bool]:
    """A line's text per column, and whether it could be read.

    A piece of text goes to the column it starts in. A piece that reaches over the next column's start was
    pushed there by a full cell (half-width letters take more characters than their width): it is split at
    its last single spaces, one per column it covers. Without such spaces the line cannot be read.
    """
    cells: list[list[str]] = [[] for _ in bounds]
    column, readable = 0, True
    for start, piece in pieces(text):
        column = max(column, max(j for j, b in enumerate(bounds) if b <= start))
        end = start + len(piece)
        covered = sum(1 for b in bounds[column + 1:] if start < b < end)
        spaces = [i for i, char in enumerate(piece) if char == " "][-covered:] if covered else []
        if covered and len(spaces) < covered:
            readable = False
        parts = [piece[a + 1 if a else 0: b] for a, b in zip([0] + spaces, spaces + [len(piece)])]
        for offset, part in enumerate(parts):
            cells[min(column + offset, len(bounds) - 1)].append(part)
        column = min(column + len(parts) - 1, len(bounds) - 1)
    return [" ".join(parts) for parts in cells], readable


def _boundaries(labels: list[tuple[int, str]], content: list[Line], header: Line, file: str) -> list[int]:
    """Where each labelled column starts.

    Below the header, the gap before a column is the rightmost stretch left blank by nearly every line that
    ends near its label. Text in a column usually starts where the gap ends, but a full cell can pull it a
    character or two to the left, so the column starts up to ``DRIFT`` characters earlier (never inside the
    text of the column before). A column with nothing below its label starts just after the text before it.
    """
    size = max([len(line.text) for line in content] + [start + len(label) for start, label in labels]) + 4
    used = [0] * size
    for line in content:
        for position, char in enumerate(line.text):
            if char != " ":
                used[position] += 1
    allowed = int(len(content) * STRAY_SHARE)
    blank = [count <= allowed for count in used]
    bounds: list[int] = []
    for index, (start, label) in enumerate(labels):
        floor = labels[index - 1][0] + 1 if index else 0
        end = next((end for end in range(start + 2, floor, -1) if blank[end - 1] and not blank[end]), None)
        if end is None and not blank[start]:
            if index or bounds:
                raise SourceError(
                    f"{header.where(file)}: cannot tell the columns {labels[index - 1][1]!r} and {label!r} "
                    "apart: no blank gap between them in the lines below — give the PDF, or text with the "
                    "columns separated by tabs or aligned by at least two spaces")
            bounds.append(0)
            continue
        gap = end if end is not None else start
        while gap - 1 > floor and blank[gap - 1]:
            gap -= 1
        found = gap + 1 if end is None else max(end - DRIFT, gap + 1)
        if bounds and found <= bounds[-1]:
            found = bounds[-1] + 1
        bounds.append(found)
    return bounds


def _number(text: str) -> bool:
    return text.isdigit() and text.isascii()
