"""SPARQL over the graph, with results as plain rows and the formats the CLI prints."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.plugins.sparql import prepareQuery

from kg.errors import KgError
from kg.vocab import PREFIXES


class QueryError(KgError):
    """A SPARQL query that does not parse or cannot run."""


@dataclass(frozen=True)
class SparqlResult:
    """Columns and rows of a SELECT (or one boolean for ASK, or a graph for CONSTRUCT/DESCRIBE)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    boolean: bool | None = None
    graph: Graph | None = None

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, (_plain(v) for v in row))) for row in self.rows]

    def to_dataframe(self):
        """The rows as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.records(), columns=list(self.columns))

    def format(self, fmt: str = "table") -> str:
        if self.graph is not None:
            return self.graph.serialize(format="turtle")
        if self.boolean is not None:
            return json.dumps({"boolean": self.boolean}) if fmt == "json" else str(self.boolean).lower()
        if fmt == "json":
            return json.dumps(self.records(), ensure_ascii=False, indent=1)
        if fmt == "csv":
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(self.columns)
            writer.writerows([["" if v is None else _plain(v) for v in row] for row in self.rows])
            return out.getvalue()
        return _table(self.columns, [["" if v is None else str(_plain(v)) for v in row] for row in self.rows])


def read_query(text_or_file: str) -> str:
    """A query given inline, as a file path, or as the name of a file in queries/ ('projects_per_prefecture')."""
    path = Path(text_or_file)
    if text_or_file.endswith(".rq") or (len(text_or_file) < 200 and path.is_file()):
        if not path.is_file():
            raise QueryError(f"{text_or_file}: no such query file")
        return path.read_text(encoding="utf-8")
    return text_or_file


def run_query(graph: Graph, query: str, bindings: dict[str, Any] | None = None) -> SparqlResult:
    """Parse and run a SPARQL 1.1 query; the project prefixes (schema:, tg:, skos:, …) are predeclared."""
    try:
        prepared = prepareQuery(query, initNs=PREFIXES)
    except Exception as error:  # pyparsing raises its own types
        raise QueryError(f"SPARQL syntax error: {error}") from None
    init = {k: (v if isinstance(v, (URIRef, Literal)) else Literal(v)) for k, v in (bindings or {}).items()}
    try:
        result = graph.query(prepared, initBindings=init)
    except Exception as error:
        raise QueryError(f"SPARQL query failed: {error}") from None
    if result.type == "ASK":
        return SparqlResult((), (), boolean=bool(result.askAnswer))
    if result.type in ("CONSTRUCT", "DESCRIBE"):
        return SparqlResult((), (), graph=result.graph)
    columns = tuple(str(v) for v in result.vars)
    return SparqlResult(columns, tuple(tuple(row) for row in result))


def _plain(value: Any) -> Any:
    if isinstance(value, Literal):
        python = value.toPython()
        return python if isinstance(python, (int, float, bool)) else str(value)
    return None if value is None else str(value)


def _table(columns: tuple[str, ...], rows: list[list[str]]) -> str:
    from unicodedata import east_asian_width

    def width(text: str) -> int:
        return sum(2 if east_asian_width(c) in "WF" else 1 for c in text)

    widths = [max([width(c)] + [width(r[i]) for r in rows]) for i, c in enumerate(columns)]
    pad = lambda text, w: text + " " * (w - width(text))
    lines = [" | ".join(pad(c, w) for c, w in zip(columns, widths)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(pad(v, w) for v, w in zip(row, widths)) for row in rows]
    return "\n".join(lines) + f"\n({len(rows)} rows)"
