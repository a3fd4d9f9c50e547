"""Tell a SPARQL Update from a query, and spot SERVICE and FROM, in linear passes (no backtracking regex).

The endpoint is read-only: an update must get 403 however it is written — after a long PREFIX block,
thousands of spaces or comments, a byte-order mark, a C-style comment, or behind a query and a ``;``.
It never fetches: a query naming ``SERVICE`` or ``FROM`` gets 400 before any engine sees it.
The scanner reads tokens left to right; every token pattern matches in time linear in its length, so a
request of n characters costs O(n) whatever it contains.

    >>> first_update_keyword("  PREFIX ex: <http://e/>\\n  DROP ALL")
    'DROP'
    >>> first_update_keyword("SELECT * { ?s ?p ?o }") is None
    True
    >>> update_keyword_anywhere('SELECT * { ?s ?p "DROP" } ; DROP ALL')
    'DROP'
"""
from __future__ import annotations

import re
from typing import Iterator

UPDATE_KEYWORDS = frozenset({"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"})
LEAVING_KEYWORDS = frozenset({"SERVICE", "FROM"})

# One token at a position. Each alternative is linear: its repeated parts match from disjoint sets, so a
# failed match never backtracks over what it read. Strings are "unrolled loops" (a run of plain characters,
# then escape + run, ...), so a long literal is read in runs rather than one alternation per character.
_TOKEN = re.compile(r'''
    (?P<space>[\s\ufeff\u200b]+)
  | (?P<comment>\#[^\n]*)
  | (?P<block>/\*(?:[^*]|\*(?!/))*(?:\*/|\Z))
  | (?P<string>"""|\'\'\'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"?|'[^'\\\n]*(?:\\.[^'\\\n]*)*'?)
  | (?P<iri><[^<>"{}|^`\\\s]*>)
  | (?P<var>[?$]\w*)
  | (?P<word>[^\W\d]?[\w\-.]*:?[\w\-.]*)
  | (?P<other>.)
''', re.VERBOSE | re.DOTALL)
_LETTERS = re.compile(r"[^\W\d_]+")
_LONG_END = {'"""': re.compile(r'[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*(?:"""|\Z)', re.DOTALL),
             "'''": re.compile(r"[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*(?:'''|\Z)", re.DOTALL)}


def tokens(text: str) -> Iterator[tuple[str, str]]:
    """(kind, text) for each significant token: whitespace and comments are skipped."""
    position, end = 0, len(text)
    while position < end:
        match = _TOKEN.match(text, position)
        assert match is not None                # the last alternative takes any one character
        kind = match.lastgroup or "other"
        value = match.group(0)
        if not value:                       # the empty word alternative: take one character
            kind, value = "other", text[position]
        position += len(value)
        if kind == "string" and value in _LONG_END:
            rest = _LONG_END[value].match(text, position)
            assert rest is not None             # it may match up to the end of the text
            position = rest.end()
            value += rest.group(0)
        if kind not in ("space", "comment", "block"):
            yield kind, value


def first_update_keyword(text: str) -> str | None:
    """The update keyword that starts the request after its prologue (BASE, PREFIX), or None."""
    stream = tokens(text)
    for kind, value in stream:
        keyword = value.upper() if kind == "word" else ""
        if keyword == "BASE":
            next(stream, None)                      # the IRI
        elif keyword == "PREFIX":
            next(stream, None)                      # the prefix name
            next(stream, None)                      # the IRI
        else:
            return keyword if keyword in UPDATE_KEYWORDS else None
    return None


def keywords(text: str) -> Iterator[str]:
    """Every bare word outside strings, IRIs and comments, upper-cased, in order.

    A word token is split into its runs of letters, because a keyword may follow a dot or a number with
    no space (``?o .SERVICE``, ``?p 1SERVICE``: the engine reads ``1`` and then the keyword); prefixed
    names (``ex:drop``) are not keywords and are skipped.

        >>> list(keywords("?s ?p 1.5SERVICE <x>"))
        ['SERVICE']
    """
    for kind, value in tokens(text):
        if kind == "word" and ":" not in value:         # a prefixed name's local part may hold dots
            for part in value.split("."):
                yield from (run.upper() for run in _LETTERS.findall(part))


def update_keyword_anywhere(text: str) -> str | None:
    """The first bare update keyword anywhere outside strings, IRIs and comments, or None.

    Only for text that did not parse as a query: ``SELECT … ; DROP ALL`` is an update request too.
    """
    return next((word for word in keywords(text) if word in UPDATE_KEYWORDS), None)


def leaving_keyword(text: str) -> str | None:
    """``SERVICE`` or ``FROM`` if the text uses one (a query that would read outside the local graph), else None.

    SPARQL engines may fetch a ``SERVICE`` over HTTP, so the endpoint refuses any request that names one.

        >>> leaving_keyword("SELECT * { ?s ?p ?o .service <http://e/sparql> { ?s ?p ?o } }")
        'SERVICE'
        >>> leaving_keyword('SELECT * { ?s ex:service "FROM" }') is None
        True
    """
    # At a word's end too: the engine reads a keyword glued to another one ("trueSERVICE" is true, SERVICE),
    # and no other keyword or function name ends with either.
    return next((keyword for word in keywords(text) for keyword in sorted(LEAVING_KEYWORDS)
                 if word.endswith(keyword)), None)


MAX_NESTING = 256       # Oxigraph's parser recurses per level and overflows its stack past about 2,000


def nesting_depth(text: str) -> int:
    """The deepest nesting in a request: open brackets ({ ( [) plus a run of ``!`` (each one a level of
    Oxigraph's recursive parser), strings, IRIs and comments aside. Linear, like every scan here.

        >>> nesting_depth('SELECT * { { FILTER(!!(?x = "((((")) } }')
        5
    """
    depth = deepest = run = 0
    for kind, value in tokens(text):
        run = run + 1 if value == "!" else 0
        if kind == "other" and value in "{([":
            depth += 1
        elif kind == "other" and value in "})]":
            depth = max(0, depth - 1)
        deepest = max(deepest, depth + run)
    return deepest


__all__ = ["first_update_keyword", "nesting_depth", "MAX_NESTING", "update_keyword_anywhere", "leaving_keyword",
           "keywords", "tokens",
           "UPDATE_KEYWORDS", "LEAVING_KEYWORDS"]
