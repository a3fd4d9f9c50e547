"""The programme list as a PDF, read with pdfplumber (tables from the ruling lines, text with positions).

Each ruled table row becomes a row (its wrapped lines joined back; the header repeated on every page is
recognised as a header); the text above the first table is the summary, with the title and the featured
projects. Page numbers and running footers are dropped. A table drawn without ruling lines is read from
its words' positions instead, like space-aligned text. Rows are located by page and table row (the header
is row 1; for a table without rules, by page and line).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from kg.errors import SourceError
from kg.normalize.text import match_key
from kg.sources.document import read_extract
from kg.sources.fields import CONTROL, is_header
from kg.sources.pages import Extract, Line, TableRow, drop_furniture, join_wrapped
from kg.sources.read import SourceRead

PARAGRAPH_GAP = 0.6     # a vertical gap over this share of a line's height starts a paragraph
MIN_COLUMNS = 3         # a ruled box with fewer filled cells in every row is decoration, not a table
LINE_TOLERANCE = 2.0    # points: words whose tops differ less are on one line
MAX_PAGES = 500
_WORDS = ("団体名", "取組名", "活動地域")


@dataclass
class _Page:
    number: int
    rows: list[list[str]] = field(default_factory=list)       # cells of the table rows on the page
    lines: list[tuple[str, float, float]] = field(default_factory=list)   # text outside the tables, top, bottom
    table_top: float | None = None
    chars: int = 0
    images: int = 0


def read_pdf(path: Path, *, fiscal_year: int | None = None, programme: str | None = None) -> SourceRead:
    """Read a programme list PDF: its ruled table across pages, and the summary's featured projects."""
    data = path.read_bytes()
    file = str(path)
    pages = _open(path, lambda pdf: [_page(number, page) for number, page in enumerate(_pages(pdf, path), 1)])
    if not any(page.chars for page in pages):
        if any(page.images for page in pages):
            raise SourceError(f"{file}: no text layer; run OCR first (e.g. ocrmypdf {path.name} out.pdf), "
                              "or give the list as CSV or XLSX")
        raise SourceError(f"{file}: the PDF has no text — is it the programme list?")
    extract = _tables(pages)
    if not any(is_header(row.cells) for row in extract.rows):
        extract = _unruled(path, pages)
    return read_extract(extract, file=file, sha256=hashlib.sha256(data).hexdigest(),
                        fiscal_year=fiscal_year, programme=programme, pdf=True)


def _open(path: Path, read):
    """Run ``read(pdf)`` on the open PDF; a PDF that cannot be opened or parsed is one clear error."""
    try:
        import pdfplumber
    except ImportError as error:  # pragma: no cover - a declared dependency
        raise SourceError("reading a PDF needs pdfplumber: pip install pdfplumber") from error
    try:
        with pdfplumber.open(path) as pdf:
            return read(pdf)
    except SourceError:
        raise
    except Exception as error:  # pdfminer raises many types for damaged or protected files
        cause = error.args[0] if error.args and isinstance(error.args[0], Exception) else error
        if type(cause).__name__ in ("PDFPasswordIncorrect", "PDFEncryptionError"):
            raise SourceError(f"{path}: the PDF is encrypted (password-protected) — open it with its password and "
                              "save an unprotected copy (Print to PDF), or give the list as CSV or XLSX") from None
        raise SourceError(f"{path}: not a readable PDF ({type(cause).__name__}: {cause}) — open it in a PDF "
                          "viewer and save it again, or give the list as CSV or XLSX") from None


def _pages(pdf, path: Path) -> list:
    """The pages of an open PDF, refused beyond ``MAX_PAGES`` (a list has a few dozen at most)."""
    if len(pdf.pages) > MAX_PAGES:
        raise SourceError(f"{path}: refused: {len(pdf.pages):,} pages, more than the {MAX_PAGES} a programme list "
                          "could have — give the list as CSV or XLSX")
    return pdf.pages


def _page(number: int, page) -> _Page:
    """What one page holds: table rows (cells as text), text lines outside the tables, counts."""
    found = _Page(number, chars=len(page.chars), images=len(page.images))
    boxes = []
    for table in page.find_tables():
        rows = [[join_wrapped((cell or "").split("\n")) for cell in row] for row in table.extract()]
        if any(sum(1 for cell in row if cell) >= MIN_COLUMNS for row in rows):
            found.rows.extend(rows)
            boxes.append(table.bbox)
    found.table_top = min((box[1] for box in boxes), default=None)
    for line in page.extract_text_lines():
        middle = (line["top"] + line["bottom"]) / 2
        if not any(x0 <= line["x0"] <= x1 and top <= middle <= bottom for x0, top, x1, bottom in boxes):
            found.lines.append((CONTROL.sub("", line["text"]), line["top"], line["bottom"]))
    return found


def _tables(pages: list[_Page]) -> Extract:
    """Rows of the ruled tables, and the text above the first one as the summary."""
    rows = [TableRow(cells, index, page.number) for page in pages for index, cells in enumerate(page.rows, 1)]
    lines: list[Line] = []
    for page in pages:
        previous = None
        for number, (text, top, bottom) in enumerate(page.lines, start=1):
            if previous and top - previous[1] > PARAGRAPH_GAP * (previous[1] - previous[0]):
                lines.append(Line(0, "", page.number, True))      # a paragraph break
            lines.append(Line(number, text, page.number, True))
            previous = (top, bottom)
    lines = drop_furniture(lines)
    first = next((page for page in pages if any(is_header(cells) for cells in page.rows)), None)
    summary = [line for line in lines if first is None or line.page is None or line.page < first.number
               or line.page == first.number and _above(line, first)]
    return Extract(summary, rows, [])


def _above(line: Line, page: _Page) -> bool:
    """True for a line of ``page`` above its first table."""
    if not line.number:
        return True
    return page.table_top is None or page.lines[line.number - 1][1] < page.table_top


def _unruled(path: Path, pages: list[_Page]) -> Extract:
    """A table drawn without ruling lines: its words, placed by their x coordinates (in points), read like
    space-aligned text."""
    from kg.sources.layouts.aligned import Placed, extract_placed

    words = _open(path, lambda pdf: [page.extract_words() for page in pdf.pages])
    placed: list[Placed] = []
    for page, page_words in zip(pages, words):
        previous = None
        for number, group in enumerate(_word_lines(page_words), start=1):
            top, bottom = group[0]["top"], max(word["bottom"] for word in group)
            if previous and top - previous[1] > PARAGRAPH_GAP * (previous[1] - previous[0]):
                placed.append(Placed(Line(0, "", page.number, True), ()))        # a paragraph break
            cut = tuple((round(w["x0"]), max(round(w["x1"]), round(w["x0"]) + 1), CONTROL.sub("", w["text"]))
                        for w in group)
            placed.append(Placed(Line(number, " ".join(text for _, _, text in cut), page.number, True), cut))
            previous = (top, bottom)
    kept = {(line.page, line.number) for line in drop_furniture([p.line for p in placed])}
    placed = [p for p in placed if (p.line.page, p.line.number) in kept or not p.pieces]
    if not any(is_header(p.texts) for p in placed):
        merged = next((p.line for p in placed if all(word in match_key(p.line.text) for word in _WORDS)), None)
        if merged is not None:
            raise SourceError(f"{merged.where(str(path))}: found the table header but cannot tell its columns "
                              "apart — give the list as CSV or XLSX")
        raise SourceError(f"{path}: no recognisable table — found text on {sum(1 for p in pages if p.chars)} "
                          "page(s) but no table with the columns 団体名, 取組名, 活動地域; if the table is a "
                          "picture, run OCR first; or give the list as CSV or XLSX")
    return extract_placed(placed, str(path))


def _word_lines(words: list[dict]) -> list[list[dict]]:
    """Words grouped into lines (same top, within a point or two), each line left to right."""
    lines: list[list[dict]] = []
    for word in sorted(words, key=lambda w: (round(w["top"]), w["x0"])):
        if lines and abs(word["top"] - lines[-1][0]["top"]) <= LINE_TOLERANCE:
            lines[-1].append(word)
        else:
            lines.append([word])
    return [sorted(line, key=lambda w: w["x0"]) for line in lines]
