"""Result formats of the SPARQL endpoint: content negotiation and serialisers (pure functions).

SELECT and ASK results are written here, row by row (JSON, XML, CSV, TSV as in the W3C SPARQL 1.1
result formats), so an answer can stop at a byte limit and still be a whole document; CONSTRUCT and
DESCRIBE graphs go through pyoxigraph's serialisers. Terms are pyoxigraph's (NamedNode, BlankNode,
Literal, and RDF 1.2 Triple terms), told apart by class name so this module imports no RDF library.
"""
from __future__ import annotations

import csv
import io
import json
import re
from typing import Any, Callable, Iterable, Sequence
from xml.sax.saxutils import escape, quoteattr

# format key -> (media type sent, media types and `format=` names it answers to)
TABLE_FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "json": ("application/sparql-results+json", ("application/sparql-results+json", "application/json",
                                                 "text/javascript", "application/javascript", "json", "srj")),
    "xml": ("application/sparql-results+xml", ("application/sparql-results+xml", "application/xml", "text/xml",
                                               "xml", "srx")),
    "csv": ("text/csv; charset=utf-8", ("text/csv", "csv")),
    "tsv": ("text/tab-separated-values; charset=utf-8", ("text/tab-separated-values", "tsv")),
}
GRAPH_FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "turtle": ("text/turtle; charset=utf-8", ("text/turtle", "application/turtle", "application/x-turtle",
                                              "text/n3", "text/rdf+n3", "turtle", "ttl", "n3")),
    "json-ld": ("application/ld+json", ("application/ld+json", "application/x-json+ld", "application/json",
                                        "json-ld", "jsonld", "json")),
    "nt": ("application/n-triples; charset=utf-8", ("application/n-triples", "text/plain", "nt", "ntriples",
                                                    "n-triples")),
    "xml": ("application/rdf+xml", ("application/rdf+xml", "application/xml", "text/xml", "rdf+xml", "rdfxml",
                                    "xml")),
}
OXIGRAPH_NAMES = {"turtle": "TURTLE", "json-ld": "JSON_LD", "nt": "N_TRIPLES", "xml": "RDF_XML"}
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


class NotAcceptable(ValueError):
    """No offered format matches the request; ``status`` is 400 for a bad `format=`, 406 for Accept."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def choose(offers: dict[str, tuple[str, tuple[str, ...]]], accept: str | None, fmt: str | None,
           what: str) -> str:
    """The format key to answer with: an explicit ``format=`` wins, else the Accept header, else the first.

    >>> choose(TABLE_FORMATS, "text/csv;q=0.5, application/sparql-results+xml", None, "SELECT")
    'xml'
    """
    if fmt:
        wanted = fmt.strip().lower()
        for key, (_, names) in offers.items():
            if wanted in names:
                return key
        known = ", ".join(offers)
        raise NotAcceptable(f"format={fmt!r} does not apply to {what} queries — use one of: {known}", 400)
    ranges = parse_accept(accept or "*/*")
    best: tuple[float, int, int] | None = None
    chosen = None
    for position, (key, (canonical, names)) in enumerate(offers.items()):
        canonical = canonical.split(";")[0]
        for media in (n for n in names if "/" in n):
            q, specificity = _quality(media, ranges, wildcards=media == canonical)
            rank = (q, specificity, -position)
            if q > 0 and (best is None or rank > best):
                best, chosen = rank, key
    if chosen is None:
        offered = ", ".join(media.split(";")[0] for media, _ in offers.values())
        raise NotAcceptable(f"cannot answer {what} queries in {accept!r} — accepted types: {offered}", 406)
    return chosen


def parse_accept(header: str) -> list[tuple[str, float]]:
    """Media ranges of an Accept header with their q values (invalid q counts as 0)."""
    ranges = []
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        if not fields[0]:
            continue
        q = 1.0
        for field in fields[1:]:
            name, _, value = field.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        ranges.append((fields[0].lower(), q))
    return ranges


def _quality(media: str, ranges: list[tuple[str, float]], wildcards: bool) -> tuple[float, int]:
    """q of the most specific range matching ``media`` (3 exact, 2 type/*, 1 */*), 0 if none matches.

    Only a format's own media type answers to wildcards; its aliases (application/json, text/xml...)
    answer only when named.
    """
    kind = media.split("/")[0]
    found = (0.0, 0)
    for pattern, q in ranges:
        specificity = (3 if pattern == media else 0) or (
            (2 if pattern == f"{kind}/*" else 1 if pattern == "*/*" else 0) if wildcards else 0)
        if specificity > found[1]:
            found = (q, specificity)
    return found


# -- SELECT / ASK -----------------------------------------------------------------------------------

Row = Sequence[Any]


class Table:
    """One result format for SELECT: its head, one row, its tail (text), so rows can be written one by one."""

    def __init__(self, head: Callable[[list[str]], str], row: Callable[[list[str], Row, bool], str],
                 tail: str) -> None:
        self.head, self.row, self.tail = head, row, tail


def write_table(key: str, columns: Sequence[str], rows: Iterable[Row], max_bytes: int | None = None
                ) -> tuple[bytes, bool]:
    """SELECT results in one of TABLE_FORMATS; stops before the row that would pass ``max_bytes``.

    Returns the document (always complete: head, the rows that fit, tail) and whether rows were left out.

    >>> write_table("csv", ["n"], [])
    (b'n\\r\\n', False)
    """
    table = TABLES[key]
    columns = list(columns)
    head, tail = table.head(columns).encode("utf-8"), table.tail.encode("utf-8")
    parts, size = [head], len(head) + len(tail)
    for number, row in enumerate(rows):
        chunk = table.row(columns, row, number == 0).encode("utf-8")
        if max_bytes is not None and size + len(chunk) > max_bytes:
            parts.append(tail)
            return b"".join(parts), True
        parts.append(chunk)
        size += len(chunk)
    parts.append(tail)
    return b"".join(parts), False


def write_boolean(key: str, value: bool) -> bytes:
    """ASK results in one of TABLE_FORMATS (CSV and TSV as one column, as common endpoints do)."""
    text = "true" if value else "false"
    if key == "json":
        return json.dumps({"head": {}, "boolean": value}).encode()
    if key == "xml":
        return (f'<?xml version="1.0" encoding="utf-8"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">'
                f"<head/><boolean>{text}</boolean></sparql>\n").encode()
    return (f"_askResult\r\n{text}\r\n" if key == "csv" else f"?_askResult\n{text}\n").encode()


def _kind(term: Any) -> str:
    return type(term).__name__


def _json_term(term: Any) -> dict[str, Any]:
    kind = _kind(term)
    if kind == "NamedNode":
        return {"type": "uri", "value": term.value}
    if kind == "BlankNode":
        return {"type": "bnode", "value": term.value}
    if kind == "Triple":
        return {"type": "triple", "value": {"subject": _json_term(term.subject),
                                            "predicate": _json_term(term.predicate),
                                            "object": _json_term(term.object)}}
    out = {"type": "literal", "value": term.value}
    if term.language:
        out["xml:lang"] = term.language
    elif term.datatype.value != XSD_STRING:
        out["datatype"] = term.datatype.value
    return out


def _json_row(columns: list[str], row: Row, first: bool) -> str:
    binding = {c: _json_term(v) for c, v in zip(columns, row) if v is not None}
    return ("" if first else ",") + json.dumps(binding, ensure_ascii=False, separators=(",", ":"))


def _json_head(columns: list[str]) -> str:
    return '{"head":{"vars":' + json.dumps(columns, ensure_ascii=False, separators=(",", ":")) + '},"results":{"bindings":['


def _xml_head(columns: list[str]) -> str:
    variables = "".join(f"<variable name={quoteattr(c)}/>" for c in columns)
    return ('<?xml version="1.0" encoding="utf-8"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">\n'
            f"<head>{variables}</head>\n<results>\n")


def _xml_row(columns: list[str], row: Row, first: bool) -> str:
    cells = "".join(f"<binding name={quoteattr(c)}>{_xml_term(v)}</binding>"
                    for c, v in zip(columns, row) if v is not None)
    return f"<result>{cells}</result>\n"


def _xml_term(term: Any) -> str:
    kind = _kind(term)
    if kind == "NamedNode":
        return f"<uri>{escape(_xml_safe(term.value))}</uri>"
    if kind == "BlankNode":
        return f"<bnode>{escape(_xml_safe(term.value))}</bnode>"
    if kind == "Triple":
        return (f"<triple><subject>{_xml_term(term.subject)}</subject><predicate>{_xml_term(term.predicate)}"
                f"</predicate><object>{_xml_term(term.object)}</object></triple>")
    value = escape(_xml_safe(term.value))
    if term.language:
        return f"<literal xml:lang={quoteattr(term.language)}>{value}</literal>"
    if term.datatype.value != XSD_STRING:
        return f"<literal datatype={quoteattr(term.datatype.value)}>{value}</literal>"
    return f"<literal>{value}</literal>"


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_safe(text: str) -> str:
    """Drop the characters XML 1.0 cannot carry: controls, lone surrogates, U+FFFE and U+FFFF."""
    return _NOT_XML.sub("", text)


def _csv_line(values: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()


def _csv_value(term: Any) -> str:
    kind = _kind(term)
    if term is None:
        return ""
    if kind == "BlankNode":
        return f"_:{term.value}"
    if kind == "Triple":
        return _turtle_term(term)
    return term.value


def _tsv_head(columns: list[str]) -> str:
    return "\t".join(f"?{c}" for c in columns) + "\n"


def _tsv_row(columns: list[str], row: Row, first: bool) -> str:
    return "\t".join("" if v is None else _turtle_term(v) for v in row) + "\n"


def _turtle_term(term: Any) -> str:
    """A term as the TSV format wants it: in Turtle syntax, on one line."""
    kind = _kind(term)
    if kind == "NamedNode":
        return f"<{term.value}>"
    if kind == "BlankNode":
        return f"_:{term.value}"
    if kind == "Triple":
        return f"<<( {_turtle_term(term.subject)} {_turtle_term(term.predicate)} {_turtle_term(term.object)} )>>"
    quoted = '"' + (term.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
                    .replace("\r", "\\r").replace("\t", "\\t")) + '"'
    if term.language:
        return f"{quoted}@{term.language}"
    if term.datatype.value != XSD_STRING:
        return f"{quoted}^^<{term.datatype.value}>"
    return quoted


TABLES = {
    "json": Table(_json_head, _json_row, "]}}"),
    "xml": Table(_xml_head, _xml_row, "</results>\n</sparql>\n"),
    "csv": Table(lambda columns: _csv_line(columns),
                 lambda columns, row, first: _csv_line([_csv_value(v) for v in row]), ""),
    "tsv": Table(_tsv_head, _tsv_row, ""),
}


# -- CONSTRUCT / DESCRIBE ---------------------------------------------------------------------------

def write_graph(key: str, triples: Sequence[Any], prefixes: dict[str, str] | None = None,
                max_bytes: int | None = None) -> tuple[bytes, bool]:
    """Triples (pyoxigraph ``Triple``) in one of GRAPH_FORMATS, as many as fit in ``max_bytes``.

    Returns the document and whether triples were left out. The cut keeps a prefix of ``triples``;
    its length is found by halving, since a graph format's size is not the sum of its triples' sizes.
    """
    body = _serialize(key, triples, prefixes)
    if max_bytes is None or len(body) <= max_bytes:
        return body, False
    fits, too_many = 0, len(triples)
    best = _serialize(key, [], prefixes)
    while too_many - fits > 1:
        middle = (fits + too_many) // 2
        attempt = _serialize(key, triples[:middle], prefixes)
        if len(attempt) <= max_bytes:
            fits, best = middle, attempt
        else:
            too_many = middle
    return best, True


def _serialize(key: str, triples: Sequence[Any], prefixes: dict[str, str] | None) -> bytes:
    import pyoxigraph

    fmt = getattr(pyoxigraph.RdfFormat, OXIGRAPH_NAMES[key])
    return pyoxigraph.serialize(triples, format=fmt,
                                prefixes=prefixes if key in ("turtle", "xml") else None) or b""


def media_type(offers: dict[str, tuple[str, tuple[str, ...]]], key: str) -> str:
    return offers[key][0]
