"""Bulk-load the external sort's runs into Oxigraph in a second process while the build reads on.

    >>> with RunLoader(generation.oxigraph_folder) as loader:     # doctest: +SKIP
    ...     sorter.on_run = loader.add; ...; loader.finish()

Each run the sorter spills (kg.linesort) is hard-linked for the loader and bulk-loaded as soon as it is
written, so on two cores the load overlaps reading and normalising; Oxigraph keeps one copy of a triple
met in several runs. After ``end`` the loader loads the last run and compacts the database
(``optimize``) while the build merges graph.nt; ``finish`` waits for it: the folder then holds the
triples one bulk load of the sorted graph.nt gives.

The loader is a fresh interpreter (``python -m kg.runloader FOLDER``), not a fork: RocksDB's background
threads do not survive a fork, and nothing of the caller's main module runs. Run files are named on its
stdin, each name ended by a NUL byte, the one byte a POSIX path cannot hold (a newline it can).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

from kg.errors import StoreError


class RunLoader:
    """A loader process fed with N-Triples files; started by the first ``add``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "RunLoader":
        return self

    def __exit__(self, *exc) -> None:
        self.abort()                  # finished: nothing to do; failed: the loader is stopped

    @property
    def started(self) -> bool:
        """Whether a run was handed over (the process exists)."""
        return self.process is not None

    def add(self, run: Path) -> None:
        """Load ``run`` (an N-Triples file) in the loader process; the caller may delete its name at once."""
        if self.process is None:
            self.process = subprocess.Popen([sys.executable, "-m", "kg.runloader", str(self.folder)],
                                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE, env=child_env())
        link = run.with_name(f"{run.name}.load")
        os.link(run, link)
        stdin = self.process.stdin
        assert stdin is not None                  # opened with stdin=PIPE
        stdin.write(os.fsencode(link) + b"\0")
        stdin.flush()

    def end(self) -> None:
        """No more runs: the loader loads the last ones and compacts the database while the caller goes on
        (the build writes graph.nt meanwhile); ``finish`` waits for it."""
        if self.process is not None and self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()

    def finish(self) -> None:
        """Wait until every run is loaded and the database compacted; raises StoreError if loading failed."""
        if self.process is None:
            return
        self.end()
        assert self.process.stderr is not None           # opened with stderr=PIPE; the loader writes one line
        errors = self.process.stderr.read()
        self.process.stderr.close()
        code, self.process = self.process.wait(), None
        if code != 0:
            last = errors.decode("utf-8", "replace").strip().splitlines()[-1:]
            raise StoreError(f"{self.folder}: loading the triples into Oxigraph failed: "
                             f"{last[0] if last else f'exit code {code}'}; rebuild, or check disk space")

    def abort(self) -> None:
        """Stop the loader if it still runs (the build failed; its folder is thrown away)."""
        if self.process is not None:
            self.process.kill()
            self.process.communicate()
            self.process = None


def child_env() -> dict[str, str]:
    """The environment of a helper interpreter: this one's, with the folder ``kg`` is imported from first
    on its path."""
    here = str(Path(__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": here + (os.pathsep + path if path else "")}


def release_memory() -> None:
    """Give the heap that was freed back to the operating system (glibc keeps it otherwise: a validation
    worker stayed at the size of its largest query's hash tables, the build at that of its reading).
    Does nothing where the C library has no ``malloc_trim``."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _main(folder: str) -> None:
    import pyoxigraph as ox

    store = ox.Store(folder)
    for path in _names(sys.stdin.fileno()):
        store.bulk_load(path=path, format=ox.RdfFormat.N_TRIPLES)
        os.unlink(path)
    store.optimize()
    store.flush()


def _names(fd: int) -> Iterator[str]:
    """The NUL-terminated file names read from ``fd``, each as soon as it is complete."""
    pending = b""
    while chunk := os.read(fd, 1 << 16):
        *names, pending = (pending + chunk).split(b"\0")
        yield from (os.fsdecode(name) for name in names)


if __name__ == "__main__":
    try:
        _main(sys.argv[1])
    except Exception as error:        # the parent raises it as a StoreError
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)


__all__ = ["RunLoader", "child_env", "release_memory"]
