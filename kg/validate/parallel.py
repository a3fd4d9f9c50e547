"""The compiled checks of a stored Oxigraph database shared among worker processes.

pyoxigraph holds the GIL while a query's answer is read, so threads do not help; each worker is a fresh
interpreter (``python -m kg.validate.parallel FOLDER``: RocksDB does not survive a fork) that opens the
database read-only, reads a check's number on its stdin and answers with that check's rows as one JSON
line. The parent hands the next check to whichever worker answers first. The rows are sorted and
deduplicated at the end: the result is the one ``validate_store`` gives.
"""
from __future__ import annotations

import json
import selectors
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, cast

from kg.errors import ValidationError
from kg.validate.run import Violation, run_checks, store_terms


def run_in_processes(folder: Path, workers: int,
                     no_blank_nodes: bool = False) -> tuple[list[Violation], list[Violation]]:
    """(violations, warnings) of every check of kg/data/shapes.ttl on the Oxigraph database in ``folder``
    (``no_blank_nodes``: as ``kg.validate.shape_checks`` says), run by ``workers`` processes; sorted,
    without repeats."""
    import pyoxigraph as ox

    from kg.validate import shape_checks

    checks = shape_checks(ox.Store.read_only(str(folder)), no_blank_nodes)
    # SPARQL-based checks scan most of the graph: started first, none is left to run alone at the end.
    todo = sorted(range(len(checks)), key=lambda i: ("sh:sparql" not in checks[i].source, i), reverse=True)
    violations: set[Violation] = set()
    warnings: set[Violation] = set()
    procs = [_Worker(folder, no_blank_nodes) for _ in range(min(workers, len(checks)))]
    try:
        with selectors.DefaultSelector() as selector:
            for proc in procs:
                selector.register(proc.stdout, selectors.EVENT_READ, proc)
                proc.give(todo)
            busy = len(procs)
            while busy:
                for key, _ in selector.select():
                    proc = key.data
                    line = proc.stdout.readline()
                    if not line:
                        raise ValidationError(f"{folder}: a validation worker failed: {proc.failure()}; "
                                              "run tsunagari validate again (if it was killed: with more memory free)")
                    found, warned = json.loads(line)
                    violations.update(Violation(*v) for v in found)
                    warnings.update(Violation(*w) for w in warned)
                    if not proc.give(todo):
                        selector.unregister(proc.stdout)
                        busy -= 1
    finally:
        for proc in procs:
            proc.close()
    return sorted(violations), sorted(warnings)


class _Worker:
    """One worker process and its three pipes."""

    def __init__(self, folder: Path, no_blank_nodes: bool) -> None:
        from kg.runloader import child_env

        command = [sys.executable, "-m", "kg.validate.parallel", str(folder), str(int(no_blank_nodes))]
        self.process = subprocess.Popen(command,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env=child_env(), text=True)
        pipes = (self.process.stdin, self.process.stdout, self.process.stderr)
        assert all(pipe is not None for pipe in pipes)          # opened with PIPE
        self.stdin, self.stdout, self.stderr = cast("tuple[IO[str], IO[str], IO[str]]", pipes)

    def give(self, todo: list[int]) -> bool:
        """The next check, or the end of the input when none is left (False). A worker that died meanwhile
        is found when its output ends (``failure`` says why)."""
        if not todo:
            self.stdin.close()
            return False
        try:
            self.stdin.write(f"{todo.pop()}\n")
            self.stdin.flush()
        except BrokenPipeError:
            pass
        return True

    def failure(self) -> str:
        """Why the worker stopped answering: its last error line, else the signal or exit code."""
        last = self.stderr.read().strip().splitlines()[-1:]
        code = self.process.wait()
        if last:
            return last[0]
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}, no message"

    def close(self) -> None:
        if self.process.poll() is None and not self.stdin.closed:
            self.process.kill()                       # stopped by an error: not every check was answered
        for pipe in (self.stdin, self.stdout, self.stderr):
            try:
                pipe.close()
            except BrokenPipeError:                   # what was written to a dead worker is not flushed
                pass
        self.process.wait()


def _worker(folder: str, no_blank_nodes: str) -> None:
    import pyoxigraph as ox

    from kg.runloader import release_memory
    from kg.validate import shape_checks

    store = ox.Store.read_only(folder)
    checks, terms = shape_checks(store, no_blank_nodes == "1"), store_terms(store)
    for line in sys.stdin:
        found, warned = run_checks(store, [checks[int(line)]], terms)
        print(json.dumps([found, warned], ensure_ascii=False), flush=True)
        release_memory()           # the check's hash tables, before the next check and while the other works


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2])
