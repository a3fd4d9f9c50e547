"""The compiled checks of a stored Oxigraph database shared among worker processes.

pyoxigraph holds the GIL while a query's answer is read, so threads do not help; processes each open the
database read-only (RocksDB allows several readers) and take the next check when they finish one. The
rows are sorted and deduplicated at the end: the result is the one ``validate_store`` gives.
"""
from __future__ import annotations

import multiprocessing
from pathlib import Path

from kg.validate.run import Violation, run_checks, store_terms

# The worker's open database, its checks and terms: set once per worker process by the pool's initializer.
_worker: tuple | None = None


def run_in_processes(folder: Path, workers: int) -> tuple[list[Violation], list[Violation]]:
    """(violations, warnings) of every check of kg/data/shapes.ttl on the Oxigraph database in ``folder``,
    run by ``workers`` processes; sorted, without repeats."""
    import pyoxigraph as ox

    from kg.validate import shape_checks

    checks = shape_checks(ox.Store.read_only(str(folder)))
    # SPARQL-based checks scan most of the graph: started first, none of them is left to run alone at the end.
    order = sorted(range(len(checks)), key=lambda i: ("sh:sparql" not in checks[i].source, i))
    # fork: a child needs no import of the caller's main module (a script without a __main__ guard).
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    violations: set[Violation] = set()
    warnings: set[Violation] = set()
    with context.Pool(workers, initializer=_open, initargs=(str(folder),)) as pool:
        for found, warned in pool.imap_unordered(_run, order, chunksize=1):
            violations.update(found)
            warnings.update(warned)
    return sorted(violations), sorted(warnings)


def _open(folder: str) -> None:
    import pyoxigraph as ox

    from kg.validate import shape_checks

    global _worker
    store = ox.Store.read_only(folder)
    _worker = (store, shape_checks(store), store_terms(store))


def _run(index: int) -> tuple[list[Violation], list[Violation]]:
    store, checks, terms = _worker
    return run_checks(store, [checks[index]], terms)
