"""Careless and hostile input to the readers: one bad line never loses the file, and every refusal is clear.

Regression tests for issue 10, items 9 (bad CSV lines), 10 (XLSX decompression bomb), 11 (control
characters) and 14 (locations: BOM + CP932, two title columns, a directory).
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from conftest import HEADER_JA
from kg.errors import SourceError
from kg.sources import read_source, workbook

GOOD = [["団体A", "取組A", "東京都豊島区", ""], ["団体B", "取組B", "東京都北区", "○"]]


def csv_bytes(rows: list[list[str]]) -> bytes:
    return "".join(",".join(row) + "\r\n" for row in rows).encode("utf-8")


def read(path: Path):
    return read_source(path, fiscal_year=2024, programme="p")


# 9. one bad line must not lose the file


def test_bare_cr_inside_a_row_skips_that_row_only(tmp_path):
    path = tmp_path / "cr.csv"
    path.write_bytes(csv_bytes([HEADER_JA, GOOD[0]]) + "団体X,取組\rX,東京都北区,\r\n".encode() + csv_bytes([GOOD[1]]))
    result = read(path)
    assert [r.title for r in result.rows] == ["取組A", "取組B"]                 # no half-row loaded as a project
    (error,) = result.problems
    assert (error.row, error.level) == (3, "error") and "line break (CR) inside a cell" in error.message
    assert [r.line for r in result.rows] == [2, 4]


def test_cell_over_the_csv_field_limit_skips_that_row_only(tmp_path):
    path = tmp_path / "long.csv"
    path.write_bytes(csv_bytes([HEADER_JA, GOOD[0], ["団体X", "x" * 140_000, "東京都", ""], GOOD[1]]))
    result = read(path)
    assert [r.title for r in result.rows] == ["取組A", "取組B"]
    (error,) = result.problems
    assert error.row == 3 and "longer than 131,072 characters" in error.message



def test_cells_just_under_the_limit_load_and_their_messages_stay_short(tmp_path):
    """Long hostile cells in every column: the rows load, tagging stays linear, and each message quotes the
    start of a cell with its length instead of the whole cell."""
    from kg import Tsunagari

    long = 120_000
    hostile = [["団体" + "弁" * long, "取組" + "畑" * long, "北区、" * (long // 3), ""],
               ["団体" + "ママ" * (long // 2), "1" * long, "東京都" + "ê" * long, "x" * long]]
    path = tmp_path / "hostile.csv"
    path.write_bytes(csv_bytes([HEADER_JA, GOOD[0]] + hostile + [GOOD[1]]))
    kg, report = Tsunagari.build([path], tmp_path / "store", embed=False, fiscal_year=2024, programme="p")
    assert len(kg.projects()) == 4
    messages = [str(problem) for problem in report.problems]
    assert len(messages) >= 2 and max(len(m) for m in messages) < 1_000, messages
    assert any("and 39,995 more" in m and "(120,000 characters)" in m for m in messages)
    assert any(f"({long:,} characters)" in m and "prior adoption" in m for m in messages)

def test_unclosed_quote_skips_its_row_and_reads_the_next_lines_again(tmp_path):
    path = tmp_path / "quote.csv"
    path.write_bytes(csv_bytes([HEADER_JA, ['団体X', '"取組X', '東京都', ''], GOOD[0], ['団体C', '"取組\nC"', '大阪府', ''],
                                GOOD[1]]))
    result = read(path)
    assert [(r.line, r.title) for r in result.rows] == [(3, "取組A"), (4, "取組 C"), (6, "取組B")]
    assert [(e.row, e.level) for e in result.problems] == [(2, "error")]


def test_old_mac_line_endings_still_read(tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes("\r".join(",".join(row) for row in [HEADER_JA] + GOOD).encode("utf-8") + b"\r")
    assert [r.title for r in read(path).rows] == ["取組A", "取組B"]


# 10. XLSX decompression bomb


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def test_xlsx_that_would_inflate_past_the_limit_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "bomb.xlsx"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            for _ in range(64):
                part.write(b"<c/>" * (1 << 16))              # 16 MiB of XML, a few KB compressed
    path.write_bytes(buffer.getvalue())
    assert path.stat().st_size < 200_000
    monkeypatch.setattr(workbook, "MAX_INFLATED", 8 << 20)
    with pytest.raises(SourceError, match=r"bomb.xlsx: refused: the workbook would inflate to 16 MB .*"
                                          r"sheet1.xml.* over the limits of 8 MB"):
        read(path)


def test_xlsx_rows_columns_and_cells_within_limits(tmp_path, monkeypatch):
    monkeypatch.setattr(workbook, "MAX_ROWS", 4)
    monkeypatch.setattr(workbook, "MAX_COLUMNS", 6)
    monkeypatch.setattr(workbook, "MAX_CELL", 1000)      # Excel's 32,767 (openpyxl cuts longer cells itself)
    rows = [HEADER_JA, GOOD[0], ["団体L", "x" * 2000, "東京都", ""], GOOD[1] + ["", "", "extra"], GOOD[0], GOOD[1]]
    result = read(write_xlsx(tmp_path / "big.xlsx", rows))
    assert [r.title for r in result.rows] == ["取組A", "取組B"]
    assert [(e.row, e.level) for e in result.problems] == [(3, "error"), (4, "warning"), (5, "error")]
    long, wide, many = result.problems
    assert "longer than 1,000 characters" in long.message and long.column == "column 2"
    assert "after column 6 are not read" in wide.message
    assert "rows after row 4 are not read" in many.message


def test_damaged_xlsx_is_one_clear_line(tmp_path):
    (tmp_path / "damaged.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(SourceError, match=r"damaged.xlsx: not a readable .xlsx file"):
        read(tmp_path / "damaged.xlsx")


# 11. control characters


def test_control_characters_are_removed_with_a_located_warning(tmp_path):
    path = tmp_path / "ctl.csv"
    path.write_bytes(csv_bytes([HEADER_JA, ["団体\x1bA", "取組\x00A\x07", "東京都豊島区", ""], GOOD[1]]))
    result = read(path)
    assert [(r.organization, r.title) for r in result.rows] == [("団体A", "取組A"), ("団体B", "取組B")]
    assert {(e.row, e.column, e.level) for e in result.problems} == {
        (2, "row", "warning"), (2, "団体名/organization", "warning"), (2, "取組名/title", "warning")}
    assert any("U+001B" in e.message for e in result.problems)
    # Excel stores a control character as an _xHHHH_ escape (openpyxl will not even write one)
    plain = write_xlsx(tmp_path / "plain.xlsx", [HEADER_JA, ["団体@C", "取組C", "大阪府大阪市", None]])
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(tmp_path / "ctl.xlsx", "w") as out:
        for name in source.namelist():
            out.writestr(name, source.read(name).replace(b"@", b"_x0001_"))
    xlsx = read(tmp_path / "ctl.xlsx")
    assert xlsx.rows[0].organization == "団体C" and "U+0001" in xlsx.problems[0].message


def test_exports_stay_well_formed_after_control_characters(tmp_path):
    import networkx as nx
    from rdflib import Graph

    from kg import Tsunagari

    path = tmp_path / "ctl.csv"
    path.write_bytes(csv_bytes([HEADER_JA, ["団体\x1b]0;x\x07A", "取組\x00\x0bA", "東京都豊島区", ""]]))
    store, report = Tsunagari.build([path], tmp_path / "store", fiscal_year=2024, programme="p", embed=False)
    for fmt, load in (("graphml", nx.read_graphml), ("gexf", nx.read_gexf)):
        out = tmp_path / f"graph.{fmt}"
        out.write_bytes(store.export(fmt))
        assert load(out).number_of_nodes() > 0
    assert len(Graph().parse(data=store.graph.serialize(format="xml"), format="xml")) == len(store.graph)
    assert [p["title"] for p in store.projects()] == ["取組A"]


def test_document_text_with_control_characters(tmp_path, document):
    lines = document.read_text(encoding="utf-8").split("\n")
    number = next(i for i, line in enumerate(lines) if line.startswith("2\t"))
    lines[number] = lines[number].replace("くるくる", "くる\x1bくる")
    path = tmp_path / "doc.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    result = read_source(path)
    assert len(result.rows) == 77 and result.rows[1].organization == "特定非営利活動法人 くるくるネット"
    assert [(e.row, e.level) for e in result.problems] == [(number + 1, "warning")]


def test_a_row_glued_to_the_next_header_is_said_not_taken_for_a_header(tmp_path, document):
    """A line break lost between a project and the next page's header: the line is an error with the project's
    cells, never a silent header (which dropped the project and could remap the columns)."""
    lines = document.read_text(encoding="utf-8").split("\n")
    number = next(i for i, line in enumerate(lines) if line.startswith("20\t"))
    header = next(line for line in lines if "団体名" in line)
    lines[number] = lines[number] + header
    path = tmp_path / "doc.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    result = read_source(path)
    assert len(result.rows) == 76 and all(r.title for r in result.rows)
    (error,) = result.problems
    assert (error.row, error.level, error.column) == (number + 1, "error", "row") and "'20 | " in error.message
    glued = tmp_path / "glued.csv"                               # the same in a CSV
    glued.write_bytes(csv_bytes([HEADER_JA, GOOD[0], GOOD[1] + HEADER_JA, ["団体C", "取組C", "大阪府", ""]]))
    table = read(glued)
    assert [r.title for r in table.rows] == ["取組A", "取組C"] and [e.row for e in table.problems] == [3]
    paged = tmp_path / "paged.csv"                              # a page number beside a header passes
    paged.write_bytes(csv_bytes([HEADER_JA, GOOD[0], HEADER_JA + ["- 2 -"], GOOD[1]]))
    assert len(read(paged).rows) == 2 and read(paged).problems == []


# 14. locations


def test_bom_then_cp932_reports_the_right_line_and_byte(tmp_path, document):
    head = "団体名,取組名,活動地域\n団体A,取組A,東京都\n".encode("utf-8")
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"\xef\xbb\xbf" + head + "団体B,取組B,東京都\n".encode("cp932"))
    with pytest.raises(SourceError, match=rf"mixed.csv:3: byte {3 + len(head)} is not UTF-8, although the file "
                                          "starts with a UTF-8 byte-order mark"):
        read(path)
    lines = document.read_bytes().split(b"\n")           # the document up to 概要, that line saved in CP932
    n = lines.index("概要".encode())
    (tmp_path / "mixed.txt").write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines[:n] + ["概要".encode("cp932")]))
    offset = 3 + sum(len(line) + 1 for line in lines[:n])
    with pytest.raises(SourceError, match=rf"mixed.txt:{n + 1}: byte {offset} is not UTF-8"):
        read_source(tmp_path / "mixed.txt")


def test_two_title_columns_warn_and_the_first_is_read(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_bytes(csv_bytes([["団体名", "取組名", "活動地域", "取組名"], ["団体A", "取組A", "東京都豊島区", "別の名前"]]))
    result = read(path)
    assert [r.title for r in result.rows] == ["取組A"]
    (warning,) = result.problems
    assert (warning.row, warning.column, warning.level) == (1, "取組名/title", "warning")
    assert "2 columns are named 取組名/title (columns 2, 4); only column 2 is read" in warning.message


def test_a_directory_is_said_to_be_a_directory(tmp_path):
    with pytest.raises(SourceError, match=r"is a directory — give the list file itself"):
        read_source(tmp_path)


def test_the_same_list_under_two_names_is_read_once_with_a_warning(tmp_path):
    """A copy under another name failed the whole build (one source, two names, in SHACL)."""
    import shutil

    from kg import Tsunagari

    first = Path(__file__).parent / "data" / "small.csv"
    copy = shutil.copy(first, tmp_path / "copy.csv")
    kg, report = Tsunagari.build([first, copy], tmp_path / "store", embed=False, fiscal_year=2024, programme="p")
    alone, _ = Tsunagari.build([first], tmp_path / "alone", embed=False, fiscal_year=2024, programme="p")
    assert [p["id"] for p in kg.projects()] == [p["id"] for p in alone.projects()]
    assert [(w.file, w.level) for w in report.warnings] == [("copy.csv", "warning")]
    assert "the same content as small.csv" in report.warnings[0].message and not report.skipped
