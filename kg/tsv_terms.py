r"""Rows of a SPARQL TSV answer (W3C "SPARQL 1.1 Query Results TSV") read back as rdflib terms.

Oxigraph writes a million-row answer as TSV in Rust about as fast as it evaluates it; reading that text
costs Python one split per line and one dictionary look-up per cell (result columns repeat values),
where asking Oxigraph for each cell's value, language and datatype cost about twice as much.

Each cell is one term in Turtle syntax: ``<iri>``, ``_:label``, ``"text"`` with ``@lang`` or
``^^<datatype>``, or a bare integer, decimal, double or boolean; an empty cell is unbound. Inside quotes
the writer escapes tab, newline, carriage return, quote and backslash, so a raw tab or newline only ever
separates cells and rows. rdflib's own TSV results parser, built on pyparsing, is far slower at this size.

    >>> rows = tsv_rows(["?id\t?n\n", '"a\\tb"@ja\t5\n', "\t<http://x/y>\n"], tsv_term)
    >>> for row in rows: print([None if term is None else term.n3() for term in row])
    ['"a\tb"@ja', '"5"^^<http://www.w3.org/2001/XMLSchema#integer>']
    [None, '<http://x/y>']
"""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Iterator

from rdflib import BNode, Literal, URIRef
from rdflib.namespace import XSD

# Canonical and within 18 digits: longer ones go through rdflib (int() refuses strings past 4,300 digits).
CANONICAL_INTEGER = re.compile(r"0|-?[1-9][0-9]{0,17}")
_ESCAPE = re.compile(r"\\(.)")
_UNESCAPE = {"t": "\t", "n": "\n", "r": "\r", '"': '"', "\\": "\\"}
REMEMBERED = 1 << 16        # distinct cells kept made at once (a few MB)


def tsv_rows(lines: Iterable[str], make: Callable[[str], Any], *,
             remember: int = REMEMBERED) -> Iterator[tuple[Any, ...]]:
    """The rows after the header line, each cell ``make(cell)`` (an empty cell is None). Cells already made
    are remembered, up to ``remember`` of them: then forgotten all at once, so that a streamed answer of
    unique ids and titles holds bounded memory while its repeated labels come straight back."""
    cache: dict[str, Any] = {"": None}
    lines = iter(lines)
    next(lines, None)                               # the header: ?a<TAB>?b
    for line in lines:
        cells = line.rstrip("\n").split("\t")
        row = []
        for cell in cells:
            term = cache.get(cell, cache)           # the cache itself marks a miss (None is a value)
            if term is cache:
                if len(cache) > remember:
                    cache.clear()
                    cache[""] = None
                term = cache[cell] = make(cell)
            row.append(term)
        yield tuple(row)


def tsv_term(cell: str) -> URIRef | BNode | Literal:
    """One TSV cell as the rdflib term rdflib itself makes (a string literal has no datatype)."""
    first = cell[:1]
    if first == '"':
        end = cell.rindex('"')
        text = cell[1:end]
        if "\\" in text:
            text = _ESCAPE.sub(_unescape, text)
        suffix = cell[end + 1:]
        if not suffix:
            return quick_literal(text, None, None, text, None)
        if suffix[0] == "@":
            return quick_literal(text, suffix[1:], None, text, None)
        if not (suffix.startswith("^^<") and suffix.endswith(">")):
            raise ValueError(f"not a SPARQL TSV literal: {cell!r}")
        return typed_literal(text, URIRef(suffix[3:-1]))
    if first == "<":
        if cell.startswith("<<"):
            raise ValueError(f"an RDF-star triple term in the answer, not used by tsunagari: {cell!r}")
        return URIRef(cell[1:-1])
    if cell.startswith("_:"):
        return BNode(cell[2:])
    if cell in ("true", "false"):
        return Literal(cell, datatype=XSD.boolean)
    if "e" in cell or "E" in cell:
        return Literal(cell, datatype=XSD.double)
    return typed_literal(cell, XSD.decimal if "." in cell else XSD.integer)


def typed_literal(text: str, datatype: URIRef) -> Literal:
    """``Literal(text, datatype=datatype)``, quicker for a canonical integer."""
    if datatype == XSD.integer and CANONICAL_INTEGER.fullmatch(text):
        return quick_literal(text, None, XSD.integer, int(text), False)
    return Literal(text, datatype=datatype)


def quick_literal(text: str, language: str | None, datatype: URIRef | None, value: Any,
                  ill_typed: bool | None) -> Literal:
    """The rdflib Literal with these slots, made without rdflib's checks and casts (2–6 µs a cell of a
    million-row answer): strings and canonical integers from Oxigraph are already valid. The slots are
    rdflib 7.6's (pinned); tests/test_engines.py compares every slot with ``Literal()``'s."""
    term = str.__new__(Literal, text)
    term._language, term._datatype, term._value, term._ill_typed = language, datatype, value, ill_typed
    return term


def _unescape(match: re.Match[str]) -> str:
    try:
        return _UNESCAPE[match.group(1)]
    except KeyError:
        raise ValueError(f"unknown escape \\{match.group(1)} in a SPARQL TSV literal") from None


__all__ = ["tsv_rows", "tsv_term", "typed_literal", "quick_literal", "CANONICAL_INTEGER"]
