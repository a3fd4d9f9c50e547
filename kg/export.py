"""Exports of a store: RDF serialisations, GraphML/GEXF of the NetworkX view, a flat CSV of projects."""
from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from kg.errors import KgError

if TYPE_CHECKING:
    from kg.api import Tsunagari

RDF_FORMATS = {"turtle": "turtle", "jsonld": "json-ld", "nt": "nt"}


def export(kg: "Tsunagari", fmt: str) -> bytes:
    """Serialise the store in one format; see kg.api.EXPORT_FORMATS."""
    if fmt == "nt":
        return kg.store.path("graph.nt").read_bytes()
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


COLUMNS = ("id", "fiscal_year", "number", "title", "organization", "legal_form", "region_text",
           "region_codes", "prefectures", "target_groups", "themes", "prior_adoption")


def projects_csv(projects: list[dict]) -> str:
    """One row per project; lists joined with ';' so the file opens in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for p in projects:
        writer.writerow([
            p["id"], p["fiscal_year"], p["number"], p["title"], p["organization"]["written"],
            p["organization"]["legal_form"] or "", p["region_text"],
            ";".join(r["code"] or r["key"] for r in p["regions"]),
            ";".join(dict.fromkeys(r["prefecture"] for r in p["regions"] if r["prefecture"])),
            ";".join(t["id"] for t in p["target_groups"]), ";".join(t["id"] for t in p["themes"]),
            "yes" if p["prior_adoption"] else "no",
        ])
    return out.getvalue()
