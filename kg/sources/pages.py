"""Lines of text extracted from a PDF: pages, page furniture (numbers, footers), wrapped lines joined back.

Shared by every layout of the programme document and by the PDF reader, so that a new layout only has
to say how its table is laid out.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from kg.errors import RowError
from kg.normalize.text import match_key
from kg.sources.fields import CONTROL, control_names, parse_flag

_PAGE_NUMBER = re.compile(r"^[-–—－(（]?\s*(p\.?|page|ページ)?\s*\d{1,4}\s*([/／]\s*\d{1,4})?\s*[-–—－)）]?$", re.I)
_HEADER_WORDS = ("団体名", "取組名", "活動地域")
FULL_LINE = 0.85      # a line this wide (share of the widest) that is followed by text was wrapped


@dataclass(frozen=True)
class Line:
    """One line of text: its 1-based number (in the file; for a PDF, on its page) and its page."""

    number: int
    text: str
    page: int | None = None
    in_pdf: bool = False         # lines of a PDF are numbered on their page

    def where(self, file: str) -> str:
        """'list.txt:12', or 'list.pdf: page 3, line 12'."""
        return f"{file}: page {self.page}, line {self.number}" if self.in_pdf else f"{file}:{self.number}"


def located(file: str, line: Line, column: str, message: str, hint: str, level: str = "error") -> RowError:
    """A problem at a line (with its page when the line is a PDF's)."""
    return RowError(file, line.number, column, message, hint, level, line.page if line.in_pdf else None)


def text_lines(text: str, file: str) -> tuple[list[Line], list[RowError]]:
    """Split a text into lines; a form feed starts a new page (as ``pdftotext`` writes).

    Control characters other than tab are removed, each line that had one is reported.
    """
    lines, problems, page = [], [], 1
    for number, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        if "\f" in raw:
            page += raw.count("\f")
            raw = raw.replace("\f", "")
        if CONTROL.search(raw):
            problems.append(RowError(file, number, "line", f"control characters ({control_names(raw)}) removed",
                                     "check the line in the source file", "warning"))
            raw = CONTROL.sub("", raw)
        lines.append(Line(number, raw, page))
    return lines, problems


def is_page_number(text: str) -> bool:
    """'3', '- 3 -', '3 / 12', 'p. 3' and the like."""
    return bool(_PAGE_NUMBER.match(text.strip()))


def drop_furniture(lines: list[Line]) -> list[Line]:
    """Remove page numbers and running footers: among the two last lines of each page (and the first),
    a page number, or a line that repeats (digits aside) on most pages. Table headers stay.

    Text without page breaks (form feeds) is returned as it is: there is no page edge to look at.
    """
    pages: dict[int | None, list[Line]] = {}
    for line in lines:
        if line.text.strip():
            pages.setdefault(line.page, []).append(line)
    if len(pages) < 2:
        return lines
    edges: dict[tuple, Line] = {}
    for index, (page, page_lines) in enumerate(pages.items(), start=1):
        for line in page_lines[-2:]:
            edges[(page, line.number)] = line
        top = page_lines[0]
        number = re.search(r"\d+", top.text)
        if not is_page_number(top.text) or number is None or abs(int(number.group()) - index) <= 2:
            edges[(page, top.number)] = top
    signatures = {key: _signature(line.text) for key, line in edges.items()}
    repeated = Counter(sig for _, sig in {(page, sig) for (page, _), sig in signatures.items()})
    enough = max(2, math.ceil(0.6 * len(pages)))
    drop = {key for key, sig in signatures.items()
            if (not sig or repeated[sig] >= enough and len(sig.replace(" ", "")) >= 2 and parse_flag(sig) is None)
            and not any(word in match_key(edges[key].text) for word in _HEADER_WORDS)}
    return [line for line in lines if (line.page, line.number) not in drop]


def _signature(text: str) -> str:
    """A footer's text without its page number: digits removed, spacing collapsed; '' for a bare number."""
    if is_page_number(text):
        return ""
    return " ".join(re.sub(r"\d+", "", text).split())


def width(text: str) -> int:
    """Display width: East Asian wide and full-width characters count two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def join_wrapped(parts: list[str]) -> str:
    """Join the lines of a wrapped cell or paragraph back into one text.

    Japanese wraps between any two characters, so lines are joined without a space; Latin words wrap at
    the space between them, so a space comes back between two Latin letters or digits.
    """
    text = ""
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if text and text[-1].isascii() and text[-1].isalnum() and part[0].isascii() and part[0].isalnum():
            text += " "
        text += part
    return text


def paragraphs(lines: list[Line]) -> list[Line]:
    """Join wrapped lines into paragraphs, each numbered by its first line.

    A blank line ends a paragraph; so does a line that stops short of the text's right edge (a line that
    reaches it and is followed by text was wrapped).
    """
    widest = max((width(line.text.rstrip()) for line in lines), default=0)
    found: list[tuple[Line, list[str]]] = []
    previous: Line | None = None
    for line in lines:
        if not line.text.strip():
            previous = None
            continue
        if previous is not None and found and width(previous.text.rstrip()) >= FULL_LINE * widest:
            found[-1][1].append(line.text)
        else:
            found.append((line, [line.text]))
        previous = line
    return [Line(first.number, join_wrapped(parts), first.page) for first, parts in found]


@dataclass
class TableRow:
    """The cells of one table row as a layout found them (header rows included), and where it starts."""

    cells: list[str]
    line: int
    page: int | None = None      # set for a PDF: ``line`` is then the row of the table (or line) on that page

    @classmethod
    def at(cls, cells: list[str], line: Line) -> "TableRow":
        """A row read from a line of text (its page kept when the text is a PDF's)."""
        return cls(cells, line.number, line.page if line.in_pdf else None)


@dataclass
class Extract:
    """What a layout finds in a document: the text above the table, the table's rows, located problems."""

    summary: list[Line]
    rows: list[TableRow]
    problems: list[RowError]
