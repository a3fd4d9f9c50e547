"""An external sort for N-Triples lines: sorted runs spilled to disk, then one merge.

    >>> sorter = LineSorter(scratch_folder, run_lines=1_000_000)      # doctest: +SKIP
    >>> sorter.add(lines); ...                                        # doctest: +SKIP
    >>> count, sha256 = sorter.merge(generation / "graph.nt")         # doctest: +SKIP

Lines are sorted by their UTF-8 bytes (the order of code points) and duplicates dropped, so the same
triples always give the same file. Memory holds one run; the merge reads every run at once, a line at a
time.
"""
from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from pathlib import Path

from kg.progress import Progress

RUN_LINES = 1_000_000      # lines sorted in memory before a run is spilled (~0.3 GB of Python strings)
WRITE_CHUNK = 1 << 20


class LineSorter:
    """Collects text lines (each ending in "\\n") in any order; ``merge`` writes them sorted, once each."""

    def __init__(self, folder: Path, run_lines: int = RUN_LINES) -> None:
        self.folder = Path(folder)
        self.run_lines = run_lines
        self.lines: list[bytes] = []
        self.runs: list[Path] = []
        self.on_run: Callable[[Path], None] | None = None    # told of each run once written (kg.runloader)
        # Whether a merged line holds "_:", as N-Triples writes every blank node (kg.build then knows there is none).
        self.may_have_blank_nodes = False

    def add(self, lines: Iterable[str]) -> None:
        """More lines; a run is spilled when enough have gathered."""
        # Kept as UTF-8 bytes: smaller than str, and byte order is what the file is sorted by.
        self.lines.extend("".join(lines).encode("utf-8").splitlines(keepends=True))
        if len(self.lines) >= self.run_lines:
            self.spill()

    def spill(self) -> None:
        """Sort the lines in memory and write them, each once, as one run."""
        if not self.lines:
            return
        self.lines.sort()
        run = self.folder / f"run-{len(self.runs):05d}.nt"
        with open(run, "wb") as f:
            f.writelines(dict.fromkeys(self.lines))        # sorted, so the first of equal lines is kept
        self.runs.append(run)
        if self.on_run is not None:
            self.on_run(run)
        self.lines = []

    def merge(self, out: Path, progress: Progress | None = None, total: int | None = None) -> tuple[int, str]:
        """Write every line to ``out``, sorted and deduplicated; returns (lines, SHA-256 of the file).

        The runs are removed. One run is written as it is; several are merged by a heap.
        """
        self.spill()
        digest = hashlib.sha256()
        count = 0
        with ExitStack() as stack, open(out, "wb") as f, \
                (progress or Progress(False)).bar("sort", total=total, unit="triples") as bar:
            files = [stack.enter_context(open(run, "rb", buffering=WRITE_CHUNK)) for run in self.runs]
            merged = heapq.merge(*files) if len(files) > 1 else (files[0] if files else iter(()))
            previous = None
            buffer: list[bytes] = []
            for line in merged:
                if line == previous:
                    continue
                previous = line
                buffer.append(line)
                if len(buffer) >= 50_000:
                    count += self._write(f, digest, buffer, bar)
                    buffer = []
            count += self._write(f, digest, buffer, bar)
            if total:
                bar.update(max(total - count, 0))       # the repeats dropped
        for run in self.runs:
            run.unlink()
        self.runs = []
        return count, digest.hexdigest()

    def _write(self, f, digest, buffer: list[bytes], bar) -> int:
        chunk = b"".join(buffer)
        f.write(chunk)
        digest.update(chunk)
        self.may_have_blank_nodes = self.may_have_blank_nodes or b"_:" in chunk
        bar.update(len(buffer))
        return len(buffer)


__all__ = ["LineSorter", "RUN_LINES"]
