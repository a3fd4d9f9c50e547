"""SPARQL engines behind one tiny interface: rdflib in memory, or Oxigraph embedded on disk.

    >>> from kg.engines import open_engine                                # doctest: +SKIP
    >>> engine = open_engine(store.generation(), "oxigraph")              # doctest: +SKIP
    >>> engine.query("SELECT (COUNT(*) AS ?n) WHERE { ?p a schema:Project }").records()   # doctest: +SKIP
    [{'n': 77}]

Both return the same ``kg.sparql.SparqlResult``: rows of rdflib terms (a string literal without a
datatype, as rdflib reads N-Triples), so ``records()``, ``format()`` and ``to_dataframe()`` give
the same values whichever engine ran the query.

rdflib holds the graph in Python objects (~1.5 KB per triple) and evaluates in Python; it is the
reference and fine up to ~10^5 projects. Oxigraph (PyPI ``pyoxigraph``, Rust, RocksDB) is bulk-loaded
once from ``graph.nt`` into the generation's ``oxigraph/`` folder and opened read-only; it answers the
same queries 1-3 orders of magnitude faster and keeps memory flat (see README "Scale").

Parameters (``bindings``) mean what rdflib's ``initBindings`` mean: the variable holds that value
everywhere in the query, subqueries included. Oxigraph's own ``substitutions=`` (SPARQL SEP-0007)
does not reach into subqueries, so the Oxigraph engine substitutes the constant into the query text
instead (``BOUND(?v)`` becomes ``true``, a projected ``?v`` becomes ``(value AS ?v)``).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import XSD

from kg.sparql import QueryError, SparqlResult, run_query
from kg.vocab import PREFIXES

OXIGRAPH_FOLDER = "oxigraph"
ENGINES = ("rdflib", "oxigraph")
AUTO_OXIGRAPH_PROJECTS = 5_000   # "auto" uses Oxigraph above this (rdflib queries take seconds by then)
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
            text = bind_constants(text, {k: _as_term(v) for k, v in bindings.items()})
        try:
            result = self.store.query(text, prefixes=self._prefixes)
        except SyntaxError as error:
            raise QueryError(f"SPARQL syntax error: {error}") from None
        except (OSError, ValueError, TypeError) as error:
            raise QueryError(f"SPARQL query failed: {error}") from None
        try:
            if isinstance(result, ox.QueryBoolean):
                return SparqlResult((), (), boolean=bool(result))
            if isinstance(result, ox.QueryTriples):
                graph = Graph()
                for triple in result:
                    graph.add((to_rdflib(triple.subject), to_rdflib(triple.predicate), to_rdflib(triple.object)))
                return SparqlResult((), (), graph=graph)
            columns = tuple(v.value for v in result.variables)
            rows = tuple(tuple(to_rdflib(solution[i]) for i in range(len(columns))) for solution in result)
        except (OSError, ValueError, TypeError) as error:   # evaluation errors surface while iterating
            raise QueryError(f"SPARQL query failed: {error}") from None
        return SparqlResult(columns, rows)


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

    "auto" keeps rdflib (the reference) for stores up to ``AUTO_OXIGRAPH_PROJECTS`` projects or when
    ``graph`` is already in memory, and uses the generation's Oxigraph folder above that, if it has one.
    """
    generation = Path(generation)
    folder = generation / OXIGRAPH_FOLDER
    if engine == "auto":
        large = _projects(generation) > AUTO_OXIGRAPH_PROJECTS
        engine = "oxigraph" if large and graph is None and folder.is_dir() and _has_pyoxigraph() else "rdflib"
    if engine == "oxigraph":
        # Small stores have no Oxigraph folder (the build makes one above the threshold): load in memory.
        return OxigraphEngine.open(folder) if folder.is_dir() else OxigraphEngine.load(generation / "graph.nt")
    if engine == "rdflib":
        return RdflibEngine(graph) if graph is not None else RdflibEngine.from_ntriples(generation / "graph.nt")
    raise QueryError(f"unknown SPARQL engine {engine!r} — use one of: auto, {', '.join(ENGINES)}")


def _projects(generation: Path) -> float:
    """Projects in a generation by its manifest (infinite when there is no manifest to tell)."""
    import json

    try:
        manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
        return int(manifest["counts"]["projects"])
    except (OSError, ValueError, KeyError, TypeError):
        return float("inf")


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


def _as_term(value: Any) -> URIRef | Literal:
    """A binding as an rdflib term, as kg.sparql.run_query makes it."""
    return value if isinstance(value, (URIRef, Literal)) else Literal(value)


# ---- parameters ---------------------------------------------------------------------------------------

# One SPARQL token we must not look inside, or a variable. Order matters: long strings first.
_TOKEN = re.compile(r'''
    (?P<string>"""(?:[^"\\]|\\.|"(?!""))*"""|'\''\''(?:[^'\\]|\\.|'(?!''))*'\''\''|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<iri><[^<>"{}|^`\\\s]*>)
  | (?P<comment>\#[^\n]*)
  | (?P<var>[?$][A-Za-z_][A-Za-z0-9_]*)
''', re.VERBOSE)
_BOUND = re.compile(r"BOUND\s*\(\s*$", re.IGNORECASE)
_AS = re.compile(r"\bAS\s*$", re.IGNORECASE)
_CLOSE = re.compile(r"^\s*\)")


def bind_constants(text: str, bindings: dict[str, URIRef | Literal]) -> str:
    """Substitute fixed values for variables in a query's text, with rdflib ``initBindings`` meaning.

    ``BOUND(?v)`` becomes ``true``; ``?v`` right after ``AS`` (a projection target) stays; a bare
    ``?v`` in a SELECT clause becomes ``(value AS ?v)``, in GROUP BY / ORDER BY ``(value)``; every
    other ``?v`` or ``$v`` becomes the value, in subqueries too. Strings, IRIs and comments are left
    alone.

    >>> bind_constants('SELECT ?x WHERE { ?s ?p ?x FILTER(!BOUND(?x)) }', {"x": Literal("a")})
    'SELECT ("a" AS ?x) WHERE { ?s ?p "a" FILTER(!true) }'
    """
    out: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        name = match.group("var")
        if name is None or name[1:] not in bindings:
            continue
        before = text[position:match.start()]
        value = bindings[name[1:]].n3()
        if _BOUND.search(before) and _CLOSE.match(text[match.end():]):
            before = _BOUND.sub("", before)
            closing = _CLOSE.match(text[match.end():])
            out += [before, "true"]
            position = match.end() + closing.end()
            continue
        out.append(before)
        clause = _clause(text, match.start())
        if _AS.search(before):
            out.append(name)
        elif clause == "projection":
            out.append(f"({value} AS {name})")
        elif clause == "modifier":
            out.append(f"({value})")
        else:
            out.append(value)
        position = match.end()
    out.append(text[position:])
    return "".join(out)


_CLAUSE = re.compile(r"\bSELECT\b|\bWHERE\b|\bGROUP\s+BY\b|\bORDER\s+BY\b|\bHAVING\b|[{}]", re.IGNORECASE)


def _clause(text: str, at: int) -> str:
    """Where position ``at`` lies: "projection" (a SELECT list, outside parentheses), "modifier"
    (GROUP BY / ORDER BY, where a constant needs parentheses) or "pattern" (anything else)."""
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


def _has_pyoxigraph() -> bool:
    try:
        import pyoxigraph  # noqa: F401
    except ImportError:
        return False
    return True


__all__ = ["SparqlEngine", "RdflibEngine", "OxigraphEngine", "open_engine", "load_oxigraph", "bind_constants",
           "to_rdflib", "ENGINES", "OXIGRAPH_FOLDER"]
