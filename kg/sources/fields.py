"""Column names and cell values shared by every reader: one place to teach a new header."""
from __future__ import annotations

import re
from dataclasses import dataclass

from kg.errors import RowError, quoted
from kg.normalize.text import match_key

# field -> accepted header spellings (compared after match_key(): NFKC, lower case, no spaces).
HEADERS: dict[str, tuple[str, ...]] = {
    "number": ("no", "no.", "番号", "#", "number", "通し番号"),
    "organization": ("団体名", "organization", "organisation", "org", "法人名", "実施団体"),
    "title": ("取組名", "title", "事業名", "project", "projecttitle", "取組"),
    "region": ("活動地域", "region", "area", "地域", "activityregion"),
    "prior_adoption": ("r5採択", "prioradoption", "prior_adoption", "前年度採択", "priorfyadoption",
                       "adoptedpreviousyear", "前年採択"),
    "description": ("概要", "description", "取組概要", "summary"),
    "category": ("区分", "category", "分類"),
    "fiscal_year": ("年度", "fiscalyear", "fiscal_year", "fy"),
    "programme": ("programme", "program", "事業区分", "プログラム"),
}
REQUIRED = ("organization", "title", "region")
_LOOKUP = {match_key(alias): name for name, aliases in HEADERS.items() for alias in aliases}
# "R6採択" style headers: adoption in an earlier year, whatever the year.
_PRIOR = re.compile(r"^(r|令和|h|平成)\d+(年度)?採択$")

# C0 controls other than tab, LF and CR, DEL, C1 controls and the two non-characters XML 1.0 forbids.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def control_names(text: str) -> str:
    """The control characters in a text, as 'U+0000, U+001B' (for messages)."""
    return ", ".join(sorted({f"U+{ord(c):04X}" for c in CONTROL.findall(text)}))


TRUE = {"○", "◯", "〇", "●", "◎", "yes", "y", "true", "1", "有", "あり", "済", "x"}
FALSE = {"", "-", "－", "―", "×", "no", "n", "false", "0", "無", "なし"}


def field_of(cell: str) -> str | None:
    """The field a header cell names ('団体名' -> 'organization'), or None."""
    key = match_key(cell)
    return _LOOKUP.get(key) or ("prior_adoption" if _PRIOR.match(key) else None)


def map_header(cells: list[str]) -> dict[str, int]:
    """Map a header row to {field: column index}; unknown columns are ignored."""
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = field_of(cell)
        if name and name not in found:
            found[name] = index
    # Numbered tables often leave the number column's header empty (the bundled document does).
    if "number" not in found and cells and not cells[0].strip():
        found["number"] = 0
    return found


def duplicate_columns(cells: list[str]) -> dict[str, list[int]]:
    """Fields named by more than one column of a header row: {field: [column indexes]}."""
    seen: dict[str, list[int]] = {}
    for index, cell in enumerate(cells):
        name = field_of(cell)
        if name:
            seen.setdefault(name, []).append(index)
    return {name: indexes for name, indexes in seen.items() if len(indexes) > 1}


def is_header(cells: list[str]) -> bool:
    """True when a row names the required columns (used to skip headers repeated on each page)."""
    return set(REQUIRED) <= set(map_header(cells))


def header_with_data(cells: list[str], file: str, line: int, page: int | None = None) -> RowError | None:
    """The error for a repeated header that also holds a project (two or more cells that name no column:
    a line break lost between a row and the next page's header), else None. Such a line is skipped, and
    said, instead of being taken for a header; a page number beside a header is one cell and passes."""
    other = [cell for cell in cells if cell.strip() and not field_of(cell)]
    if len(other) < 2:
        return None
    return RowError(file, line, "row", f"this line holds the column names and other text ({quoted(' | '.join(other))}); "
                    "it was skipped", "put the header and each project on lines of their own", page=page)


def parse_flag(value: str) -> bool | None:
    """R5採択 style mark to bool; None when the value means neither."""
    key = match_key(value)
    if key in TRUE:
        return True
    if key in FALSE:
        return False
    return None


_ERAS = {"令和": 2018, "r": 2018, "平成": 1988, "h": 1988}
_YEAR = re.compile(r"^(?:fy)?(?P<year>(19|20)\d\d)(年度)?$")
_ERA_YEAR = re.compile(r"^(?P<era>令和|平成|r|h)(?P<n>\d{1,2}|元)(年度)?$")


def parse_fiscal_year(value: str | int) -> int | None:
    """'令和6年度', 'R6', 'FY2024', '2024' -> 2024; None when not a year."""
    key = match_key(str(value))
    match = _YEAR.match(key)
    if match:
        return int(match.group("year"))
    match = _ERA_YEAR.match(key)
    if match:
        n = 1 if match.group("n") == "元" else int(match.group("n"))
        return _ERAS[match.group("era")] + n
    return None


@dataclass(frozen=True)
class SourceRow:
    """One project as a source states it, before normalisation."""

    file: str
    line: int
    fiscal_year: int
    programme: str
    number: int | None
    organization: str
    title: str
    region: str
    prior_adoption: bool
    description: str | None = None
    category: str | None = None
    alt_titles: tuple[str, ...] = ()
    alt_organizations: tuple[str, ...] = ()
    page: int | None = None          # PDF sources: the page, and ``line`` is the row of the table on it
