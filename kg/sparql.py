"""SPARQL over the graph: results as rows, read when asked, and the formats the CLI prints, written as a stream.

    >>> result = run_query(graph, "SELECT ?id WHERE { ?p schema:identifier ?id }")    # doctest: +SKIP
    >>> result.records()[:1]                                                           # doctest: +SKIP
    [{'id': 'cao-kodoku-npo-model-fy2024-001'}]
    >>> result.write(sys.stdout, "tsv")                                                # doctest: +SKIP

Formats: "table", "csv" and "json" are ours (plain values: a number stays a number, a string or IRI is
its text; "json" is a list of records); "tsv", "srj" and "srx" are SPARQL's standard results formats
(SPARQL 1.1 TSV, application/sparql-results+json and +xml: every term with its kind, language and
datatype), written by pyoxigraph's serializers.
"""
from __future__ import annotations

import codecs
import csv
import gc
import io
import json
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Callable, Generator, Iterable, Iterator, Protocol, TextIO, cast

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.plugins.sparql import prepareQuery
from rdflib.query import ResultRow

from kg.errors import KgError, counted
from kg.vocab import PREFIXES

FORMATS = ("table", "csv", "json", "tsv", "srj", "srx")
# our name -> pyoxigraph.QueryResultsFormat member
STANDARD_FORMATS = {"tsv": "TSV", "srj": "JSON", "srx": "XML"}
_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


class QueryError(KgError):
    """A SPARQL query that does not parse or cannot run."""


class QuerySyntaxError(QueryError):
    """A SPARQL query that does not parse; ``detail`` is the parser's own message."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"SPARQL syntax error: {detail}")
        self.detail = detail


class Solutions(Protocol):
    """The rows of an answer that an engine has not read yet (see kg.engines.OxigraphEngine).

    Each method reads the answer once more from the start (running the query again if it was read before)."""

    def terms(self) -> Iterator[tuple[Any, ...]]:
        """Rows of rdflib terms (None where a variable is unbound)."""
        ...

    def plain(self) -> Iterator[tuple[Any, ...]]:
        """Rows of plain values, as ``plain_value`` makes them from the terms."""
        ...

    def serialize(self, output: BinaryIO, fmt: str) -> None:
        """The answer in one of STANDARD_FORMATS, written as UTF-8 bytes to ``output``."""
        ...


class SparqlResult:
    """Columns and rows of a SELECT (or one boolean for ASK, or a graph for CONSTRUCT/DESCRIBE).

    An engine may hand over its answer unread (``solutions``): nothing is converted to Python until it is
    asked for. ``rows`` (rdflib terms) and ``records()`` (plain values) read it all once and keep it;
    ``write`` streams it to a file without keeping it (reading it again afterwards runs the query again).

    >>> result = SparqlResult(("n",), ((Literal(77),),))
    >>> result.records(), result.format("csv")
    ([{'n': 77}], 'n\\n77\\n')
    """

    def __init__(self, columns: Iterable[str], rows: Iterable[tuple[Any, ...]] = (), boolean: bool | None = None,
                 graph: Graph | None = None, *, solutions: Solutions | None = None) -> None:
        self.columns: tuple[str, ...] = tuple(columns)
        self.boolean = boolean
        self.graph = graph
        self._solutions = solutions
        self._rows: tuple[tuple[Any, ...], ...] | None = None if solutions is not None else tuple(rows)
        self._plain: tuple[tuple[Any, ...], ...] | None = None

    @property
    def rows(self) -> tuple[tuple[Any, ...], ...]:
        """Every row as a tuple of rdflib terms (None where unbound), read on first use."""
        if self._rows is None:
            assert self._solutions is not None      # a result holds rows or solutions to read them from
            with cycle_collector_paused():
                self._rows = tuple(self._solutions.terms())
        return self._rows

    def records(self) -> list[dict[str, Any]]:
        """Every row as a dict of plain values: int, float, bool, or the text of a string, date or IRI."""
        return [dict(zip(self.columns, row)) for row in self._plain_rows(keep=True)]

    def to_dataframe(self):
        """The rows as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.records(), columns=list(self.columns))

    def format(self, fmt: str = "table", *, cell: Callable[[Any], Any] | None = None) -> str:
        """The answer as text in one of FORMATS (a graph as Turtle); see ``write``."""
        out = io.StringIO()
        self.write(out, fmt, cell=cell)
        return out.getvalue()

    def write(self, out: TextIO, fmt: str = "table", *, cell: Callable[[Any], Any] | None = None) -> int | None:
        """Write the answer to a text stream in one of FORMATS, row by row (a graph as Turtle).

        "csv" and "json" are written from plain values without keeping them; "tsv", "srj" and "srx" by
        pyoxigraph (on Oxigraph, straight from the engine's answer). ``cell``, for "csv", rewrites each
        non-empty value first (the CLI passes ``kg.export.spreadsheet_cell``). Returns the number of rows
        written in "table", "csv" and "json" (None for the others, for ASK and for a graph).
        """
        if fmt not in FORMATS:
            raise QueryError(f"unknown result format {fmt!r} — use one of: {', '.join(FORMATS)}")
        if self.graph is not None:
            out.write(self.graph.serialize(format="turtle"))
        elif fmt in STANDARD_FORMATS:
            self._write_standard(out, fmt)
        elif self.boolean is not None:
            out.write(json.dumps({"boolean": self.boolean}) if fmt == "json" else str(self.boolean).lower())
        elif fmt in ("json", "csv"):
            counter = _Counted(self._plain_rows(keep=False))
            if fmt == "json":
                write_json(out, self.columns, counter)
            else:
                write_csv(out, self.columns, counter, cell)
            return counter.count
        else:
            rows = [["" if v is None else str(v) for v in row] for row in self._plain_rows(keep=False)]
            out.write(_table(self.columns, rows))
            return len(rows)
        return None

    def _plain_rows(self, keep: bool) -> Iterable[tuple[Any, ...]]:
        if self._plain is not None:
            return self._plain
        if self._rows is not None:
            return (tuple(plain_value(v) for v in row) for row in self._rows)
        assert self._solutions is not None
        if not keep:
            return self._solutions.plain()
        with cycle_collector_paused():
            self._plain = tuple(self._solutions.plain())
        return self._plain

    def _write_standard(self, out: TextIO, fmt: str) -> None:
        text = TextOutput(out)
        output = cast(BinaryIO, text)       # a raw binary stream: the serializers only call write()
        if self._solutions is not None and self._rows is None:
            self._solutions.serialize(output, fmt)
        else:           # rows in hand (rdflib): through pyoxigraph too, so both engines give the same bytes
            serialize_terms(self.columns, self.rows, self.boolean, output, fmt)
        text.close()


class _Counted:
    """Rows passed through, counted."""

    def __init__(self, rows: Iterable[tuple[Any, ...]]) -> None:
        self.rows, self.count = iter(rows), 0

    def __iter__(self) -> "_Counted":
        return self

    def __next__(self) -> tuple[Any, ...]:
        row = next(self.rows)
        self.count += 1
        return row


@contextmanager
def cycle_collector_paused() -> Generator[None, None, None]:
    """Python's cycle collector off while a whole answer is read into tuples (none of them can form a cycle):
    otherwise it walks every row made so far, again and again, which doubled the time to read a million rows."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def plain_value(value: Any) -> Any:
    """An rdflib term as a plain value: int, float or bool for those literals, else its text (None stays None)."""
    if isinstance(value, Literal):
        python = value.toPython()
        return python if isinstance(python, (int, float, bool)) else str(value)
    return None if value is None else str(value)


def write_json(out: TextIO, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> None:
    """Rows as a JSON list of records, one at a time: the bytes of
    ``json.dumps(records, ensure_ascii=False, indent=1)``."""
    first = True
    for row in rows:
        item = json.dumps(dict(zip(columns, row)), ensure_ascii=False, indent=1)
        out.write(("[\n " if first else ",\n ") + item.replace("\n", "\n "))
        first = False
    out.write("[]" if first else "\n]")


def write_csv(out: TextIO, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]],
              cell: Callable[[Any], Any] | None = None) -> None:
    """Rows as CSV (a header, then plain values; unbound is an empty cell; "\\n" ends a line)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    if cell is None:
        writer.writerows(["" if v is None else v for v in row] for row in rows)
    else:
        writer.writerows(["" if v is None else cell(v) for v in row] for row in rows)


class TextOutput(io.RawIOBase):
    """A binary stream onto a text stream: UTF-8 bytes in, text out (a character split between two
    writes is held back until it is whole)."""

    def __init__(self, out: TextIO) -> None:
        super().__init__()
        self.out = out
        self.decoder = codecs.getincrementaldecoder("utf-8")()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        text = self.decoder.decode(bytes(data))
        if text:
            self.out.write(text)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            rest = self.decoder.decode(b"", final=True)
            if rest:
                self.out.write(rest)
        super().close()


def serialize_terms(columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]], boolean: bool | None,
                    output: BinaryIO, fmt: str) -> None:
    """Rows of rdflib terms (or a boolean) in one of STANDARD_FORMATS, written by pyoxigraph's serializer."""
    import pyoxigraph

    if boolean is not None:
        document = {"head": {}, "boolean": boolean}
    else:
        document = {"head": {"vars": list(columns)},
                    "results": {"bindings": [{name: _json_term(value) for name, value in zip(columns, row)
                                              if value is not None} for row in rows]}}
    answer = pyoxigraph.parse_query_results(json.dumps(document), pyoxigraph.QueryResultsFormat.JSON)
    answer.serialize(output, getattr(pyoxigraph.QueryResultsFormat, STANDARD_FORMATS[fmt]))


def _json_term(term: Any) -> dict[str, str]:
    if isinstance(term, Literal):
        found = {"type": "literal", "value": str(term)}
        if term.language:
            found["xml:lang"] = term.language
        elif term.datatype is not None and str(term.datatype) != _XSD_STRING:
            found["datatype"] = str(term.datatype)
        return found
    return {"type": "bnode" if isinstance(term, BNode) else "uri", "value": str(term)}


def read_query(text_or_file: str) -> str:
    """A query given inline or as the path of a file (``queries/projects_per_prefecture.rq``).

    Text that looks like a path (no spaces, braces or angle brackets; a ``.rq`` or ``.sparql`` ending or a
    ``/``) but names no file is a QueryError, as is a folder; any other text is the query itself.
    """
    path = Path(text_or_file)
    looks_like_path = not re.search(r"[\s{}<>]", text_or_file) and (
        text_or_file.endswith((".rq", ".sparql")) or "/" in text_or_file)
    if not looks_like_path and (len(text_or_file) >= 200 or not (_is_file(path) or _is_dir(path))):
        return text_or_file
    if _is_dir(path):
        examples = sorted(path.glob("*.rq"))[:1]
        hint = f", e.g. {examples[0]}" if examples else ""
        raise QueryError(f"{text_or_file}: a folder — give one query file{hint}")
    if not _is_file(path):
        raise QueryError(f"{text_or_file}: no such query file")
    return path.read_text(encoding="utf-8")


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:             # a name too long for the file system is no file
        return False


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def run_query(graph: Graph, query: str, bindings: dict[str, Any] | None = None) -> SparqlResult:
    """Parse and run a SPARQL 1.1 query; the project prefixes (schema:, tg:, skos:, …) are predeclared."""
    try:
        prepared = prepareQuery(query, initNs=PREFIXES)
    except Exception as error:  # pyparsing raises its own types
        raise QuerySyntaxError(str(error)) from None
    init = {k: (v if isinstance(v, (URIRef, Literal)) else Literal(v)) for k, v in (bindings or {}).items()}
    try:
        result = graph.query(prepared, initBindings=init)
    except Exception as error:
        raise QueryError(f"SPARQL query failed: {error}") from None
    if result.type == "ASK":
        return SparqlResult((), (), boolean=bool(result.askAnswer))
    if result.type in ("CONSTRUCT", "DESCRIBE"):
        return SparqlResult((), (), graph=result.graph)
    columns = tuple(str(v) for v in result.vars or ())
    return SparqlResult(columns, tuple(tuple(cast(ResultRow, row)) for row in result))


def _table(columns: tuple[str, ...], rows: list[list[str]]) -> str:
    from unicodedata import east_asian_width

    def width(text: str) -> int:
        return sum(2 if east_asian_width(c) in "WF" else 1 for c in text)

    widths = [max([width(c)] + [width(r[i]) for r in rows]) for i, c in enumerate(columns)]
    pad = lambda text, w: text + " " * (w - width(text))
    lines = [" | ".join(pad(c, w) for c, w in zip(columns, widths)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(pad(v, w) for v, w in zip(row, widths)) for row in rows]
    return "\n".join(lines) + f"\n({counted(len(rows), 'row')})"
