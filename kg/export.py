"""Exports of a store: RDF serialisations, GraphML/GEXF of the NetworkX view, a flat CSV of projects."""
from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from kg.errors import KgError

if TYPE_CHECKING:
    from kg.shapes import OpenStore

RDF_FORMATS = {"turtle": "turtle", "jsonld": "json-ld", "nt": "nt"}


def export(kg: "OpenStore", fmt: str) -> bytes:
    """Serialise the store in one format; see kg.api.EXPORT_FORMATS."""
    if fmt == "nt":
        return kg.generation.graph_file(verify=True).read_bytes()
    if fmt in RDF_FORMATS:
        return kg.graph.serialize(format=RDF_FORMATS[fmt], encoding="utf-8")
    if fmt in ("graphml", "gexf"):
        import networkx as nx

        out = io.BytesIO()
        writer = nx.write_graphml if fmt == "graphml" else nx.write_gexf
        writer(kg.network, out)
        return out.getvalue()
    if fmt == "csv":
        return projects_csv(kg.projects()).encode("utf-8")
    raise KgError(f"unknown export format {fmt!r} — use one of turtle, jsonld, nt, graphml, gexf, csv")


# Cells a spreadsheet would read as a formula (OWASP "CSV Injection"), with the full-width forms a Japanese
# spreadsheet may convert; and the apostrophe itself, so that the rule can be undone exactly.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠", "'")


def spreadsheet_cell(value: object) -> object:
    r"""A text cell that a spreadsheet would run as a formula, made inert with a leading apostrophe.

    OWASP's advice for CSV injection: a cell that begins with ``=``, ``+``, ``-``, ``@``, tab or carriage
    return gets a ``'`` in front (so does one that begins with ``'``, so the rule can be undone). To get
    the raw value back, remove the first character of every cell that begins with ``'``. Numbers are kept.

    >>> spreadsheet_cell('=HYPERLINK("http://x","y")'), spreadsheet_cell("居場所"), spreadsheet_cell(-1)
    ('\'=HYPERLINK("http://x","y")', '居場所', -1)
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def raw_cell(cell: str) -> str:
    """Undo spreadsheet_cell on a cell read back from the CSV: ``raw_cell("'=1+1") == "=1+1"``."""
    return cell.removeprefix("'")


COLUMNS = ("id", "fiscal_year", "number", "title", "organization", "legal_form", "region_text",
           "region_codes", "prefectures", "target_groups", "themes", "prior_adoption")


def projects_csv(projects: Iterable[Mapping[str, Any]]) -> str:
    """One row per project; lists joined with ';' so the file opens in a spreadsheet.

    Text cells are quoted (a line break or carriage return in one stays inside it) and those that a
    spreadsheet would run as a formula get a leading ``'`` (see spreadsheet_cell); numbers are bare.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(COLUMNS)
    for p in projects:
        writer.writerow([spreadsheet_cell(cell) for cell in (
            p["id"], p["fiscal_year"], p["number"], p["title"], p["organization"]["written"],
            p["organization"]["legal_form"] or "", p["region_text"],
            ";".join(r["code"] or r["key"] for r in p["regions"]),
            ";".join(dict.fromkeys(r["prefecture"] for r in p["regions"] if r["prefecture"])),
            ";".join(t["id"] for t in p["target_groups"]), ";".join(t["id"] for t in p["themes"]),
            "yes" if p["prior_adoption"] else "no",
        )])
    return out.getvalue()
