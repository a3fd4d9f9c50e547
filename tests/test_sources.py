"""Readers: the bundled document and tabular lists in their encodings and header languages."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import HEADER_JA, write_csv
from kg.errors import SourceError
from kg.sources import read_document, read_source, read_table
from kg.sources.fields import parse_fiscal_year, parse_flag


def test_document_has_77_rows_and_19_prior_adoptions(document):
    read = read_document(document)
    assert len(read.rows) == 77
    assert [r.number for r in read.rows] == list(range(1, 78))
    assert sum(r.prior_adoption for r in read.rows) == 19
    assert {r.fiscal_year for r in read.rows} == {2024}
    assert {r.programme for r in read.rows} == {"cao-kodoku-npo-model"}
    assert read.skipped == []


def test_rows_across_page_breaks_keep_their_lines(document):
    rows = {r.number: r for r in read_document(document).rows}
    lines = document.read_text(encoding="utf-8").splitlines()
    for number in (16, 17, 32, 33, 64, 65, 77):   # either side of each repeated header
        assert lines[rows[number].line - 1].startswith(f"{number}\t")
    assert rows[17].region.startswith("東京都新宿区")


def test_six_highlights_are_linked_with_variants(document):
    rows = {r.number: r for r in read_document(document).rows}
    linked = {n: r for n, r in rows.items() if r.description}
    assert sorted(linked) == [1, 12, 22, 29, 39, 45]
    assert rows[1].alt_organizations == ("札幌メンズ・シェッド ポックコタン",)   # summary spells ポック, table ポツケ
    assert rows[1].category == "中高年の居場所づくり"
    assert rows[12].alt_titles == ("見守り・居場所等孤独孤立防止の活動における情報発信",)
    assert rows[45].alt_titles == ("休職者・離職者のための居場所運営と、つながりをつくる支援人材育成",)
    assert rows[22].description.endswith("学生支援等。")   # the page number "1" glued to it is gone
    assert rows[29].category == "被災地の孤独・孤立対策"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932", "shift_jis"])
def test_csv_in_each_encoding(tmp_path, encoding):
    path = write_csv(tmp_path / "list.csv", [HEADER_JA, ["NPO法人 テスト", "居場所づくり", "東京都豊島区", "○"]], encoding)
    read = read_table(path, fiscal_year=2025, programme="test-programme")
    assert [(r.organization, r.title, r.region, r.prior_adoption) for r in read.rows] == [
        ("NPO法人 テスト", "居場所づくり", "東京都豊島区", True)]


def test_english_headers_tsv_with_year_and_programme_columns(tmp_path):
    rows = [["No.", "Organization", "Title", "Region", "Prior adoption", "Description", "Category", "Fiscal year",
             "Programme"],
            ["7", "Example Group", "Men's shed", "静岡県浜松市", "yes", "A shed.", "中高年", "FY2025", "demo"]]
    read = read_source(write_csv(tmp_path / "list.tsv", rows, delimiter="\t"))
    (row,) = read.rows
    assert (row.number, row.fiscal_year, row.programme, row.description, row.category, row.prior_adoption) == (
        7, 2025, "demo", "A shed.", "中高年", True)


def test_xlsx(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["令和7年度 採択一覧"])      # a title row above the header
    sheet.append(HEADER_JA + ["概要"])
    sheet.append(["一般社団法人 例", "多世代交流", "鳥取県鳥取市", None, "説明"])
    book.save(tmp_path / "list.xlsx")
    (row,) = read_table(tmp_path / "list.xlsx", fiscal_year=2025, programme="x").rows
    assert (row.title, row.region, row.prior_adoption, row.description, row.line) == (
        "多世代交流", "鳥取県鳥取市", False, "説明", 3)


def test_bad_rows_are_located_and_good_rows_still_load(tmp_path):
    rows = [HEADER_JA,
            ["団体A", "取組A", "東京都豊島区", ""],
            ["団体B", "", "東京都北区", ""],          # empty title -> skipped
            ["団体C"],                                 # malformed -> skipped
            ["団体D", "取組D", "大阪府大阪市", "maybe"],  # unreadable mark -> warning, loads
            HEADER_JA,                                 # repeated header -> ignored
            ["団体E", "取組E", "", ""]]                # empty region -> warning, loads
    read = read_table(write_csv(tmp_path / "bad.csv", rows), fiscal_year=2024, programme="p")
    assert [r.organization for r in read.rows] == ["団体A", "団体D", "団体E"]
    located = {(e.row, e.column, e.level) for e in read.problems}
    assert located == {(3, "取組名/title", "error"), (4, "取組名/title", "error"),
                       (5, "R5採択/prior adoption", "warning"), (7, "活動地域/region", "warning")}
    assert all(str(tmp_path / "bad.csv") in str(e) for e in read.problems)
    assert "empty title" in str(read.skipped[0]) and "fill in" in str(read.skipped[0])


def test_wrong_encoding_is_a_located_source_error(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("団体名,取組名,活動地域\n".encode("utf-8") + b"\x80\xff\xfe abc,\x81\n")
    with pytest.raises(SourceError, match=r"latin.csv:2: cannot decode .* UTF-8"):
        read_table(path, fiscal_year=2024, programme="p")


def test_missing_header_and_missing_year_are_explained(tmp_path):
    with pytest.raises(SourceError, match="no header row"):
        read_table(write_csv(tmp_path / "a.csv", [["x", "y"], ["1", "2"]]), fiscal_year=2024, programme="p")
    with pytest.raises(SourceError, match="--fiscal-year"):
        read_table(write_csv(tmp_path / "b.csv", [HEADER_JA]), programme="p")
    with pytest.raises(SourceError, match="--programme"):
        read_table(write_csv(tmp_path / "c.csv", [HEADER_JA]), fiscal_year=2024)
    with pytest.raises(SourceError, match="lower-case ASCII"):
        read_table(write_csv(tmp_path / "d.csv", [HEADER_JA, ["a", "b", "c", ""]]), fiscal_year=2024,
                   programme="内閣府")


@pytest.mark.parametrize("text, year", [("令和6年度", 2024), ("R6", 2024), ("FY2024", 2024), ("2024", 2024),
                                        ("平成30年度", 2018), ("令和元年度", 2019), ("２０２５", 2025), ("soon", None)])
def test_fiscal_year_forms(text, year):
    assert parse_fiscal_year(text) == year


@pytest.mark.parametrize("text, flag", [("○", True), ("◯", True), ("yes", True), ("", False), ("×", False),
                                        ("no", False), ("?", None)])
def test_prior_adoption_marks(text, flag):
    assert parse_flag(text) == flag


# -- featured projects linked to rows ---------------------------------------------------------------

WORDS = ["特定非営利活動法人 ", "NPO法人", "居場所", "子ども", "つながり", "食堂", "まち", "の", "A", "B", "（）"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.lists(st.sampled_from(WORDS), max_size=4), st.lists(st.sampled_from(WORDS), max_size=5)),
                min_size=1, max_size=12),
       st.tuples(st.lists(st.sampled_from(WORDS), max_size=4), st.lists(st.sampled_from(WORDS), max_size=5)),
       st.sets(st.integers(0, 11)))
def test_the_linked_row_is_the_best_by_difflib_as_before(rows, featured, taken):
    """The bound only skips rows that cannot win: the row chosen is the one difflib scores best (the last of
    equals), and none under MIN_LINK_SCORE."""
    import difflib

    from kg.normalize.organizations import parse_organization
    from kg.normalize.text import match_key
    from kg.records import Highlight
    from kg.sources import highlights

    def key(org: str, title: str) -> tuple[str, str]:
        return parse_organization(org).key, match_key(title)

    def ratio(a: str, b: str) -> float:
        return difflib.SequenceMatcher(None, a, b).ratio()

    texts = [("".join(org), "".join(title)) for org, title in rows]
    highlight = Highlight("c", "".join(featured[1]), "".join(featured[0]), "", "", False, 1)
    h_org, h_title = key(highlight.organization, highlight.title)
    scored = sorted(((0.5 * ratio(h_org, org) + 0.5 * ratio(h_title, title), index)
                     for index, (org, title) in enumerate(key(*t) for t in texts) if index not in taken), reverse=True)
    expected = scored[0][1] if scored and scored[0][0] >= highlights.MIN_LINK_SCORE else None
    keys = [(highlights._Key(org), highlights._Key(title)) for org, title in (key(*t) for t in texts)]
    assert highlights._best_row(highlight, keys, set(taken)) == expected
