"""The gazetteer and the 活動地域 parser."""
from __future__ import annotations

import re
import unicodedata
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kg.errors import NotFound
from kg.normalize.gazetteer import BLOCK_LABELS, fold
from kg.normalize.regions import (
    BRACKETS, CONNECTIVES, LINK, SEPARATORS, Gazetteer, _parse, parse_regions,
)

DOCUMENT = "data/r6_kodoku_koritsu_npo_model_projects.txt"


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.load()


def activity_regions() -> list[tuple[int, str]]:
    """(number, 活動地域) of every table row: lines "<number>\\t団体名\\t取組名\\t活動地域\\t...". """
    text = resources.files("kg").joinpath(DOCUMENT).read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if re.match(r"\d+\t", line)]
    return [(int(row[0]), row[3]) for row in rows]


REGIONS = activity_regions()


def places(result) -> list[tuple[str, str, str | None]]:
    return [(p.key, p.kind, p.qualifier) for p in result.places]


# --- the gazetteer ---------------------------------------------------------------------

def test_counts(gaz):
    levels = [r.level for r in gaz]
    assert levels.count("prefecture") == 47
    assert levels.count("municipality") >= 1741
    assert levels.count("ward") == 175
    assert len(gaz.blocks()) == 8
    assert [b.id for b in gaz.blocks()] == [b for b, _, _ in BLOCK_LABELS]


def test_every_prefecture_in_exactly_one_block(gaz):
    members = [code for block in gaz.blocks() for code in block.prefecture_codes]
    assert sorted(members) == sorted(p.code for p in gaz.prefectures())
    assert all(block.prefecture_codes for block in gaz.blocks())
    assert gaz.block_of("270008").id == "kinki"     # 大阪府
    assert gaz.block_of("240001").id == "kinki"     # 三重県
    assert gaz.block_of("470007").id == "kyushu"    # 沖縄県
    assert gaz.block("block:kyushu").name == "九州・沖縄"
    assert gaz.block("kyushu").name_en == "Kyushu-Okinawa"


def test_check_digits(gaz):
    for region in gaz:
        d = [int(c) for c in region.code[:5]]
        r = (6 * d[0] + 5 * d[1] + 4 * d[2] + 3 * d[3] + 2 * d[4]) % 11
        assert int(region.code[5]) == (11 - r) % 10, region


def test_hierarchy_is_consistent(gaz):
    for region in gaz:
        if region.level == "prefecture":
            assert region.parent_code is None and region.prefecture_code == region.code
        elif region.level == "municipality":
            assert region.parent_code == region.prefecture_code
        else:
            city = gaz.get(region.parent_code)
            assert city.level == "municipality" and city.prefecture_code == region.prefecture_code
        assert region.block == gaz.get(region.prefecture_code).block


def test_folding_adds_no_collision_among_siblings(gaz):
    """Variant folding must not merge two different places under one parent."""
    by_parent: dict[str | None, list[str]] = {}
    for region in gaz:
        by_parent.setdefault(region.parent_code, []).append(region.name)
    for names in by_parent.values():
        assert len({fold(n) for n in names}) == len(set(names))


@pytest.mark.parametrize("code, name, romaji, name_en", [
    ("130001", "東京都", "Tokyo-to", "Tokyo"),
    ("010006", "北海道", "Hokkaido", "Hokkaido"),
    ("270008", "大阪府", "Osaka-fu", "Osaka Prefecture"),
    ("230006", "愛知県", "Aichi-ken", "Aichi Prefecture"),
    ("011002", "札幌市", "Sapporo-shi", "Sapporo City"),
    ("131164", "豊島区", "Toshima-ku", "Toshima City"),
    ("011029", "北区", "Kita-ku", "Kita Ward"),
    ("462179", "曽於市", "Soo-shi", "Soo City"),
    ("282090", "豊岡市", "Toyooka-shi", "Toyooka City"),
    ("442011", "大分市", "Oita-shi", "Oita City"),
    ("373249", "小豆島町", "Shodoshima-cho", "Shodoshima Town"),
    ("285862", "新温泉町", "Shin'onsen-cho", "Shin'onsen Town"),
])
def test_labels(gaz, code, name, romaji, name_en):
    region = gaz.get(code)
    assert (region.name, region.romaji, region.name_en) == (name, romaji, name_en)


def test_get_unknown_code(gaz):
    with pytest.raises(NotFound, match="999999"):
        gaz.get("999999")


@pytest.mark.parametrize("key, chain", [
    ("011029", ["011002", "010006", "block:hokkaido"]),   # 札幌市北区 -> 札幌市 -> 北海道
    ("131172", ["130001", "block:kanto"]),                # 東京都北区 (special ward)
    ("011002", ["010006", "block:hokkaido"]),
    ("130001", ["block:kanto"]),
    ("block:kanto", []),
    ("district:370002:小豆郡", ["370002", "block:shikoku"]),
])
def test_ancestors(gaz, key, chain):
    assert [a.key for a in gaz.ancestors(key)] == chain


@pytest.mark.parametrize("name, within, codes", [
    ("北区", "東京都", ["131172"]),
    ("北区", "130001", ["131172"]),
    ("北区", "大阪府", ["271276", "271462"]),
    ("北区", "大阪市", ["271276"]),
    ("曾於市", None, ["462179"]),
    ("鹿島市", None, ["412074"]),          # exact spelling wins over folding (鹿嶋市 is Ibaraki)
    ("鹿島市", "茨城県", ["082228"]),
    ("横浜市", None, ["141003"]),
    ("ほげ市", None, []),
])
def test_find(gaz, name, within, codes):
    assert [r.code for r in gaz.find(name, within)] == codes


# --- parsing -----------------------------------------------------------------------------

TRICKY = [
    ("東京都新宿区、北海道旭川市、札幌市、大阪府大阪市、福岡県", [
        ("131041", "municipality", None), ("012041", "municipality", None),
        ("011002", "municipality", None), ("271004", "municipality", None),
        ("400009", "prefecture", None)]),
    ("東京都豊島区、北区", [("131164", "municipality", None), ("131172", "municipality", None)]),
    ("静岡県浜松市、湖西市", [("221309", "municipality", None), ("222216", "municipality", None)]),
    ("愛知県新城市、静岡県浜松市、湖西市", [
        ("232211", "municipality", None), ("221309", "municipality", None),
        ("222216", "municipality", None)]),
    ("京都府京都市", [("261009", "municipality", None)]),
    ("愛知県名古屋市", [("231002", "municipality", None)]),
    ("大阪府大阪市北区、中央区", [("271276", "ward", None), ("271284", "ward", None)]),
    ("札幌市北区", [("011029", "ward", None)]),
    ("横浜市を中心とし神奈川県全域及び関東各都県", [
        ("141003", "municipality", "を中心とし"), ("140007", "prefecture", "全域"),
        ("block:kanto", "block", "各都県")]),
    ("鳥取県全市町村", [("310000", "prefecture", "全市町村")]),
    ("徳島県・高知県・愛媛県・香川県の遍路道沿いの各市区町村", [
        (code, "prefecture", "遍路道沿いの各市区町村")
        for code in ("360007", "390003", "380008", "370002")]),
    ("群馬県高崎市を中心として、前橋市など", [
        ("102024", "municipality", "を中心として"), ("102016", "municipality", "など")]),
    ("埼玉県飯能市（飯能周辺市）", [("112097", "municipality", "（飯能周辺市）")]),
    ("熊本県熊本市及びその近隣市町村", [("431001", "municipality", "及びその近隣市町村")]),
    ("香川県小豆郡", [("district:370002:小豆郡", "district", None)]),
    ("香川県小豆郡土庄町", [("373222", "municipality", None)]),
    ("鹿児島県出水市、日置市、曾於市、鹿児島市", [
        ("462080", "municipality", None), ("462161", "municipality", None),
        ("462179", "municipality", None), ("462012", "municipality", None)]),
    ("茨城県鹿島市", [("082228", "municipality", None)]),   # folded: the official is 鹿嶋市
    ("東京都　新宿区", [("131041", "municipality", None)]),
    ("九州・沖縄", [("block:kyushu", "block", None)]),
    ("奈良県大和郡山市", [("292036", "municipality", None)]),
    ("東京都豊島区、豊島区", [("131164", "municipality", None)]),
]


@pytest.mark.parametrize("text, expected", TRICKY)
def test_tricky(gaz, text, expected):
    result = gaz.parse(text)
    assert places(result) == expected
    assert result.unresolved == ()
    assert list(result.qualifiers) == list(dict.fromkeys(q for _, _, q in expected if q))


def test_surfaces_and_official_names(gaz):
    result = gaz.parse("鹿児島県出水市、日置市、曾於市")
    assert [p.surface for p in result.places] == ["鹿児島県出水市", "日置市", "曾於市"]
    assert gaz.get(result.places[2].key).name == "曽於市"
    assert gaz.parse("東京都豊島区、北区").places[1].surface == "北区"


@pytest.mark.parametrize("text, expected_places, unresolved", [
    ("北区", [], ("北区",)),                                  # many 北区, no prefecture given
    ("中央区、新宿区", [("131041", "municipality", None)], ("中央区",)),
    ("大阪府北区", [("270008", "prefecture", None)], ("北区",)),  # 大阪市北区 or 堺市北区?
    ("ほげ市", [], ("ほげ市",)),
    ("東京都新宿区、ほげ市", [("131041", "municipality", None)], ("ほげ市",)),
    ("東京都ほげ", [("130001", "prefecture", None)], ("ほげ",)),
    ("小豆郡", [], ("小豆郡",)),                              # a district needs its prefecture
    ("全国", [], ("全国",)),
    ("", [], ()),
])
def test_unresolved(gaz, text, expected_places, unresolved):
    result = gaz.parse(text)
    assert places(result) == expected_places
    assert result.unresolved == unresolved


@pytest.mark.parametrize("number, text", REGIONS)
def test_every_row_of_the_document_resolves(gaz, number, text):
    result = gaz.parse(text)
    assert result.places, (number, text)
    assert result.unresolved == (), (number, text, result.unresolved)


def test_document_has_77_rows():
    assert [n for n, _ in REGIONS] == list(range(1, 78))


# --- properties ------------------------------------------------------------------------------

_DROPPABLE = re.compile("(?:" + "|".join(map(re.escape, (*CONNECTIVES, LINK))) + ")*")


def check_accounted(gaz: Gazetteer, text: str) -> None:
    """Every character is in a place, a qualifier or unresolved, or is a separator/connective."""
    result, accounts = _parse(gaz, text)
    assert result.text == text
    keys = [p.key for p in result.places]
    assert len(keys) == len(set(keys))
    pieces = [p.surface for p in result.places] + list(result.qualifiers) + list(result.unresolved)
    assert all(piece and piece in text for piece in pieces)
    covered = [False] * len(text)
    for start, end, what in accounts:
        assert what in ("qualifier", "unresolved") or what in keys
        if what == "qualifier":
            assert text[start:end] in result.qualifiers
        if what == "unresolved":
            assert text[start:end] in result.unresolved
        covered[start:end] = [True] * (end - start)
    for run in re.finditer(r"(?:\x00)+", "".join("\x01" if c else "\x00" for c in covered)):
        rest = "".join(
            ch for ch in unicodedata.normalize("NFKC", text[run.start(): run.end()])
            if not ch.isspace() and ch not in SEPARATORS and ch not in BRACKETS
        )
        assert _DROPPABLE.fullmatch(rest), (text, rest)
    assert gaz.parse(text) == result            # deterministic


@pytest.mark.parametrize("number, text", REGIONS)
def test_document_rows_are_accounted_for(gaz, number, text):
    check_accounted(gaz, text)


_ALPHABET = st.sampled_from(sorted(set(
    "".join(t for _, t in REGIONS) + SEPARATORS + BRACKETS + "の及びと　 \n（）、，･ｶﾞ㈱曾嶋ヶ郡区市町村都府県"
)))
_FRAGMENTS = st.sampled_from([t for _, t in REGIONS] + [
    "北区", "中央区", "小豆郡", "全域", "など", "及び", "の", "・", "、", "（", "）", "関東", "九州・沖縄",
])


@st.composite
def mutated_regions(draw) -> str:
    text = draw(st.sampled_from([t for _, t in REGIONS]))
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, len(text)))
        op = draw(st.sampled_from(["delete", "insert", "fragment", "swap"]))
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + draw(st.text(_ALPHABET, max_size=4)) + text[i:]
        elif op == "fragment":
            text = text[:i] + draw(_FRAGMENTS) + text[i:]
        else:
            text = text[j:] + text[i:j] + text[:i]
    return text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40) | st.text(_ALPHABET, max_size=40) | mutated_regions())
def test_any_text_is_accounted_for(text):
    check_accounted(Gazetteer.load(), text)


def test_parse_regions_is_the_method(gaz):
    text = "東京都豊島区、北区"
    assert parse_regions(gaz, text) == gaz.parse(text)
