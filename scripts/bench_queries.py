"""Time every queries/*.rq on a built store, answer written out; prints a markdown table (or JSON). No network.

Usage::

    python scripts/bench_queries.py --store /tmp/store-10k                      # both engines
    python scripts/bench_queries.py --store /tmp/store-100k --engine oxigraph --cutoff 60 --formats tsv,csv
    python scripts/bench_queries.py --store DIR --engine oxigraph --bind region_code=131091 --only projects_in_region

Each engine lives in a worker process that opens it once (Oxigraph: the generation's ``oxigraph/`` folder,
read-only; rdflib: ``graph.nt`` parsed into memory, which takes a while and is reported). A run is what a user
waits for: the query run to completion and the whole answer written (``SparqlResult.write``) in each of
``--formats`` (default "tsv", Oxigraph's own serializer, the fastest; "csv" and "json" are ours, made in
Python from plain values; "rows" reads the answer into rdflib terms, as ``result.rows``) to a sink that only
counts. Each query runs ``--runs`` times (default 3; once when the first run takes over ``--once-over``
seconds) and the median wall time of a run is reported. A run over ``--cutoff`` seconds is stopped by
killing the worker (a query in Rust cannot be interrupted otherwise) and shown as ``> N s``; the next query
gets a fresh worker. The row counts of both engines are printed, so a difference shows.

``--json`` prints one object per line instead ({"query", "engine", "ms", "rows", "runs"}; ms is null past
the cut-off), for scripts/bench_scale.py and other callers. The machine may be shared: the load average is
printed before and after.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUERIES = REPO / "queries"
# Queries whose unbound answer lists (nearly) every project: with --typical they are also timed for one
# value, as a user asks them ("the projects of this region", "the provenance of this project").
TYPICAL = {
    "organisations_adopted_both_years.rq": {"fiscal_year": "2024"},
    "project_provenance.rq": {"project_id": "kyumin-yokin-fy2022-003"},
    "projects_in_region.rq": {"region_code": "131091"},
    "tag_evidence.rq": {"concept_id": "elderly"},
}


class Cutoff(Exception):
    """A run took longer than the cut-off (not an OSError, which the engines turn into QueryError)."""


class Sink:
    """A text stream that keeps nothing: counts characters and line ends."""

    def __init__(self) -> None:
        self.chars = self.lines = 0

    def write(self, text: str) -> None:
        self.chars += len(text)
        self.lines += text.count("\n")


def answer(engine, text: str, bindings: dict, fmt: str) -> int:
    """Run ``text`` and write the whole answer in ``fmt`` ("rows": read into rdflib terms); the row count
    (from the TSV lines, whose values never hold a line end; None for csv and json)."""
    result = engine.query(text, bindings)
    if fmt == "rows":
        return len(result.rows)
    sink = Sink()
    result.write(sink, fmt)
    return sink.lines - 1 if fmt == "tsv" else None


def _worker(generation: str, engine: str, cutoff: float, connection) -> None:
    """Open the engine once, then answer (text, bindings, runs, once_over, fmt) requests with timings.

    A run past the cut-off is stopped by SIGALRM where Python gets control back (rdflib always; Oxigraph
    when its serializer hands over a chunk), so the engine need not be opened again; the parent kills the
    worker otherwise. The alarm may surface inside pyoxigraph as another error: the flag tells."""
    import signal

    from kg.engines import open_engine

    alarm = {"rang": False}

    def stop(signum, frame):
        alarm["rang"] = True
        raise Cutoff

    signal.signal(signal.SIGALRM, stop)
    started = time.perf_counter()
    opened = open_engine(Path(generation), engine)
    connection.send(("ready", time.perf_counter() - started))
    while True:
        request = connection.recv()
        if request is None:
            return
        text, bindings, runs, once_over, fmt = request
        times, rows = [], 0
        try:
            for _ in range(runs):
                started, cpu = time.perf_counter(), time.process_time()
                alarm["rang"] = False
                signal.setitimer(signal.ITIMER_REAL, cutoff)
                try:
                    rows = answer(opened, text, bindings, fmt)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                times.append((time.perf_counter() - started, time.process_time() - cpu))
                if times[0][0] > once_over:
                    break
        except Exception as error:     # reported in the table, the benchmark goes on
            if alarm["rang"]:
                connection.send(("timeout", None))
            else:
                connection.send(("error", f"{type(error).__name__}: {error}"))
            continue
        connection.send(("done", (times, rows)))


class Worker:
    """One engine in a child process; restarted after a query is cut off."""

    def __init__(self, generation: Path, engine: str, cutoff: float) -> None:
        self.generation, self.engine, self.cutoff = generation, engine, cutoff
        self.process = None
        self.load_seconds: float | None = None

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(str(self.generation), self.engine, self.cutoff, child),
                                       daemon=True)
        self.process.start()
        while not self.connection.poll(0.1):        # a worker that cannot open the store dies without a word
            if not self.process.is_alive():
                raise SystemExit(f"the {self.engine} worker could not open {self.generation} (its error is above)")
        kind, value = self.connection.recv()
        if self.load_seconds is None:
            self.load_seconds = value

    def run(self, text: str, bindings: dict, runs: int, once_over: float, fmt: str = "tsv") -> dict:
        """Time one query: {"ms": median ms or None past the cut-off, "cpu_ms", "rows", "runs", "error"}."""
        if self.process is None:
            self._start()
        self.connection.send((text, bindings, runs, once_over, fmt))
        # every run may take up to the cut-off; past that (plus grace) the worker is killed
        deadline = time.monotonic() + self.cutoff * runs + 30
        while time.monotonic() < deadline:
            if self.connection.poll(0.05):
                kind, value = self.connection.recv()
                if kind == "timeout":
                    return {"ms": None, "cpu_ms": None, "rows": None, "runs": 0, "error": None}
                if kind == "error":
                    return {"ms": None, "cpu_ms": None, "rows": None, "runs": 0, "error": value}
                times, rows = value
                if max(wall for wall, _ in times) > self.cutoff:
                    return {"ms": None, "cpu_ms": None, "rows": rows, "runs": len(times), "error": None}
                wall, cpu = sorted(times)[(len(times) - 1) // 2]      # the median run, by wall time
                return {"ms": wall * 1000, "cpu_ms": cpu * 1000, "rows": rows, "runs": len(times), "error": None}
            if not self.process.is_alive():
                self.process = None
                return {"ms": None, "cpu_ms": None, "rows": None, "runs": 0, "error": "worker died"}
        self.stop()
        return {"ms": None, "cpu_ms": None, "rows": None, "runs": 0, "error": None}

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.join()
            self.process = None


def bench(store: Path, engines: list[str], *, formats: tuple[str, ...] = ("tsv",), runs: int = 3,
          once_over: float = 5.0, cutoff: float = 60.0, bindings: dict | None = None, only: str | None = None,
          queries: Path = QUERIES, typical: bool = False, progress=None) -> list[dict]:
    """Time every ``*.rq`` of ``queries`` on each engine, answer written in each of ``formats``; one dict
    per (query, engine, format).

    With ``typical``, the queries of TYPICAL are timed once more with their value bound (the "query"
    of those results reads "name.rq (parameter=value)")."""
    from kg.store import Store

    generation = Store(Path(store)).generation().folder
    results = []
    for engine in engines:
        worker = Worker(generation, engine, cutoff)
        try:
            cases = [(path, path.name, bindings or {}) for path in sorted(Path(queries).glob("*.rq"))]
            if typical:
                cases += [(Path(queries) / name, f"{name} ({', '.join(f'{k}={v}' for k, v in values.items())})",
                           {**values, **(bindings or {})}) for name, values in TYPICAL.items()]
            for path, label, values in cases:
                if only and only not in path.name:
                    continue
                for fmt in formats:
                    result = worker.run(path.read_text(encoding="utf-8"), values, runs, once_over, fmt)
                    result.update(query=label, engine=engine, format=fmt, load_s=worker.load_seconds)
                    results.append(result)
                    if progress:
                        progress(result)
        finally:
            worker.stop()
    return results


def _cell(result: dict | None, cutoff: float, cpu: bool = False) -> str:
    if result is None:
        return ""
    if result["error"]:
        return "error"
    if result["ms"] is None:
        return f"> {cutoff:g} s"
    return f"{result['ms']:,.0f}" + (f" / {result['cpu_ms']:,.0f}" if cpu else "")


def table(results: list[dict], engines: list[str], cutoff: float, cpu: bool = False,
          formats: tuple[str, ...] = ("tsv",)) -> str:
    """A markdown table: one row per query, ms for each engine and format, the row count (and, for two
    engines, the ratio of the first format's times).

    With ``cpu``, each cell is "wall / CPU" ms (on a shared machine, CPU time is the steadier figure)."""
    by = {(r["query"], r["engine"], r.get("format", "tsv")): r for r in results}
    names = list(dict.fromkeys(r["query"] for r in results))
    columns = [(e, f) for e in engines for f in formats]
    head = ["query"] + [f"{e} {f} ms" + (" (wall / CPU)" if cpu else "") for e, f in columns] + ["rows"]
    if len(engines) == 2:
        head.append("ratio")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        cells = [_cell(by.get((name, e, f)), cutoff, cpu) for e, f in columns]
        counts = {by[(name, e, f)]["rows"] for e, f in columns
                  if (name, e, f) in by and by[(name, e, f)]["rows"] is not None}
        rows = "/".join(f"{c:,}" for c in sorted(counts)) if counts else ""
        file, _, parameters = name.partition(" ")
        row = [f"`{file}` {parameters}".strip()] + cells + [rows]
        if len(engines) == 2:
            a, b = (by.get((name, e, formats[0]), {}).get("ms") for e in engines)
            row.append(f"{a / b:,.0f}×" if a and b and a / b >= 10 else f"{a / b:.1f}×" if a and b else "–")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _parse_bind(items: list[str]) -> dict:
    bindings = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise SystemExit(f"--bind {item!r}: expected NAME=VALUE")
        bindings[name] = value
    return bindings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, type=Path, help="a built store folder")
    parser.add_argument("--engine", choices=["oxigraph", "rdflib", "both"], default="both")
    parser.add_argument("--formats", default="tsv",
                        help="comma-separated: tsv, srj, srx (Oxigraph's serializers), csv, json, table (ours), "
                             "rows (read into rdflib terms); the first is the headline")
    parser.add_argument("--runs", type=int, default=3, help="runs per query; the median is reported")
    parser.add_argument("--once-over", type=float, default=5.0, help="one run only when the first takes longer (s)")
    parser.add_argument("--cutoff", type=float, default=60.0, help="stop a run after this many seconds")
    parser.add_argument("--bind", action="append", default=[], metavar="NAME=VALUE", help="bind a parameter")
    parser.add_argument("--only", help="only queries whose file name contains this")
    parser.add_argument("--queries", type=Path, default=QUERIES, help="folder of *.rq files (default: queries/)")
    parser.add_argument("--typical", action="store_true",
                        help="also time the listing queries with a typical value bound (see TYPICAL)")
    parser.add_argument("--cpu", action="store_true", help="show CPU ms next to wall ms")
    parser.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    args = parser.parse_args(argv)

    engines = ["rdflib", "oxigraph"] if args.engine == "both" else [args.engine]
    formats = tuple(args.formats.split(","))
    print(f"load average before: {os.getloadavg()}", file=sys.stderr)

    def progress(result: dict) -> None:
        print(f"  {result['engine']:8} {result['format']:5} {result['query']:70} {_cell(result, args.cutoff, True):>16} ms "
              f"({result['rows']} rows, {result['runs']} runs){' ' + result['error'] if result['error'] else ''}",
              file=sys.stderr)

    results = bench(args.store, engines, formats=formats, runs=args.runs, once_over=args.once_over, cutoff=args.cutoff,
                    bindings=_parse_bind(args.bind), only=args.only, queries=args.queries,
                    typical=args.typical, progress=progress)
    print(f"load average after: {os.getloadavg()}", file=sys.stderr)
    for engine in engines:
        loads = [r["load_s"] for r in results if r["engine"] == engine and r["load_s"] is not None]
        if loads:
            print(f"{engine}: opened in {loads[0]:.1f} s", file=sys.stderr)
    if args.json:
        for result in results:
            print(json.dumps(result, ensure_ascii=False))
    else:
        print(table(results, engines, args.cutoff, args.cpu, formats))


if __name__ == "__main__":
    main()
