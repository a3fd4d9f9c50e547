"""CSV and TSV read record by record, so that one bad line never loses the file.

Lines end at LF only (or CR only, in old Mac files): a stray CR inside a row is then that row's error, not
a row break. The csv module parses each record (a quoted cell may span lines); a record it refuses (a CR
inside an unquoted cell, a cell longer than csv's field limit, an unclosed quote) is reported with its
line and skipped, and reading goes on at the next line. A NUL is removed (csv refuses it) with a warning.
A line over ``MAX_LINE`` characters is refused without holding it in memory.
"""
from __future__ import annotations

import csv
from collections import deque
from pathlib import Path
from typing import Iterator, TextIO

from kg.errors import RowError

MAX_LINE = 1 << 20          # characters; csv's own limit on one cell is 131,072
HEAD = 1 << 16
_REASONS = {
    "new-line character seen in unquoted field": ("a line break (CR) inside a cell that is not in quotes",
                                                  "remove the stray line break or put the cell in double quotes"),
    "field larger than field limit": (f"a cell is longer than {csv.field_size_limit():,} characters",
                                      "shorten the cell, or check for a missing closing quote"),
    "unexpected end of data": ("a quote opened in this row is never closed", "close the quote or remove it"),
    "expected after": ("text after the closing quote of a cell", "put the whole cell in quotes, doubling inner quotes"),
}


def line_ending(path: Path) -> str:
    """'\\n' for LF and CRLF files, '\\r' for a file whose lines end with CR alone (old Mac)."""
    with open(path, "rb") as f:
        head = f.read(HEAD)
    return "\r" if b"\r" in head and b"\n" not in head else "\n"


class _Lines:
    """Physical lines with their numbers; lines can be handed back to be read again."""

    def __init__(self, f: TextIO, file: str) -> None:
        self.f, self.file, self.number = f, file, 0
        self.pending: deque[tuple[int, str]] = deque()
        self.taken: list[tuple[int, str]] = []
        self.problems: list[RowError] = []

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        if self.pending:
            item = self.pending.popleft()
        else:
            text = self.f.readline(MAX_LINE)
            if not text:
                raise StopIteration
            self.number += 1
            if len(text) == MAX_LINE and not text.endswith(("\n", "\r")):
                while (rest := self.f.readline(MAX_LINE)) and not rest.endswith(("\n", "\r")):
                    pass                   # the rest of the over-long line, read and dropped
                self.problems.append(RowError(self.file, self.number, "row",
                                              f"line longer than {MAX_LINE:,} characters; skipped",
                                              "check the file: is it a list of projects?"))
                text = "\n"
            if "\0" in text:
                self.problems.append(RowError(self.file, self.number, "row", "NUL characters (U+0000) removed",
                                              "check the row in the source file", "warning"))
                text = text.replace("\0", "")
            item = (self.number, text)
        self.taken.append(item)
        return item[1]


def records(f: TextIO, file: str, delimiter: str) -> Iterator[tuple[int, list[str] | None, list[RowError]]]:
    """(first line, cells or None, problems) for each record of an open CSV/TSV file, in order."""
    lines = _Lines(f, file)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    widest = 0       # cells in the widest one-line record so far
    while True:
        lines.taken.clear()
        try:
            cells = next(reader)
        except StopIteration:
            if lines.problems:
                yield lines.number, None, _drain(lines)
            return
        except csv.Error as error:
            reason = str(error)
        else:
            if len(lines.taken) < 2 or len(cells) >= widest:
                widest = max(widest, len(cells)) if len(lines.taken) < 2 else widest
                yield (lines.taken[0][0] if lines.taken else lines.number), cells, _drain(lines)
                continue
            reason = "unexpected end of data"   # a quote left open swallowed the next lines: fewer cells
        line = lines.taken[0][0] if lines.taken else lines.number
        # Only the record's first line is bad; the lines read after it are read again.
        lines.pending.extendleft(reversed(lines.taken[1:]))
        message, hint = next((v for k, v in _REASONS.items() if k in reason), (reason, "fix the row"))
        yield line, None, _drain(lines) + [RowError(file, line, "row", f"{message}; the row is skipped", hint)]


def _drain(lines: _Lines) -> list[RowError]:
    problems, lines.problems = lines.problems, []
    return problems
