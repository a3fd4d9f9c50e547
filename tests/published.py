"""The FY2024 list as it is published: a PDF made in the tests, and its text in the extraction layouts.

The data is the bundled document's (summary paragraphs and table cells). ``write_pdf`` draws it the way
the Cabinet Office's PDF looks: a title line with 令和6年度, a summary page with six highlighted
projects, then a ruled table over several pages whose header repeats on each page (the narrow R5採択
header wraps to ``R5採`` / ``択``), long cells wrapped inside their cells, page numbers and a footer.
The text layouts are made from the same data: space-aligned (``aligned_text``: pdfplumber's layout text of
that PDF, pages separated by form feeds as ``pdftotext -layout`` writes them) and one cell per line
(``cells_text``).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from kg.api import bundled_source

FONT = Path(__import__("matplotlib_fontja").__file__).parent / "fonts" / "ipaexg.ttf"
FOOTER = "内閣府 孤独・孤立対策推進室"
HEADER = ["", "団体名", "取組名", "活動地域", "R5採択"]
WIDTHS = [10, 50, 70, 38, 10]         # mm; the narrow last column wraps its header as R5採 / 択
LEFT, TOP, BOTTOM = 12, 15, 280       # mm on A4 portrait
SIZE, LEAD, PAD = 9, 4.2, 1.2         # font size (pt), line height and cell padding (mm)


@dataclass
class ListData:
    title: str
    summary: list[str]          # paragraphs, as in the bundled document
    rows: list[list[str]]       # table cells, number first


def bundled_data() -> ListData:
    """Paragraphs and table rows of the bundled FY2024 document."""
    lines = bundled_source().read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("\t団体名"))
    paragraphs = [re.sub(r"(?<=。)\d{1,3}$", "", line) for line in lines[:start] if line.strip()]
    rows = [line.split("\t") for line in lines[start:] if re.match(r"^\d+\t", line)]
    return ListData(paragraphs[0], paragraphs[1:], [(row + [""] * 5)[:5] for row in rows])


OPENING = "“「（『【〈《(["      # never at the end of a line (禁則)
CLOSING = "”」）』】〉》)]、。，．・ー？！"   # never at the start of one


def _latin(char: str) -> bool:
    return char.isascii() and char.isalnum()


def wrap(text: str, width: float, measure) -> list[str]:
    """Break text into lines no wider than ``width``, the way Japanese word processors do.

    Between Japanese characters a line may break anywhere but before closing or after opening punctuation
    (禁則); Latin words stay whole and break at the space between them (which disappears); a space next to a
    Japanese character never sits at a break.
    """
    lines, start = [], 0
    while start < len(text):
        end = start + 1
        while end < len(text) and measure(text[start:end + 1]) <= width:
            end += 1
        if end < len(text):
            cut = end
            while cut > start + 1 and (_latin(text[cut - 1]) and _latin(text[cut])
                                       or text[cut] == " " and not (_latin(text[cut - 1]) and _latin(text[cut + 1]))
                                       or text[cut - 1] == " "
                                       or text[cut - 1] in OPENING or text[cut] in CLOSING):
                cut -= 1
            if text[cut] == " " and _latin(text[cut - 1]):
                lines.append(text[start:cut])
                start = cut + 1
                continue
            end = cut if cut > start + 1 else end
        lines.append(text[start:end])
        start = end
    return lines


def write_pdf(path: Path, data: ListData | None = None, *, summary: bool = True, password: str | None = None,
              rows_per_page: int = 18) -> Path:
    """Draw the list as a PDF: title, optional summary page, ruled table pages with footers."""
    from fpdf import FPDF

    data = data or bundled_data()
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    pdf.add_font("ipaex", fname=str(FONT))
    pdf.set_font("ipaex", size=SIZE)
    if password:
        pdf.set_encryption(owner_password=password + "-owner", user_password=password)
    measure = pdf.get_string_width

    def new_page() -> None:
        pdf.add_page()
        pdf.set_font("ipaex", size=8)
        pdf.text(LEFT, BOTTOM + 8, FOOTER)
        pdf.text(105, BOTTOM + 8, str(pdf.page_no()))
        pdf.set_font("ipaex", size=SIZE)

    def paragraph(text: str, y: float, size: float = SIZE, fill: bool = False) -> float:
        pdf.set_font("ipaex", size=size)
        lines = wrap(text, 186, pdf.get_string_width)
        if fill:
            pdf.set_fill_color(255, 236, 179)
            pdf.rect(LEFT - 1, y - 0.5, 188, len(lines) * size * 0.5 + 1, style="F")
        for line in lines:
            pdf.text(LEFT, y + size * 0.35, line)
            y += size * 0.5
        pdf.set_font("ipaex", size=SIZE)
        return y + 3

    if summary:
        new_page()
        y = paragraph(data.title, TOP, size=12)
        categories = {i - 2 for i, text in enumerate(data.summary) if re.match(r"^.+（[^（）]+[都道府県]）$", text)}
        for index, text in enumerate(data.summary):
            if y > BOTTOM - 20:
                new_page()
                y = TOP
            y = paragraph(text, y, fill=index in categories)

    def draw_row(cells: list[str], y: float, header: bool = False) -> float:
        wrapped = [wrap(cell, width - 2 * PAD, measure) if cell else [] for cell, width in zip(cells, WIDTHS)]
        height = max(1, max(len(lines) for lines in wrapped)) * LEAD + 2 * PAD
        x = LEFT
        for lines, width in zip(wrapped, WIDTHS):
            if header:
                pdf.set_fill_color(220, 220, 220)
            pdf.rect(x, y, width, height, style="DF" if header else "D")
            for n, line in enumerate(lines):
                pdf.text(x + PAD, y + PAD + (n + 0.8) * LEAD, line)
            x += width
        return y + height

    for first in range(0, len(data.rows), rows_per_page):
        new_page()
        y = TOP
        if first == 0 and not summary:
            y = paragraph(data.title, y, size=12)
        y = draw_row(HEADER, y, header=True)
        for row in data.rows[first: first + rows_per_page]:
            y = draw_row(row, y)
    pdf.output(str(path))
    return path


def write_scan(path: Path) -> Path:
    """A 'scanned' PDF: one page holding only an image, no text layer."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw

    image = Image.new("L", (400, 300), 255)
    draw = ImageDraw.Draw(image)
    for y in range(20, 280, 20):
        draw.line((20, y, 380, y), fill=0)
    pdf = FPDF(format="A4", unit="mm")
    pdf.add_page()
    pdf.image(image, x=10, y=10, w=190)
    pdf.output(str(path))
    return path


def write_text_pdf(path: Path, lines: list[str]) -> Path:
    """A PDF of plain text lines (no ruled table)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4", unit="mm")
    pdf.add_font("ipaex", fname=str(FONT))
    pdf.set_font("ipaex", size=SIZE)
    pdf.add_page()
    for n, line in enumerate(lines):
        pdf.text(LEFT, TOP + n * 6, line)
    pdf.output(str(path))
    return path


def write_unruled_pdf(path: Path, data: ListData | None = None) -> list[list[str]]:
    """A table without ruling lines: each cell drawn at its column's position, one line a row (rows whose
    cells would need wrapping are left out). Returns the rows drawn."""
    from fpdf import FPDF

    data = data or bundled_data()
    pdf = FPDF(format="A4", unit="mm")
    pdf.add_font("ipaex", fname=str(FONT))
    pdf.set_font("ipaex", size=7)
    columns = [(12, 7), (20, 54), (76, 74), (152, 44)]          # (x, width) in mm
    rows = [row[:4] for row in data.rows
            if all(pdf.get_string_width(cell) < width for cell, (_, width) in zip(row[:4], columns))][:20]
    pdf.add_page()
    pdf.text(LEFT, TOP, data.title)
    for n, cells in enumerate([HEADER[:4]] + rows):
        for cell, (x, _) in zip(cells, columns):
            pdf.text(x, TOP + 10 + n * 5, cell)
    pdf.output(str(path))
    return rows


def aligned_text(pdf_path: Path) -> str:
    """The PDF as space-aligned text (pdfplumber's layout mode), pages separated by form feeds."""
    import pdfplumber

    with pdfplumber.open(pdf_path) as pdf:
        pages = [page.extract_text(layout=True) for page in pdf.pages]
    return "\n\f".join(pages) + "\n"


def cells_text(data: ListData | None = None, rows_per_page: int = 18) -> str:
    """One cell per line, pages separated by form feeds, each ending with the footer and its number: the
    title and summary paragraphs, then on each page the header's labels and each row's number and cells."""
    data = data or bundled_data()
    pages = [[data.title, ""] + [line for text in data.summary for line in (text, "")]]
    for first in range(0, len(data.rows), rows_per_page):
        page = [cell for cell in HEADER if cell]
        for row in data.rows[first: first + rows_per_page]:
            page += [cell for cell in row if cell]
        pages.append(page)
    return "\n\f".join("\n".join(page + [FOOTER, str(n)]) for n, page in enumerate(pages, start=1)) + "\n"


def width(text: str) -> int:
    """Display width (East Asian wide characters count two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
