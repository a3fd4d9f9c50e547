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
value into the query instead (``kg.parameters.bind_values``, re-exported here), as a term that
``sparql_term`` has escaped and read back through Oxigraph's parser: a value is one term, whatever
characters it holds.
"""
from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Protocol, runtime_checkable

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import XSD

from kg.guard import MAX_NESTING, nesting_depth
from kg.parameters import bind_values, sparql_term
from kg.sparql import STANDARD_FORMATS, QueryError, QuerySyntaxError, SparqlResult, plain_value, run_query
from kg.store import GRAPH, OXIGRAPH
from kg.tsv_terms import tsv_rows, tsv_term
from kg.vocab import PREFIXES

OXIGRAPH_FOLDER = OXIGRAPH             # the name of a generation's Oxigraph folder (kg.store owns it)
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
    """Embedded Oxigraph: a RocksDB folder, queried in Rust; answers converted to Python only when read.

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
        depth = nesting_depth(text)
        if depth > MAX_NESTING:        # deeper, Oxigraph's recursive parser can overflow the stack: a crash
            raise QueryError(f"the query nests {depth:,} levels deep (brackets and '!'); the limit is "
                             f"{MAX_NESTING} — write it flatter")
        try:
            return self.store.query(text, prefixes=self._prefixes)
        except SyntaxError as error:
            raise QuerySyntaxError(str(error)) from None
        except (OSError, ValueError, TypeError) as error:
            raise QueryError(f"SPARQL query failed: {error}") from None


class OxigraphSolutions:
    """The solutions of a SELECT on Oxigraph, unread: written out by Oxigraph's own serializers
    (``serialize``) without becoming Python objects at all, or read back from its TSV as rows.

    The first read takes the solutions the query started with; any later read runs the query again.
    """

    def __init__(self, solutions, rerun: Callable[[], Any]) -> None:
        self._unread = solutions
        self._rerun = rerun

    def terms(self) -> Iterator[tuple[Any, ...]]:
        """Rows of rdflib terms, as rdflib would return them."""
        return self._rows(tsv_term)

    def plain(self) -> Iterator[tuple[Any, ...]]:
        """Rows of plain values (``kg.sparql.plain_value``): IRIs and strings without making rdflib terms."""
        return self._rows(_plain_value)

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

    def _rows(self, make: Callable[[str], Any]) -> Iterator[tuple[Any, ...]]:
        # Oxigraph writes the answer as TSV in Rust, into a file so that memory stays flat; reading the
        # text back costs half of asking pyoxigraph for each cell's parts (kg.tsv_terms).
        with tempfile.TemporaryFile() as buffer:
            self.serialize(buffer, "tsv")
            buffer.seek(0)
            try:
                yield from tsv_rows(io.TextIOWrapper(buffer, encoding="utf-8", newline="\n"), make)
            except ValueError as error:
                raise QueryError(f"SPARQL answer not read: {error}") from None


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
    folder = generation / OXIGRAPH
    if engine == "auto":
        engine = "oxigraph" if folder.is_dir() else "rdflib"
    if engine == "oxigraph":
        return OxigraphEngine.open(folder) if folder.is_dir() else OxigraphEngine.load(generation / GRAPH)
    if engine == "rdflib":
        return RdflibEngine(graph) if graph is not None else RdflibEngine.from_ntriples(generation / GRAPH)
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


def _plain_value(cell: str) -> Any:
    """A TSV cell as ``plain_value(tsv_term(cell))``; IRIs and plain or language strings straight from the text."""
    if cell.startswith("<") and not cell.startswith("<<"):     # "<<": an RDF-star triple, refused by tsv_term
        return cell[1:-1]
    if cell[0] == '"' and "\\" not in cell:
        end = cell.rindex('"')
        if end == len(cell) - 1 or cell[end + 1] == "@":
            return cell[1:end]
    return plain_value(tsv_term(cell))


def _as_term(value: Any) -> URIRef | Literal:
    """A binding as an rdflib term, as kg.sparql.run_query makes it."""
    return value if isinstance(value, (URIRef, Literal)) else Literal(value)


def _pyoxigraph():
    try:
        import pyoxigraph
    except ImportError as error:
        raise QueryError(INSTALL_HINT) from error
    return pyoxigraph


__all__ = ["SparqlEngine", "RdflibEngine", "OxigraphEngine", "open_engine", "load_oxigraph", "bind_values", "sparql_term",
           "to_rdflib", "OxigraphSolutions", "ENGINES",
           "OXIGRAPH_FOLDER"]
