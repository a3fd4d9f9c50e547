"""The list as published: the PDF itself and its text in each extraction layout give the bundled projects."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from kg.errors import SourceError
from kg.sources import read_source
from kg.sources.layouts import aligned, choose, percell, tabbed
from kg.sources.pages import drop_furniture, join_wrapped, text_lines
from published import (
    FOOTER, aligned_text, bundled_data, cells_text, write_pdf, write_scan, write_text_pdf, write_unruled_pdf,
)

ROWS_PER_PAGE = 18
SUMMARY_PAGES = 2         # the fixture's summary fills two pages; the table starts on page 3


def key(row) -> tuple:
    return (row.number, row.organization, row.title, row.region, row.prior_adoption, row.description,
            row.category, row.alt_titles, row.alt_organizations, row.fiscal_year, row.programme)


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> dict[str, Path]:
    """The FY2024 list as a PDF and as text in each layout, all made from the bundled document's data."""
    folder = tmp_path_factory.mktemp("published")
    pdf = write_pdf(folder / "r6_list.pdf", rows_per_page=ROWS_PER_PAGE)
    texts = {"aligned": aligned_text(pdf), "cells": cells_text(rows_per_page=ROWS_PER_PAGE)}
    paths = {"pdf": pdf}
    for name, text in texts.items():
        paths[name] = folder / f"r6_{name}.txt"
        paths[name].write_text(text, encoding="utf-8")
    return paths


@pytest.fixture(scope="module")
def bundled_rows(document) -> dict[int, tuple]:
    return {row.number: key(row) for row in read_source(document).rows}


@pytest.mark.parametrize("name", ["pdf", "aligned", "cells"])
def test_each_layout_gives_the_bundled_projects(published, bundled_rows, name):
    read = read_source(published[name])
    assert {row.number: key(row) for row in read.rows} == bundled_rows   # highlights included
    assert read.problems == []
    assert read.title.startswith("令和6年度 地域における孤独・孤立対策")


def test_the_fixture_pdf_looks_like_the_real_thing(published):
    import pdfplumber

    with pdfplumber.open(published["pdf"]) as pdf:
        assert len(pdf.pages) == SUMMARY_PAGES + 5
        tables = [page.find_tables()[0].extract() for page in pdf.pages[SUMMARY_PAGES:]]
        text = pdf.pages[SUMMARY_PAGES].extract_text()
    assert all(table[0][4] == "R5採\n択" for table in tables)          # header repeated and wrapped
    assert sum(len(table) - 1 for table in tables) == 77
    assert any("\n" in cell for row in tables[0][1:] for cell in row[1:4])   # wrapped cells
    assert FOOTER in text and text.rstrip().endswith(str(SUMMARY_PAGES + 1))   # footer, page number


def test_layout_is_chosen_from_the_content(published, document):
    chosen = {}
    for name, path in [("tabbed", document), ("aligned", published["aligned"]), ("cells", published["cells"])]:
        lines, _ = text_lines(path.read_text(encoding="utf-8"), str(path))
        chosen[name] = choose(drop_furniture(lines), str(path))
    assert chosen == {"tabbed": tabbed, "aligned": aligned, "cells": percell}


def test_pdf_provenance_names_page_and_table_row(published):
    rows = {row.number: row for row in read_source(published["pdf"]).rows}
    for number in (1, 18, 19, 77):
        page, index = divmod(number - 1, ROWS_PER_PAGE)
        assert (rows[number].page, rows[number].line) == (SUMMARY_PAGES + 1 + page, index + 2)   # header is row 1


def test_build_of_the_pdf_and_each_layout_gives_the_same_projects(published, document, tmp_path):
    from kg import Tsunagari

    def projects(path: Path) -> list[dict]:
        store, _ = Tsunagari.build([path], tmp_path / path.name, embed=False)
        return [{k: v for k, v in p.items() if k != "provenance"} for p in store.projects()]

    expected = projects(document)
    assert len(expected) == 77
    for name in ("pdf", "aligned", "cells"):
        assert projects(published[name]) == expected, name
    pdf = Tsunagari.open(tmp_path / published["pdf"].name)
    query = Path(__file__).parents[1].joinpath("queries", "project_provenance.rq").read_text(encoding="utf-8")
    (row,) = pdf.sparql(query, {"project_id": "cao-kodoku-npo-model-fy2024-020"}).records()
    assert (row["page"], row["line"], row["file"]) == (SUMMARY_PAGES + 2, 3, "r6_list.pdf")


def test_pdf_without_summary_has_no_highlights(tmp_path):
    read = read_source(write_pdf(tmp_path / "table_only.pdf", summary=False))
    assert len(read.rows) == 77 and read.problems == []
    assert all(row.description is None for row in read.rows)
    assert {row.fiscal_year for row in read.rows} == {2024}


def test_unreadable_rows_are_skipped_and_located_others_load(tmp_path, published):
    data = bundled_data()
    data.rows[3] = data.rows[3][:2] + [""] + data.rows[3][3:]           # row 4: empty title
    read = read_source(write_pdf(tmp_path / "bad.pdf", data, summary=False))
    assert len(read.rows) == 76
    (error,) = read.skipped
    assert (error.page, error.row, error.column) == (1, 5, "取組名/title")
    assert str(error).startswith(f"{tmp_path / 'bad.pdf'}: page 1, row 5 (取組名/title): error: empty title")

    lines = published["aligned"].read_text(encoding="utf-8").split("\n")
    number = next(i for i, line in enumerate(lines) if line.lstrip().startswith("5 "))
    title = aligned.pieces(lines[number])[3][0]          # row 5: its organisation runs into its title
    lines[number] = lines[number][:title].rstrip() + lines[number][title:]
    text = tmp_path / "bad_aligned.txt"
    text.write_text("\n".join(lines), encoding="utf-8")
    read = read_source(text)
    assert len(read.rows) == 76 and 5 not in {row.number for row in read.rows}
    (error,) = read.skipped
    assert error.row == number + 1 and "runs across a column boundary" in error.message

    lines = published["cells"].read_text(encoding="utf-8").split("\n")
    number = lines.index("7")
    lines.insert(number + 2, "（続き）")                                    # row 7: one line too many
    (tmp_path / "bad_cells.txt").write_text("\n".join(lines), encoding="utf-8")
    read = read_source(tmp_path / "bad_cells.txt")
    assert len(read.rows) == 76 and [(e.row, e.level) for e in read.problems] == [(number + 1, "error")]


def test_scanned_pdf_needs_ocr(tmp_path):
    with pytest.raises(SourceError, match=r"scan.pdf: no text layer; run OCR first"):
        read_source(write_scan(tmp_path / "scan.pdf"))


def test_encrypted_pdf_is_refused_clearly(tmp_path):
    data = replace(bundled_data())
    data.rows = data.rows[:5]
    with pytest.raises(SourceError, match=r"locked.pdf: the PDF is encrypted \(password-protected\)"):
        read_source(write_pdf(tmp_path / "locked.pdf", data, summary=False, password="secret"))


def test_pdf_without_a_table_and_damaged_pdf(tmp_path):
    prose = write_text_pdf(tmp_path / "prose.pdf", ["令和7年度 お知らせ", "本年度の募集は終了しました。"])
    with pytest.raises(SourceError, match=r"prose.pdf: no recognisable table .* 団体名, 取組名, 活動地域"):
        read_source(prose)
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\n" + b"\x00garbage" * 50)
    with pytest.raises(SourceError, match=r"broken.pdf: not a readable PDF"):
        read_source(tmp_path / "broken.pdf")


def test_pdf_with_an_unruled_table_is_read_from_its_layout_text(tmp_path):
    drawn = write_unruled_pdf(tmp_path / "unruled.pdf")
    read = read_source(tmp_path / "unruled.pdf")
    assert len(drawn) >= 10
    assert [(r.number, r.organization, r.title, r.region) for r in read.rows] == [
        (int(n), org, title, region) for n, org, title, region in drawn]
    assert {r.page for r in read.rows} == {1}


def test_columns_that_cannot_be_told_apart(tmp_path):
    text = tmp_path / "merged.txt"
    text.write_text("令和6年度 孤独・孤立対策に関するNPO等の取組モデル\n団体名 取組名 活動地域\n1 団体A 取組A 東京都\n",
                    encoding="utf-8")
    with pytest.raises(SourceError, match=r"merged.txt:2: found the table header .* cannot tell its columns apart"):
        read_source(text)
    overlap = tmp_path / "overlap.txt"
    overlap.write_text("令和6年度 孤独・孤立対策に関するNPO等の取組モデル\n    団体名      取組名      活動地域\n"
                       "1   NPO法人あいうえおかきくけこさしすせそ取組のなまえ東京都豊島区\n"
                       "2   NPO法人たちつてとなにぬねのはひふへほ取組のなまえ大阪府大阪市\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"overlap.txt:2: cannot tell the columns '団体名' and '取組名' apart"):
        read_source(overlap)


@pytest.mark.parametrize("parts, joined", [
    (["特定非営利活動法人 くるくるネ", "ット"], "特定非営利活動法人 くるくるネット"),
    (["一般社団法人 Pay for", "World 屋号「えがお」"], "一般社団法人 Pay for World 屋号「えがお」"),
    (["R5採", "択"], "R5採択"),
    (["  コミュニティカフェ “よなが”", "の運営 "], "コミュニティカフェ “よなが”の運営"),
])
def test_wrapped_lines_join_without_lost_or_added_characters(parts, joined):
    assert join_wrapped(parts) == joined


def test_one_cell_per_line_needs_row_numbers(tmp_path):
    text = tmp_path / "cells.txt"
    text.write_text("令和6年度 孤独・孤立対策に関するNPO等の取組モデル\n団体名\n取組名\n活動地域\n団体A\n取組A\n東京都\n",
                    encoding="utf-8")
    with pytest.raises(SourceError, match=r"cells.txt:5: one cell per line, but the row after the header does not "
                                          r"start with its number: the rows cannot be told apart"):
        read_source(text)


def test_pdf_with_too_many_pages_is_refused(published, monkeypatch):
    from kg.sources import pdf

    monkeypatch.setattr(pdf, "MAX_PAGES", 3)
    with pytest.raises(SourceError, match=r"r6_list.pdf: refused: 7 pages, more than the 3"):
        read_source(published["pdf"])
