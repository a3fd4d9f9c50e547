"""Space-aligned text, as ``pdftotext -layout`` writes a table: each column at its own position.

A single space may be part of a name and a run of spaces usually separates columns, but a full cell can
come within one space of the next column, so columns are found by position: on each page (from one
header to the next), a column boundary is a position left blank by (nearly) every line below the header,
the rightmost such gap before each header label. A wrapped cell continues on the next lines under its
column (cells top-aligned); a header label may wrap too (``R5`` / ``採択``). A row starts at a line with
its number in the first column; a table without numbers has a blank line between rows.

The same reading works on words placed by their coordinates (``Placed``): the PDF reader uses it for a
table drawn without ruling lines.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from kg.errors import RowError, SourceError
from kg.sources.fields import is_header
from kg.sources.pages import Extract, Line, TableRow, join_wrapped, located, width

NAME = "space-aligned"
_PIECE = re.compile(r"[^ \t]+(?: [^ \t]+)*")
MAX_HEADER_LINES = 3        # a header label wraps over at most this many lines
MAX_LABEL_WIDTH = 8         # a wrapped label's later lines are short
STRAY_SHARE = 0.05          # lines allowed to run through a gap between columns
DRIFT = 2                   # a column's text may start this many positions left of where it usually does


@dataclass(frozen=True)
class Placed:
    """A line as pieces of text at positions: (start, end, text), left to right."""

    line: Line
    pieces: tuple[tuple[int, int, str], ...]

    @classmethod
    def of(cls, line: Line) -> "Placed":
        """A line of text: pieces are runs separated by two or more spaces, positions are characters."""
        return cls(line, tuple((start, start + len(text), text) for start, text in pieces(line.text)))

    @property
    def texts(self) -> list[str]:
        return [text for _, _, text in self.pieces]


def pieces(text: str) -> list[tuple[int, str]]:
    """Runs of text separated by two or more spaces: (position, text)."""
    return [(m.start(), m.group()) for m in _PIECE.finditer(text)]


def detect(lines: list[Line]) -> bool:
    """A line whose space-separated pieces name the required columns."""
    return any(is_header([text for _, text in pieces(line.text)]) for line in lines if "\t" not in line.text)


def extract(lines: list[Line], file: str) -> Extract:
    """Rows of every page of the table; rows whose text runs across a column boundary are reported."""
    return extract_placed([Placed.of(line) for line in lines], file)


def extract_placed(placed: list[Placed], file: str) -> Extract:
    """``extract`` for lines already cut into placed pieces (text lines, or a PDF's words)."""
    heads = [i for i, line in enumerate(placed) if is_header(line.texts)]
    rows: list[TableRow] = []
    problems: list[RowError] = []
    for k, start in enumerate(heads):
        end = heads[k + 1] if k + 1 < len(heads) else len(placed)
        _block(placed[start:end], file, rows, problems)
    return Extract([line.line for line in placed[:heads[0]]], rows, problems)


def _block(block: list[Placed], file: str, rows: list[TableRow], problems: list[RowError]) -> None:
    """One header and the lines below it (one page of the table)."""
    header, body = block[0], block[1:]
    more = 0
    while (more < min(MAX_HEADER_LINES - 1, len(body)) and body[more].pieces
           and not _number(body[more].texts[0])
           and all(width(text) <= MAX_LABEL_WIDTH for text in body[more].texts)):
        more += 1
    continued, data = body[:more], body[more:]
    content = [line for line in data if line.pieces]
    bounds = [0] + _boundaries(header, content, file)
    heads = [_cells(line, bounds)[0] for line in [header, *continued]]
    rows.append(TableRow.at([join_wrapped([cells[j] for cells in heads]) for j in range(len(bounds))],
                            header.line))

    numbered = any(_number(_cells(line, bounds)[0][0]) for line in content)
    current: list[list[str]] | None = None
    first, bad = header.line, 0

    def close() -> None:
        nonlocal current
        if current is not None and bad:
            problems.append(located(file, first, "row", f"line {bad} has text that runs across a column boundary; "
                                    "the row is skipped", "check the alignment of that line", "error"))
        elif current is not None:
            rows.append(TableRow.at([join_wrapped(parts) for parts in current], first))
        current = None

    for placed in data:
        line = placed.line
        if not placed.pieces:
            if not numbered:
                close()
            continue
        cells, readable = _cells(placed, bounds)
        lead = cells[0]
        if numbered and _number(lead) or not numbered and current is None:
            close()
            current, first, bad = [[] for _ in bounds], line, 0
        elif numbered and lead[:1].isdigit():      # a row whose number runs into its first cell
            close()
            current, first, bad = [[] for _ in bounds], line, line.number
        elif lead or current is None:
            close()
            problems.append(located(file, line, "row", f"unexpected text in the table: {line.text.strip()[:40]!r}",
                                    "a row starts with its number; check the PDF extraction", "warning"))
            continue
        bad = bad or (0 if readable else line.number)
        for parts, cell in zip(current, cells):
            parts.append(cell)
    close()


def _cells(placed: Placed, bounds: list[int]) -> tuple[list[str], bool]:
    """A line's text per column, and whether it could be read.

    A piece of text goes to the column it starts in. A piece that reaches over the next column's start was
    pushed there by a full cell (half-width letters take more characters than their width): it is split at
    its last single spaces, one per column it covers. Without such spaces the line cannot be read.
    """
    cells: list[list[str]] = [[] for _ in bounds]
    column, readable = 0, True
    for start, end, piece in placed.pieces:
        column = max(column, max(j for j, b in enumerate(bounds) if b <= start))
        covered = sum(1 for b in bounds[column + 1:] if start < b < end)
        spaces = [i for i, char in enumerate(piece) if char == " "][-covered:] if covered else []
        if covered and len(spaces) < covered:
            readable = False
        parts = [piece[a + 1 if a else 0: b] for a, b in zip([0] + spaces, spaces + [len(piece)])]
        for offset, part in enumerate(parts):
            cells[min(column + offset, len(bounds) - 1)].append(part)
        column = min(column + len(parts) - 1, len(bounds) - 1)
    return [" ".join(parts) for parts in cells], readable


def _boundaries(header: Placed, content: list[Placed], file: str) -> list[int]:
    """Where each labelled column starts.

    Below the header, the gap before a column is the rightmost stretch left blank by nearly every line that
    ends near its label. Text in a column usually starts where the gap ends, but a full cell can pull it a
    character or two to the left, so the column starts up to ``DRIFT`` positions earlier (never inside the
    text of the column before). A column with nothing below its label starts just after the text before it.
    """
    labels = header.pieces
    size = max([end for line in content for _, end, _ in line.pieces] + [end for _, end, _ in labels]) + 4
    used = [0] * size
    for line in content:
        for start, stop, text in line.pieces:
            for position in range(start, stop):
                used[position] += 1
            if stop - start == len(text):        # positions are characters: spaces inside are blank
                for offset, char in enumerate(text):
                    if char == " ":
                        used[start + offset] -= 1
    allowed = int(len(content) * STRAY_SHARE)
    blank = [count <= allowed for count in used]
    bounds: list[int] = []
    for index, (start, _, label) in enumerate(labels):
        floor = labels[index - 1][0] + 1 if index else 0
        end = next((end for end in range(start + 2, floor, -1) if blank[end - 1] and not blank[end]), None)
        if end is None and not blank[start]:
            if index or bounds:
                raise SourceError(
                    f"{header.line.where(file)}: cannot tell the columns {labels[index - 1][2]!r} and {label!r} "
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
