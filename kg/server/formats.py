"""Result formats of the SPARQL endpoint: content negotiation and serialisers (pure functions).

SELECT and ASK results are written here (JSON, XML, CSV, TSV as in the W3C SPARQL 1.1 result
formats); CONSTRUCT and DESCRIBE graphs go through rdflib's serialisers.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Iterable, Sequence
from xml.sax.saxutils import escape, quoteattr

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import XSD

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
RDFLIB_NAMES = {"turtle": "turtle", "json-ld": "json-ld", "nt": "nt", "xml": "xml"}


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
        names = ", ".join(offers)
        raise NotAcceptable(f"format={fmt!r} does not apply to {what} queries — use one of: {names}", 400)
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

Row = Sequence[object | None]


def write_table(key: str, columns: Sequence[str], rows: Iterable[Row]) -> bytes:
    """SELECT results in one of TABLE_FORMATS."""
    return {"json": _json, "xml": _xml, "csv": _csv, "tsv": _tsv}[key](list(columns), rows)


def write_boolean(key: str, value: bool) -> bytes:
    """ASK results in one of TABLE_FORMATS (CSV and TSV as one column, as common endpoints do)."""
    text = "true" if value else "false"
    if key == "json":
        return json.dumps({"head": {}, "boolean": value}).encode()
    if key == "xml":
        return (f'<?xml version="1.0" encoding="utf-8"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">'
                f"<head/><boolean>{text}</boolean></sparql>\n").encode()
    return (f"_askResult\r\n{text}\r\n" if key == "csv" else f"?_askResult\n{text}\n").encode()


def _json(columns: list[str], rows: Iterable[Row]) -> bytes:
    bindings = [{c: _json_term(v) for c, v in zip(columns, row) if v is not None} for row in rows]
    doc = {"head": {"vars": columns}, "results": {"bindings": bindings}}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _json_term(term) -> dict[str, str]:
    if isinstance(term, URIRef):
        return {"type": "uri", "value": str(term)}
    if isinstance(term, BNode):
        return {"type": "bnode", "value": str(term)}
    if isinstance(term, Literal):
        out = {"type": "literal", "value": str(term)}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype and term.datatype != XSD.string:
            out["datatype"] = str(term.datatype)
        return out
    return {"type": "literal", "value": str(term)}


def _xml(columns: list[str], rows: Iterable[Row]) -> bytes:
    out = ['<?xml version="1.0" encoding="utf-8"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">\n<head>']
    out += [f"<variable name={quoteattr(c)}/>" for c in columns]
    out.append("</head>\n<results>\n")
    for row in rows:
        out.append("<result>")
        for column, term in zip(columns, row):
            if term is not None:
                out.append(f"<binding name={quoteattr(column)}>{_xml_term(term)}</binding>")
        out.append("</result>\n")
    out.append("</results>\n</sparql>\n")
    return "".join(out).encode("utf-8")


def _xml_term(term) -> str:
    value = escape(_xml_safe(str(term)))
    if isinstance(term, URIRef):
        return f"<uri>{value}</uri>"
    if isinstance(term, BNode):
        return f"<bnode>{value}</bnode>"
    if isinstance(term, Literal) and term.language:
        return f"<literal xml:lang={quoteattr(term.language)}>{value}</literal>"
    if isinstance(term, Literal) and term.datatype and term.datatype != XSD.string:
        return f"<literal datatype={quoteattr(str(term.datatype))}>{value}</literal>"
    return f"<literal>{value}</literal>"


def _xml_safe(text: str) -> str:
    """Drop the control characters XML 1.0 cannot carry."""
    return "".join(c for c in text if c in "\t\n\r" or ord(c) >= 0x20)


def _csv(columns: list[str], rows: Iterable[Row]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else (f"_:{v}" if isinstance(v, BNode) else str(v)) for v in row])
    return out.getvalue().encode("utf-8")


def _tsv(columns: list[str], rows: Iterable[Row]) -> bytes:
    lines = ["\t".join(f"?{c}" for c in columns)]
    lines += ["\t".join("" if v is None else _turtle_term(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _turtle_term(term) -> str:
    """A term as the TSV format wants it: in Turtle syntax, on one line."""
    if isinstance(term, URIRef):
        return f"<{term}>"
    if isinstance(term, BNode):
        return f"_:{term}"
    text = str(term)
    quoted = '"' + (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
                    .replace("\r", "\\r").replace("\t", "\\t")) + '"'
    if isinstance(term, Literal) and term.language:
        return f"{quoted}@{term.language}"
    if isinstance(term, Literal) and term.datatype and term.datatype != XSD.string:
        return f"{quoted}^^<{term.datatype}>"
    return quoted


# -- CONSTRUCT / DESCRIBE ---------------------------------------------------------------------------

def write_graph(key: str, graph: Graph) -> bytes:
    """A graph in one of GRAPH_FORMATS."""
    return graph.serialize(format=RDFLIB_NAMES[key], encoding="utf-8")


def media_type(offers: dict[str, tuple[str, tuple[str, ...]]], key: str) -> str:
    return offers[key][0]
