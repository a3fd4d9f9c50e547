"""SHACL validation against kg/data/shapes.ttl: every shape, every node, at every size.

The shapes are compiled into SPARQL queries that return the violations (``kg.validate.compiler``)
and run on Oxigraph: the store's own database, or an in-memory copy of an rdflib graph. The results
are the ones pyshacl reports on the whole graph, with its wording (the tests compare the two).

    >>> from kg.validate import validate_store, validate_graph, raise_for      # doctest: +SKIP
    >>> result = validate_store(pyoxigraph.Store.read_only("store/gen-…/oxigraph"))   # doctest: +SKIP
    >>> result.conforms, result.violations[:1]                                 # doctest: +SKIP
    (True, [])
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from rdflib import Graph

from kg.errors import ValidationError
from kg.validate.compiler import Check, compile_shapes
from kg.validate.run import StoreSizes, Violation, oxigraph_of, run_checks, store_terms, subclasses

SHAPES_FILE = "data/shapes.ttl"
ONTOLOGY_FILE = "data/ontology.ttl"
SHOWN_IN_ERROR = 5
PARALLEL_FROM_MB = 64      # a database this big is checked by several processes (starting them costs ~0.1 s)
# Its checks scan every triple (a third of the CPU of a validation); a caller that has seen every loaded
# N-Triples line without "_:" knows their answer (``no_blank_nodes``).
BLANK_NODE_SHAPE = "tgsh:NoBlankNodeShape"


@dataclass(frozen=True)
class ValidationResult:
    """The outcome of a validation: sorted violations and warnings, and a text report of both."""

    conforms: bool
    violations: list[Violation]
    text: str
    warnings: list[Violation] = field(default_factory=list)   # sh:Warning results: reported, not fatal


@lru_cache(maxsize=1)
def shapes_graph() -> Graph:
    """The SHACL shapes shipped with the package (parsed once; do not modify the returned graph)."""
    return _package_graph(SHAPES_FILE)


@lru_cache(maxsize=1)
def ontology_graph() -> Graph:
    """The tsunagari ontology (tg: terms) shipped with the package (parsed once; do not modify)."""
    return _package_graph(ONTOLOGY_FILE)


def _package_graph(name: str) -> Graph:
    graph = Graph()
    graph.parse(data=resources.files("kg").joinpath(name).read_text(encoding="utf-8"), format="turtle")
    return graph


def shape_checks(store, no_blank_nodes: bool = False) -> list[Check]:
    """The queries that check kg/data/shapes.ttl on ``store`` (its class hierarchy decides sh:class);
    with ``no_blank_nodes``, without those of tgsh:NoBlankNodeShape (see ``validate_folder``).

    Raises kg.errors.ShapesError when the shapes use a construct the compiler does not support.
    """
    checks = compile_shapes(shapes_graph(), subclasses(store), StoreSizes(store))
    if no_blank_nodes:
        checks = [check for check in checks if not check.source.startswith(f"{BLANK_NODE_SHAPE} ")]
    return checks


def validate_store(store) -> ValidationResult:
    """Check every node of an Oxigraph store against kg/data/shapes.ttl; never raises for a bad graph.

    Example:
        >>> import pyoxigraph                                                     # doctest: +SKIP
        >>> result = validate_store(pyoxigraph.Store.read_only(str(generation / "oxigraph")))  # doctest: +SKIP
        >>> print(result.text)                                                    # doctest: +SKIP

    Args:
        store: an open ``pyoxigraph.Store`` (read-only is enough); its default graph is checked.

    Returns:
        A ValidationResult: ``conforms`` (no sh:Violation result), ``violations`` and ``warnings``
        sorted by (focus, path, message), and ``text``, a report of both.

    Raises:
        kg.errors.ShapesError: the shapes use a SHACL construct the compiler does not support.
    """
    violations, warnings = run_checks(store, shape_checks(store), store_terms(store))
    return result_of(violations, warnings)


def validate_folder(folder: Path, workers: int | None = None, *, no_blank_nodes: bool = False) -> ValidationResult:
    """``validate_store`` on the Oxigraph database in ``folder`` (a generation's ``oxigraph/``), its checks
    shared among ``workers`` processes; the same result, sooner on several cores.

    Example:
        >>> validate_folder(generation / "oxigraph").conforms                  # doctest: +SKIP
        True

    Args:
        folder: an Oxigraph database folder, closed by every writer (read-only readers are fine).
        workers: processes; None: one per core (at most 4) from ``PARALLEL_FROM_MB`` of database on,
            else 1 (checked in this process).
        no_blank_nodes: the caller has read every N-Triples line loaded into the database and none holds
            "_:", the only way N-Triples writes a blank node (``kg.build`` does, as it merges graph.nt): the
            checks of tgsh:NoBlankNodeShape, a scan of every triple, are known to find nothing and not run.
    """
    import pyoxigraph as ox

    from kg.validate.parallel import run_in_processes

    folder = Path(folder)
    if workers is None:
        size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) / 1e6
        workers = min(os.cpu_count() or 1, 4) if size >= PARALLEL_FROM_MB else 1
    if workers <= 1:
        store = ox.Store.read_only(str(folder))
        return result_of(*run_checks(store, shape_checks(store, no_blank_nodes), store_terms(store)))
    return result_of(*run_in_processes(folder, workers, no_blank_nodes))


def validate_graph(graph: Graph) -> ValidationResult:
    """Check an rdflib graph against the SHACL shapes; never raises for a non-conforming graph.

    The graph is copied into an in-memory Oxigraph store and checked as ``validate_store`` does; it
    is not modified, and no inference is run (the shapes are written to need none).

    Example:
        >>> result = validate_graph(graph)                          # doctest: +SKIP
        >>> [str(v) for v in result.violations][:3]                 # doctest: +SKIP

    Args:
        graph: the graph ``kg.rdf.to_graph`` built (or one loaded from a store).

    Returns:
        A ValidationResult, as ``validate_store`` gives; messages write IRIs with ``graph``'s prefixes.
    """
    store = oxigraph_of(graph)
    violations, warnings = run_checks(store, shape_checks(store), store_terms(store, graph.namespace_manager))
    return result_of(violations, warnings)


def result_of(violations: list[Violation], warnings: list[Violation]) -> ValidationResult:
    """A ValidationResult with its text report."""
    conforms = not violations
    head = (f"SHACL (kg/data/shapes.ttl): the graph {'conforms' if conforms else 'does not conform'} — "
            f"{_count(len(violations), 'violation')}, {_count(len(warnings), 'warning')}")
    lines = [head]
    for title, found in (("violations", violations), ("warnings", warnings)):
        if found:
            lines += [f"{title} (node, path: message):"] + [f"  - {v}" for v in found]
    return ValidationResult(conforms, violations, "\n".join(lines), warnings)


def raise_for(result: ValidationResult) -> None:
    """Raise kg.errors.ValidationError listing the first violations when a result does not conform.

    Example:
        >>> raise_for(validate_graph(graph))                        # doctest: +SKIP
    """
    if result.conforms:
        return
    count = len(result.violations)
    lines = [f"  - {v}" for v in result.violations[:SHOWN_IN_ERROR]]
    if count > SHOWN_IN_ERROR:
        lines.append(f"  ... and {count - SHOWN_IN_ERROR} more (ValidationResult.text has them all)")
    raise ValidationError(
        f"the graph breaks {count} SHACL constraint{'s' if count != 1 else ''} of kg/data/shapes.ttl:\n"
        + "\n".join(lines)
        + "\nfix the records, or kg/rdf.py that wrote these triples (ValidationResult.text lists every result)")


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' if n != 1 else ''}"


__all__ = ["ValidationResult", "Violation", "validate_store", "validate_folder", "validate_graph", "raise_for",
           "shapes_graph", "ontology_graph", "shape_checks"]
