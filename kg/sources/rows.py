"""Cells of one row -> a SourceRow, or located errors. Shared by the document and table readers."""
from __future__ import annotations

from kg.errors import RowError, SourceError, quoted
from kg.normalize.text import clean
from kg.sources.fields import CONTROL, SourceRow, control_names, duplicate_columns, parse_fiscal_year, parse_flag
from kg.sources.programmes import programme_by_id

_LABELS = {"organization": "団体名/organization", "title": "取組名/title", "region": "活動地域/region",
           "prior_adoption": "R5採択/prior adoption", "number": "No./number", "fiscal_year": "年度/fiscal year",
           "description": "概要/description", "category": "区分/category", "programme": "programme"}


def header_problems(cells: list[str], *, file: str, line: int, page: int | None = None) -> list[RowError]:
    """Warnings about a header row: a field named by two columns (the first one is read)."""
    return [RowError(file, line, _LABELS.get(name, name),
                     f"{len(indexes)} columns are named {_LABELS.get(name, name)} (columns "
                     f"{', '.join(str(i + 1) for i in indexes)}); only column {indexes[0] + 1} is read",
                     "rename or delete the other columns", "warning", page)
            for name, indexes in duplicate_columns(cells).items()]


def row_from_cells(
    cells: list[str], header: dict[str, int], *, file: str, line: int,
    fiscal_year: int | None, programme: str | None, page: int | None = None,
    noted: set[tuple[str, str]] | None = None,
) -> tuple[SourceRow | None, list[RowError]]:
    """Build a SourceRow from cells; a row missing its organisation or title is skipped with an error.

    ``fiscal_year`` and ``programme`` (the build's options) override what a row states; where they differ,
    the row gets a warning, once per stated value and column when ``noted`` (a set kept per source) is
    given. ``page`` is given for PDF rows: ``line`` is then the row of the table on that page.
    """
    problems: list[RowError] = []

    def problem(column: str, message: str, hint: str, level: str = "error") -> None:
        problems.append(RowError(file, line, _LABELS.get(column, column), message, hint, level, page))

    values: dict[str, str] = {}
    for name, index in header.items():
        raw = cells[index] if index < len(cells) else ""
        if CONTROL.search(raw):
            # Control characters break XML exports and terminals: removed here, once, with a warning.
            problem(name, f"control characters ({control_names(raw)}) removed",
                    "check the cell in the source file", "warning")
            raw = CONTROL.sub("", raw)
        values[name] = clean(raw)

    def cell(name: str) -> str:
        return values.get(name, "")

    needed = max(header[name] for name in ("organization", "title", "region")) + 1
    if len(cells) < needed:
        problem("title", f"row has {len(cells)} columns, the header has at least {needed}",
                "check for a missing separator or a line break inside a cell")
        return None, problems
    for name, what in (("organization", "organisation"), ("title", "title")):
        if not cell(name):
            problem(name, f"empty {what}", f"fill in the {what} or delete the row")
    if any(p.level == "error" for p in problems):
        return None, problems

    def overridden(column: str, stated: str, option: str) -> None:
        if noted is None or (column, stated) not in noted:
            problem(column, f"the row states {quoted(stated)}; {option} overrides it",
                    f"drop {option.split()[0]} to keep what the source states"
                    + ("; rows stating the same are not listed" if noted is not None else ""), "warning")
        if noted is not None:
            noted.add((column, stated))

    year = fiscal_year
    stated_year = parse_fiscal_year(cell("fiscal_year")) if cell("fiscal_year") else None
    if fiscal_year is None and cell("fiscal_year"):
        year = stated_year
        if year is None:
            problem("fiscal_year", f"cannot read fiscal year {quoted(cell('fiscal_year'))}",
                    "write it as 2024, FY2024, R6 or 令和6年度")
            return None, problems
    elif cell("fiscal_year") and stated_year != fiscal_year:
        overridden("fiscal_year", cell("fiscal_year"), f"--fiscal-year {fiscal_year}")
    if year is None:
        problem("fiscal_year", "no fiscal year for this row",
                "add a 年度/fiscal_year column or pass --fiscal-year")
        return None, problems
    prog = programme or cell("programme")
    if not prog:
        problem("programme", "no programme for this row", "add a programme column or pass --programme")
        return None, problems
    try:
        prog = programme_by_id(prog).id
    except SourceError as error:
        problem("programme", str(error), "fix the programme cell")
        return None, problems
    if programme and cell("programme") and cell("programme") not in (programme, prog):
        overridden("programme", cell("programme"), f"--programme {prog}")

    prior = parse_flag(cell("prior_adoption"))
    if prior is None:
        problem("prior_adoption", f"cannot read prior adoption mark {quoted(cell('prior_adoption'))}; taken as no",
                "use ○ for yes and leave empty for no", "warning")
        prior = False
    number = None
    if cell("number"):
        try:
            number = int(cell("number"))
        except ValueError:
            problem("number", f"number {quoted(cell('number'))} is not an integer; the row position is used",
                    "write a plain integer", "warning")
    if not cell("region"):
        problem("region", "empty activity region; the project has no place",
                "fill in 活動地域 (e.g. 東京都豊島区)", "warning")
    return SourceRow(
        file=file, line=line, fiscal_year=year, programme=prog, number=number,
        organization=cell("organization"), title=cell("title"), region=cell("region"),
        prior_adoption=prior, description=cell("description") or None, category=cell("category") or None,
        page=page,
    ), problems
