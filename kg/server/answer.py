"""What a SPARQL worker does with one request: check it, run it on Oxigraph, write the answer within limits.

Runs inside a worker process (kg.server.worker starts them) on the store's Oxigraph database opened
read-only. Refuses updates (403), ``SERVICE`` and ``FROM`` (400) before the engine sees the text;
negotiates the format; cuts the answer at ``max_rows`` rows (or triples) and at ``max_bytes`` bytes
and says so in a header. Every error is a status and a sentence a user can act on, never a type name.

    >>> import pyoxigraph
    >>> answer(pyoxigraph.Store(), Job("ASK {}", fmt="json"), {}).body
    b'{"head": {}, "boolean": true}'
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Iterable

from kg.server import formats
from kg.guard import (MAX_NESTING, first_update_keyword, leaving_keyword, nesting_depth, tokens,
                      update_keyword_anywhere)

TEXT = "text/plain; charset=utf-8"
READ_ONLY = ("this endpoint is read-only: SPARQL Update ({}) is refused — "
             "send a query (SELECT, ASK, CONSTRUCT or DESCRIBE); rebuild the store with `tsunagari build` to change it")
LARGEST = 2 ** 64 - 1     # the largest LIMIT or OFFSET Oxigraph reads


@dataclass(frozen=True)
class Job:
    """One request for a worker: the query text, what the client asked for, and the answer's bounds."""

    query: str
    accept: str | None = None
    fmt: str | None = None
    max_rows: int = 10_000
    max_bytes: int | None = None


@dataclass(frozen=True)
class Reply:
    """An HTTP answer, ready to send: status, media type, body and extra headers."""

    status: int
    media_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def text(cls, status: int, message: str, **headers: str) -> "Reply":
        return cls(status, TEXT, (message + "\n").encode("utf-8"), tuple(headers.items()))


def refuse_update(what: str) -> Reply:
    return Reply.text(403, READ_ONLY.format(what))


def answer(store, job: Job, prefixes: dict[str, str] | None = None) -> Reply:
    """Run one job on a pyoxigraph store and write the answer (what a worker does; callable in-process).

    ``prefixes`` (name -> namespace IRI) are predeclared for the query and used in Turtle and RDF/XML.

    Raises MemoryError when the worker's memory limit is reached while writing: the caller retires
    the worker. Errors of the query itself come back as 400 replies.
    """
    import pyoxigraph

    prefixes = prefixes or {}
    keyword = first_update_keyword(job.query)
    if keyword:
        return refuse_update(keyword)
    leaving = leaving_keyword(job.query)
    if leaving == "SERVICE":
        return Reply.text(400, "SERVICE (federated query) is not allowed on this endpoint — query the local graph")
    if leaving == "FROM":
        return Reply.text(400, "FROM and FROM NAMED are not supported: this endpoint has one default graph "
                               "— remove the dataset clause")
    depth = nesting_depth(job.query)
    if depth > MAX_NESTING:           # deeper, the engine's parser can overflow its stack and kill the worker
        return Reply.text(400, f"the query nests {depth:,} levels deep (brackets and '!'); the limit is "
                               f"{MAX_NESTING} — write it flatter")
    try:
        result = store.query(job.query, prefixes=prefixes)
    except SyntaxError as error:
        keyword = update_keyword_anywhere(job.query)
        if keyword:
            return refuse_update(keyword)
        return Reply.text(400, syntax_message(job.query, str(error), job.max_rows, prefixes))
    except (ValueError, TypeError, OSError) as error:
        return Reply.text(400, f"the query could not run: {error}")
    if isinstance(result, pyoxigraph.QueryBoolean):
        what, offers = "ASK", formats.TABLE_FORMATS
    elif isinstance(result, pyoxigraph.QuerySolutions):
        what, offers = "SELECT", formats.TABLE_FORMATS
    else:
        what, offers = "CONSTRUCT and DESCRIBE", formats.GRAPH_FORMATS
    try:
        key = formats.choose(offers, job.accept, job.fmt, what)
    except formats.NotAcceptable as error:
        return Reply.text(error.status, str(error))
    media = formats.media_type(offers, key)
    try:
        if what == "ASK":
            return Reply(200, media, formats.write_boolean(key, bool(result)))
        if what == "SELECT":
            columns = [v.value for v in result.variables]
            width = len(columns)
            rows = [[s[i] for i in range(width)] for s in itertools.islice(result, job.max_rows + 1)]
            body, cut = formats.write_table(key, columns, rows[:job.max_rows], job.max_bytes)
        else:
            rows = list(itertools.islice(result, job.max_rows + 1))
            body, cut = formats.write_graph(key, rows[:job.max_rows], prefixes, job.max_bytes)
    except (ValueError, TypeError, OSError) as error:    # evaluation errors surface while iterating
        return Reply.text(400, f"the query failed while running: {error}")
    headers = []
    if len(rows) > job.max_rows:
        headers.append(("X-SPARQL-MaxRows", str(job.max_rows)))
    if cut:
        headers.append(("X-SPARQL-MaxBytes", str(job.max_bytes)))
    return Reply(200, media, body, tuple(headers))


_AT = re.compile(r"error at (\d+):(\d+): (.*)", re.DOTALL)
_CHARACTER_CLASS = re.compile(r"\[[^\]\n]*\]")


def syntax_message(query: str, error: str, max_rows: int | None = 10_000,
                   prefixes: dict[str, str] | None = None) -> str:
    """Oxigraph's parse error as a user reads it: where, what was expected, and for common slips what to do.

    >>> syntax_message("SELECT * { ?s ?p ?o } LIMIT 99999999999999999999", "error at 1:50: expected one of "
    ...                "The query limit should be a non negative integer, ['0'..='9']").split(" — ")[0]
    'SPARQL syntax error at line 1, column 50: LIMIT must be a whole number from 0 to 18446744073709551615'
    """
    found = _AT.match(error)
    if not found:
        return f"SPARQL syntax error: {error}"
    line, column, rest = found.groups()
    where = f"SPARQL syntax error at line {line}, column {column}"
    if "The query limit should be" in rest or "The query offset should be" in rest:
        word = "LIMIT" if "limit" in rest else "OFFSET"
        cap = f"this endpoint sends at most {max_rows} rows anyway; " if max_rows is not None else ""
        return (f"{where}: {word} must be a whole number from 0 to {LARGEST} — {cap}lower the number or leave "
                f"the {word} out")
    if "Prefix not found" in rest:
        unknown = undeclared_prefixes(query, prefixes or {})
        named = ", ".join(f"{p}:" for p in unknown) or "a prefix"
        return (f"{where}: unknown prefix {named} — declare it (PREFIX {unknown[0] if unknown else 'ex'}: <…>) "
                f"or use a predeclared one: {', '.join(f'{p}:' for p in prefixes or {})}")
    rest = _CHARACTER_CLASS.sub("", rest.replace("\n", " "))
    rest = re.sub(r"(,\s*)+", ", ", rest).strip(" ,")
    if len(rest) > 300:
        rest = rest[:300].rsplit(",", 1)[0] + ", …"
    if rest in ("expected", "expected one of"):       # only character classes were expected
        rest = "a keyword, name or term misspelt or missing here"
    at = _offset(query, int(line), int(column))
    before, after = _before(query[:at]), query[at:at + 15].split("\n")[0].strip()
    if not query[at:].strip():
        # At the very end: a word before is misspelt or something is missing (an object, a brace).
        return (f"{where}: unexpected end of the query after {before!r} ({rest}) — check the spelling of the "
                "keywords (SELECT, WHERE, LIMIT…), that each triple has a subject, a predicate and an object, "
                "and that every { has its }")
    near = f"after {before!r}" if before else f"at {after!r}"
    return f"{where} ({near}): {rest}"


def _offset(query: str, line: int, column: int) -> int:
    """The position in ``query`` of Oxigraph's line and column (both from 1, in characters)."""
    lines = query.splitlines(keepends=True)
    return min(len(query), sum(len(text) for text in lines[:line - 1]) + max(column - 1, 0))


def _before(text: str) -> str:
    """Up to 30 characters before a position, from a word start, on one line."""
    tail = " ".join(text.split())[-30:]
    return tail.split(" ", 1)[1] if len(" ".join(text.split())) > 30 and " " in tail else tail


def undeclared_prefixes(query: str, predeclared: Iterable[str] = ()) -> list[str]:
    """Prefixes a query uses in prefixed names without declaring them (``predeclared`` count as declared).

    >>> undeclared_prefixes("PREFIX ex: <http://e/> SELECT * { ?s ex:a ?o ; nope:b _:c ; schema:name ?n }",
    ...                     ["schema"])
    ['nope']
    """
    declared, unknown, after_prefix = set(predeclared), [], False
    for kind, value in tokens(query):
        if kind == "word" and value.upper() == "PREFIX":
            after_prefix = True
            continue
        if kind == "word" and ":" in value:
            prefix = value.split(":", 1)[0]
            if after_prefix:
                declared.add(prefix)
            elif prefix not in declared and prefix not in unknown and prefix != "_":
                unknown.append(prefix)
        after_prefix = False
    return [p for p in unknown if p not in declared]


__all__ = ["Job", "Reply", "answer", "refuse_update", "syntax_message", "undeclared_prefixes"]
