"""SPARQL engines behind one tiny interface: rdflib in memory, or Oxigraph embedded on disk.

    >>> from kg.engines import open_engine                                # doctest: +SKIP
    >>> engine = open_engine(store.generation(), "oxigraph")              # doctest: +SKIP
    >>> engine.query("SELECT (COUNT(*) AS ?n) WHERE { ?p a schema:Project }").records()   # doctest: +SKIP
    [{'n': 77}]

Both return the same ``kg.sparql.SparqlResult``: rows of rdflib terms (a string literal without a
datatype, as rdflib reads N-Triples), so ``records()``, ``format()`` and ``to_dataframe()`` give
the same values whichever engine ran the query. Oxigraph's answer stays in Oxigraph until it is read
(``OxigraphSolutions``): ``records()`` and "csv"/"json" make plain values without rdflib terms, and
``write(out, "tsv"|"srj"|"srx")`` is Oxigraph's own serializer, streamed.

Every store generation holds an Oxigraph database (PyPI ``pyoxigraph``, Rust, RocksDB) in its
``oxigraph/`` folder, bulk-loaded from ``graph.nt`` by the build and opened read-only: "auto" uses it
whenever it is there. rdflib holds the graph in Python objects (~1.5 KB per triple) and evaluates in
Python; it stays the reference (``engine="rdflib"`` parses graph.nt) and tests/test_engines.py checks
that every query in queries/ gives the same rows on both.

Parameters (``bindings``) mean what rdflib's ``initBindings`` mean: the variable holds that value
everywhere in the query, subqueries included. Oxigraph's own ``substitutions=`` (SPARQL SEP-0007) does
not reach into subqueries and needs the variable in the SELECT list, so the Oxigraph engine writes the
value into the query instead (``bind_values``), as a term that ``sparql_term`` has escaped and read back
through Oxigraph's parser: a value is one term, whatever characters it holds.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Protocol, runtime_checkable

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import XSD

from kg.sparql import STANDARD_FORMATS, QueryError, SparqlResult, plain_value, run_query
from kg.vocab import PREFIXES

OXIGRAPH_FOLDER = "oxigraph"
ENGINES = ("rdflib", "oxigraph")
INSTALL_HINT = "the Oxigraph engine needs pyoxigraph: pip install 'pyoxigraph>=0.5,<0.6'"


@runtime_checkable
class SparqlEngine(Protocol):
    """Anything that answers SPARQL 1.1 with a SparqlResult (the project prefixes predeclared)."""

    name: str

    def query(self, text: str, bindings: dict[str, Any] | None = None) -> SparqlResult:
        """Run ``text``; ``bindings`` fix variables to values (str, int, float, bool or rdflib terms)."""
        ...


class RdflibEngine:
    """The reference engine: an rdflib Graph in memory (``kg.sparql.run_query``)."""

    name = "rdflib"

    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    @classmethod
    def from_ntriples(cls, path: Path) -> "RdflibEngine":
        """Parse a graph.nt (memory grows ~1.5 KB per triple)."""
        from kg.rdf import new_graph

        graph = new_graph()
        graph.parse(str(path), format="nt")
        return cls(graph)

    def query(self, text: str, bindings: dict[str, Any] | None = None) -> SparqlResult:
        return run_query(self.graph, text, bindings)


class OxigraphEngine:
    """Embedded Oxigraph: a RocksDB folder, queried in Rust; results converted to rdflib terms.

    >>> engine = OxigraphEngine.load(generation / "graph.nt", generation / "oxigraph")   # doctest: +SKIP
    >>> engine = OxigraphEngine.open(generation / "oxigraph")                            # doctest: +SKIP
    """

    name = "oxigraph"

    def __init__(self, store) -> None:
        self.store = store
        self._prefixes = {prefix: str(namespace) for prefix, namespace in PREFIXES.items()}

    @classmethod
    def open(cls, folder: Path) -> "OxigraphEngine":
        """Open a loaded folder read-only (several processes may read it at once)."""
        ox = _pyoxigraph()
        folder = Path(folder)
        if not folder.is_dir():
            from kg.errors import StoreError

            raise StoreError(f"{folder}: no Oxigraph folder — load it with kg.engines.load_oxigraph "
                             "(or `oxigraph load --location DIR --file graph.nt`)")
        return cls(ox.Store.read_only(str(folder)))

    @classmethod
    def load(cls, ntriples: Path, folder: Path | None = None) -> "OxigraphEngine":
        """Bulk-load an N-Triples file into ``folder`` (None: a temporary in-memory store)."""
        store = load_oxigraph(ntriples, folder)
        return cls(store)

    def __len__(self) -> int:
        return len(self.store)

    def query(self, text: str, bindings: dict[str, Any] | None = None) -> SparqlResult:
        ox = _pyoxigraph()
        if bindings:
            text = bind_values(text, {k: _as_term(v) for k, v in bindings.items()})
        result = self._run(text)
        try:
            if isinstance(result, ox.QueryBoolean):
                return SparqlResult((), (), boolean=bool(result))
            if isinstance(result, ox.QueryTriples):
                graph = Graph()
                for triple in result:
                    graph.add((to_rdflib(triple.subject), to_rdflib(triple.predicate), to_rdflib(triple.object)))
                return SparqlResult((), (), graph=graph)
        except (OSError, ValueError, TypeError) as error:   # evaluation errors surface while iterating
            raise QueryError(f"SPARQL query failed: {error}") from None
        columns = tuple(v.value for v in result.variables)
        return SparqlResult(columns, solutions=OxigraphSolutions(result, lambda: self._run(text)))

    def _run(self, text: str):
        try:
            return self.store.query(text, prefixes=self._prefixes)
        except SyntaxError as error:
            raise QueryError(f"SPARQL syntax error: {error}") from None
        except (OSError, ValueError, TypeError) as error:
            raise QueryError(f"SPARQL query failed: {error}") from None


class OxigraphSolutions:
    """The solutions of a SELECT on Oxigraph, unread: converted row by row when read, or written out by
    Oxigraph's own serializers (``serialize``) without becoming Python objects at all.

    The first read takes the solutions the query started with; any later read runs the query again.
    """

    def __init__(self, solutions, rerun: Callable[[], Any]) -> None:
        self._unread = solutions
        self._rerun = rerun

    def terms(self) -> Iterator[tuple[Any, ...]]:
        """Rows of rdflib terms, as rdflib would return them."""
        return self._rows(_converter(to_rdflib))

    def plain(self) -> Iterator[tuple[Any, ...]]:
        """Rows of plain values (``kg.sparql.plain_value``), made without rdflib for strings and IRIs."""
        return self._rows(_plain_converter())

    def serialize(self, output: BinaryIO, fmt: str) -> None:
        """Oxigraph's serializer writes the solutions to ``output`` (fmt: one of kg.sparql.STANDARD_FORMATS)."""
        ox = _pyoxigraph()
        try:
            self._take().serialize(output, getattr(ox.QueryResultsFormat, STANDARD_FORMATS[fmt]))
        except (OSError, ValueError, TypeError) as error:
            raise QueryError(f"SPARQL query failed: {error}") from None

    def _take(self):
        solutions, self._unread = self._unread, None
        return solutions if solutions is not None else self._rerun()

    def _rows(self, convert: Callable[[Any], Any]) -> Iterator[tuple[Any, ...]]:
        solutions = self._take()
        try:
            for solution in solutions:
                yield tuple(map(convert, solution))
        except (OSError, ValueError, TypeError) as error:   # evaluation errors surface while iterating
            raise QueryError(f"SPARQL query failed: {error}") from None


def load_oxigraph(ntriples: Path, folder: Path | None = None):
    """Bulk-load ``ntriples`` into a new Oxigraph store at ``folder`` (created; must not hold a store).

    Uses ``Store.bulk_load`` (parallel parsing, writes SST files directly, not transactional): fit for
    a fresh store inside a generation that is published only when the build succeeds. Returns the
    (read-write) pyoxigraph Store; drop it before publishing the folder.
    """
    ox = _pyoxigraph()
    if folder is not None:
        folder = Path(folder)
        if folder.exists() and any(folder.iterdir()):
            from kg.errors import StoreError

            raise StoreError(f"{folder}: not empty — bulk loading needs a fresh folder")
    store = ox.Store(str(folder)) if folder is not None else ox.Store()
    store.bulk_load(path=str(ntriples), format=ox.RdfFormat.N_TRIPLES)
    if folder is not None:
        store.optimize()
        store.flush()
    return store


def open_engine(generation: Path, engine: str = "auto", *, graph: Graph | None = None) -> SparqlEngine:
    """The engine for a store generation: "rdflib", "oxigraph", or "auto".

    "auto" is the generation's Oxigraph database whenever it has one (every store built since Oxigraph
    came into every generation), rdflib otherwise. "rdflib" uses ``graph`` if given, else parses
    graph.nt; "oxigraph" without an ``oxigraph/`` folder loads graph.nt into memory.
    """
    generation = Path(generation)
    folder = generation / OXIGRAPH_FOLDER
    if engine == "auto":
        engine = "oxigraph" if folder.is_dir() else "rdflib"
    if engine == "oxigraph":
        return OxigraphEngine.open(folder) if folder.is_dir() else OxigraphEngine.load(generation / "graph.nt")
    if engine == "rdflib":
        return RdflibEngine(graph) if graph is not None else RdflibEngine.from_ntriples(generation / "graph.nt")
    raise QueryError(f"unknown SPARQL engine {engine!r} — use one of: auto, {', '.join(ENGINES)}")


# ---- terms ------------------------------------------------------------------------------------------


def to_rdflib(term) -> Any:
    """A pyoxigraph term as the rdflib term rdflib itself would return (None stays None)."""
    if term is None:
        return None
    kind = type(term).__name__
    if kind == "NamedNode":
        return URIRef(term.value)
    if kind == "Literal":
        if term.language:
            return Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        return Literal(term.value) if datatype == _XSD_STRING else Literal(term.value, datatype=URIRef(datatype))
    if kind == "BlankNode":
        return BNode(term.value)
    raise QueryError(f"unsupported RDF term in a result: {term!r} (RDF-star triples are not used by tsunagari)")


_XSD_STRING = str(XSD.string)


def _converter(make: Callable[[Any], Any]):
    """``make`` with a cache: result columns repeat values (labels, years, codes) and making an rdflib
    Literal costs more than looking one up."""
    cache: dict[Any, Any] = {}

    def convert(term):
        if term is None:
            return None
        found = cache.get(term)
        if found is None:
            found = cache[term] = make(term)
        return found

    return convert


def _plain_converter():
    """pyoxigraph term -> ``plain_value(to_rdflib(term))``: IRIs, strings and language strings straight from
    Oxigraph (most cells, often all); other literals through rdflib, cached (numbers, dates, booleans)."""
    ox = _pyoxigraph()
    named, literal = ox.NamedNode, ox.Literal
    string = ox.NamedNode(_XSD_STRING)
    typed = _converter(lambda term: plain_value(to_rdflib(term)))

    def convert(term):
        kind = type(term)
        if kind is named:
            return term.value
        if kind is literal and (term.language or term.datatype == string):
            return term.value
        return typed(term)

    return convert


def _as_term(value: Any) -> URIRef | Literal:
    """A binding as an rdflib term, as kg.sparql.run_query makes it."""
    return value if isinstance(value, (URIRef, Literal)) else Literal(value)


# ---- parameters ---------------------------------------------------------------------------------------

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
    ox = _pyoxigraph()
    try:
        rows = list(ox.Store().query(f"SELECT ?value WHERE {{ VALUES ?value {{ {text} }} }}"))
    except (SyntaxError, ValueError, OSError):
        return None
    return rows[0]["value"] if len(rows) == 1 else None


def _as_oxigraph(term: URIRef | Literal):
    """The pyoxigraph term for an rdflib term (None if pyoxigraph refuses it)."""
    ox = _pyoxigraph()
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


def _pyoxigraph():
    try:
        import pyoxigraph
    except ImportError as error:
        raise QueryError(INSTALL_HINT) from error
    return pyoxigraph


__all__ = ["SparqlEngine", "RdflibEngine", "OxigraphEngine", "open_engine", "load_oxigraph", "bind_values", "sparql_term",
           "to_rdflib", "OxigraphSolutions", "ENGINES",
           "OXIGRAPH_FOLDER"]
