"""Parameters for Oxigraph: fixed values written into the query text, meaning what rdflib's ``initBindings`` mean.

Oxigraph's own ``substitutions=`` (SPARQL SEP-0007) does not reach into subqueries and needs the variable in
the SELECT list, so ``bind_values`` writes each value into the query as a term that ``sparql_term`` has
escaped and read back through Oxigraph's parser: a value is one term, whatever characters it holds.

    >>> bind_values('SELECT ?x WHERE { ?s ?p ?x }', {"x": Literal("a")})
    'SELECT ?x WHERE { ?s ?p "a" }\\nVALUES ?x { "a" }'
"""
from __future__ import annotations

import difflib
import itertools
import re
from typing import Any, Iterable, cast

from rdflib import Literal, URIRef

from kg.sparql import QueryError

_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
_LONG_SINGLE = "'''(?:[^'\\\\]|\\\\.|'(?!''))*'''"
# One SPARQL token we must not look inside, or a variable. Order matters: long strings first.
_TOKEN = re.compile(r'''
    (?P<string>"""(?:[^"\\]|\\.|"(?!""))*"""|''' + _LONG_SINGLE + r'''|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<iri><[^<>"{}|^`\\\s]*>)
  | (?P<comment>\#[^\n]*)
  | (?P<var>[?$]\w+)
''', re.VERBOSE)
_BOUND = re.compile(r"BOUND\s*\(\s*$", re.IGNORECASE)
_AS = re.compile(r"\bAS\s*$", re.IGNORECASE)
_CLOSE = re.compile(r"\s*\)")
_IRI_FORBIDDEN = re.compile(r'[<>"{}|^`\\\x00-\x20]')
_LANGUAGE = re.compile(r"[A-Za-z]+(-[A-Za-z0-9]+)*")


def bind_values(text: str, bindings: dict[str, URIRef | Literal]) -> str:
    """The query with fixed values for some variables, meaning what rdflib's ``initBindings`` mean.

    In graph patterns, expressions and HAVING (subqueries included), ``?v`` or ``$v`` becomes the value
    and ``BOUND(?v)`` becomes ``true``; in a SELECT list, GROUP BY or ORDER BY, and after ``AS``, ``?v``
    stays, and a VALUES clause added at the end gives it the value in the results. Strings, IRIs and
    comments are left alone. Each value is written by ``sparql_term``, which refuses any value that
    would not read back as exactly that term: a value can never change the query around it.

    >>> bind_values('SELECT ?x WHERE { ?s ?p ?x FILTER(!BOUND(?x)) }', {"x": Literal("a")})
    'SELECT ?x WHERE { ?s ?p "a" FILTER(!true) }\\nVALUES ?x { "a" }'
    """
    terms = {name: sparql_term(value) for name, value in bindings.items()}
    out: list[str] = []
    used: set[str] = set()
    kept: set[str] = set()           # variables left in a SELECT list, GROUP BY or ORDER BY
    position = 0
    for match in _TOKEN.finditer(text):
        name = match.group("var")
        if name is None or name[1:] not in terms:
            continue
        used.add(name[1:])
        before = text[position:match.start()]
        closing = _CLOSE.match(text, match.end())
        if _BOUND.search(before) and closing:
            out += [_BOUND.sub("", before), "true"]
            position = closing.end()
            continue
        out.append(before)
        if _AS.search(before):
            out.append(name)
        elif _clause(text, match.start()) in ("projection", "modifier"):
            out.append(name)
            kept.add(name[1:])
        else:
            out.append(terms[name[1:]])
        position = match.end()
    out.append(text[position:])
    if _SELECT_STAR.search(_strip_literals(text)):
        kept |= used
    if not kept:
        return "".join(out)
    if _ends_with_values(text):
        raise QueryError("parameters cannot be bound in a query that ends with its own VALUES clause on the "
                         "Oxigraph engine: put the values in that clause, or use --engine rdflib")
    names = sorted(kept)
    values = " ".join(terms[name] for name in names)
    if len(names) == 1:
        return "".join(out) + f"\nVALUES ?{names[0]} {{ {values} }}"
    return "".join(out) + f"\nVALUES ({' '.join('?' + name for name in names)}) {{ ({values}) }}"


def query_variables(text: str) -> set[str]:
    """The names of the variables a query mentions (``?v`` or ``$v``), strings, IRIs and comments aside.

    >>> sorted(query_variables('SELECT ?x WHERE { ?s <p> "?not" } # ?nor'))
    ['s', 'x']
    """
    return {match.group("var")[1:] for match in _TOKEN.finditer(text) if match.group("var")}


def _parameters_line(text: str) -> str:
    """The header's ``# parameters:`` line with its continuation lines, as one text ("" if none)."""
    lines = text.splitlines()
    for at, line in enumerate(lines):
        if line.startswith("# parameters:"):
            block = [line] + list(itertools.takewhile(lambda x: x.startswith("#   "), lines[at + 1:]))
            return " ".join(part.lstrip("#").strip() for part in block).removeprefix("parameters:").strip()
    return ""


def declared_parameters(text: str) -> list[str]:
    """The parameters a query's header declares (``# parameters: ?region_code (...)``, as in queries/),
    in order; none for a query without that line."""
    return list(dict.fromkeys(re.findall(r"\?(\w+)", _parameters_line(text))))


def parameter_notes(text: str) -> str:
    """What the header says of the parameters' values ("?region_code (a 6-digit code string, ...)")."""
    notes = _parameters_line(text)
    return "" if notes == "none" else notes


def check_bindings(text: str, names: Iterable[str]) -> None:
    """A QueryError for a name to bind that the query never mentions (a misspelt parameter would
    otherwise be ignored and the query answered unbound), with the close names and the declared ones."""
    known = query_variables(text)
    unknown = sorted(set(names) - known)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
        hint = f"did you mean ?{close[0]}? " if close else ""
        declared = declared_parameters(text)
        listed = (f"its parameters: {', '.join('?' + name for name in declared)}" if declared
                  else "its variables: " + ", ".join("?" + name for name in sorted(known)[:12]))
        raise QueryError(f"the query has no variable ?{unknown[0]} to bind — {hint}{listed}")


_SELECT_STAR = re.compile(r"\bSELECT\s+(?:(?:DISTINCT|REDUCED)\s+)?\*", re.IGNORECASE)


def _ends_with_values(text: str) -> bool:
    """Whether the query has a VALUES clause of its own after its WHERE clause (at brace depth 0)."""
    depth = 0
    for match in re.finditer(r"[{}]|\bVALUES\b", _strip_literals(text), re.IGNORECASE):
        if match.group(0) == "{":
            depth += 1
        elif match.group(0) == "}":
            depth -= 1
        elif depth == 0:
            return True
    return False


def sparql_term(term: URIRef | Literal) -> str:
    """``term`` as SPARQL text that reads back as exactly that term, or a QueryError.

    A literal is always written in double quotes, with quotes, backslashes and every non-printing
    character escaped (``\\uXXXX``, so no newline either); an IRI, language tag or datatype must fit the
    SPARQL grammar. The text is then parsed back by Oxigraph and compared with the term: a value that does
    not survive the round trip is refused, never spliced into a query.

    >>> sparql_term(Literal('say "hi"\\n'))
    '"say \\\\"hi\\\\"\\\\u000A"'
    """
    if isinstance(term, URIRef):
        text = f"<{_checked_iri(str(term), 'IRI')}>"
    elif isinstance(term, Literal):
        text = '"' + "".join(_escape(char) for char in str(term)) + '"'
        if term.language:
            if not _LANGUAGE.fullmatch(term.language):
                raise QueryError(f"cannot bind {term!r}: {term.language!r} is not a language tag")
            text += f"@{term.language}"
        elif term.datatype is not None and str(term.datatype) != _XSD_STRING:
            text += f"^^<{_checked_iri(str(term.datatype), 'datatype IRI')}>"
    else:
        raise QueryError(f"cannot bind {term!r}: only IRIs and literals can be bound")
    expected = _as_oxigraph(term)
    if expected is None or _read_back(text) != expected:
        raise QueryError(f"cannot bind {term!r}: it does not read back as the same term in SPARQL")
    return text


def _escape(char: str) -> str:
    if char in '"\\':
        return "\\" + char
    if char.isprintable() and char not in "\u2028\u2029":
        return char
    code = ord(char)
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def _checked_iri(iri: str, what: str) -> str:
    bad = _IRI_FORBIDDEN.search(iri)
    if not iri or bad:
        where = f"{bad.group(0)!r} at character {bad.start()}" if bad else "empty"
        raise QueryError(f"cannot bind {iri!r}: not a valid {what} ({where})")
    return iri


def _read_back(text: str):
    """The one term Oxigraph's SPARQL parser reads from ``text`` (None if it does not read exactly one)."""
    import pyoxigraph as ox
    try:
        rows = list(cast(Iterable[Any], ox.Store().query(f"SELECT ?value WHERE {{ VALUES ?value {{ {text} }} }}")))
    except (SyntaxError, ValueError, OSError):
        return None
    return rows[0]["value"] if len(rows) == 1 else None


def _as_oxigraph(term: URIRef | Literal):
    """The pyoxigraph term for an rdflib term (None if pyoxigraph refuses it)."""
    import pyoxigraph as ox
    try:
        if isinstance(term, URIRef):
            return ox.NamedNode(str(term))
        if term.language:
            return ox.Literal(str(term), language=term.language)
        return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype or _XSD_STRING)))
    except ValueError:
        return None


_CLAUSE = re.compile(r"\bSELECT\b|\bWHERE\b|\bGROUP\s+BY\b|\bORDER\s+BY\b|\bHAVING\b|[{}]", re.IGNORECASE)


def _clause(text: str, at: int) -> str:
    """Where position ``at`` lies: "projection" (a SELECT list, outside parentheses), "modifier"
    (GROUP BY / ORDER BY, outside parentheses) or "pattern" (anything else)."""
    head = _strip_literals(text[:at])
    last = None
    for last in _CLAUSE.finditer(head):
        pass
    if last is None:
        return "pattern"
    keyword = re.sub(r"\s+", " ", last.group(0).upper())
    rest = head[last.end():]
    if keyword == "SELECT" and rest.count("(") == rest.count(")"):
        return "projection"
    if keyword in ("GROUP BY", "ORDER BY") and rest.count("(") == rest.count(")"):
        return "modifier"
    return "pattern"


def _strip_literals(text: str) -> str:
    """``text`` with strings, IRIs and comments blanked (same length), so keywords inside them don't count."""
    return _TOKEN.sub(lambda m: m.group(0) if m.group("var") else " " * len(m.group(0)), text)


__all__ = ["bind_values", "sparql_term"]
