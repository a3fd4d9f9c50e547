"""Benchmark the bundled list end to end: build, `similar` and `search` (median of several runs); or one
big build with its memory summed over every process it starts.

    python scripts/bench_build.py [--runs 5]
    python scripts/bench_build.py --csv /tmp/big/synth1m.csv --store /tmp/x/store

Prints a markdown table: build time, triples and peak memory (with and without embeddings), the
`tsunagari similar` command end to end (stored vectors, no model), `tsunagari search` cold (a new
process loads the model) and warm search latency through the API. Runs offline on the bundled data.

With ``--csv``: one ``build_store`` without embeddings (``progress=False``), while a thread reads
/proc/PID/smaps_rollup of the build process and of its helpers (the Oxigraph loader, the validation
workers) every 0.25 s; prints wall and CPU seconds per step (CPU: this process and its helpers), the
load average, and per step the largest proportional set size (PSS) of the whole tree, split by process.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kg import Tsunagari

RUSAGE = ("import resource, runpy, sys; sys.argv = ['tsunagari'] + sys.argv[1:]\n"
          "try:\n    runpy.run_module('kg', run_name='__main__')\nexcept SystemExit:\n    pass\n"
          "print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")


def run(args: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MB) and stdout of one `tsunagari` command in a fresh process."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RUSAGE, *args], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    peak = int(done.stderr.rsplit("PEAK_KB", 1)[1].split()[0]) // 1024
    return seconds, peak, done.stdout


def median_of(runs: int, args: list[str]) -> tuple[float, int, str]:
    results = [run(args) for _ in range(runs)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results), results[-1][2]


def tree_pss_mb(pid: int) -> list[float]:
    """PSS in MB of ``pid`` and of each of its descendants (Linux), the process itself first."""
    found = []
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            found.append(next(int(line.split()[1]) for line in f if line.startswith("Pss:")) / 1024)
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for child in f.read().split():
                    found += tree_pss_mb(int(child))
    except (OSError, StopIteration):
        pass                                    # a helper that just ended
    return found


def big_build(csv: Path, store: Path) -> None:
    """One build of ``csv`` into ``store`` (replaced), its memory sampled over the process tree."""
    import resource
    import shutil
    import threading

    from kg.build import build_store
    from kg.store import Store

    samples: list[tuple[float, list[float]]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.perf_counter(), tree_pss_mb(os.getpid())))
            done.wait(0.25)

    def cpu() -> float:
        usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        return sum(u.ru_utime + u.ru_stime for u in usage)

    shutil.rmtree(store, ignore_errors=True)
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    thread = threading.Thread(target=sample, daemon=True)
    start, cpu_start = time.perf_counter(), cpu()
    thread.start()
    report = build_store([csv], Store(store), progress=False)
    done.set()
    thread.join()
    wall, used = time.perf_counter() - start, cpu() - cpu_start
    print(f"{report.projects:,} projects, {report.triples:,} triples: {wall:.1f} s wall, {used:.0f} CPU s "
          f"(with helpers); load average after: {os.getloadavg()[0]:.2f}")
    print("| step | wall s | peak PSS of the tree, MB | of which build process / helpers |\n|---|---|---|---|")
    at = start
    for name, seconds in report.steps.items():
        inside = [tree for t, tree in samples if at <= t <= at + seconds and tree]
        at += seconds
        top = max(inside, key=sum, default=[])
        helpers = " + ".join(f"{mb:.0f}" for mb in sorted(top[1:], reverse=True)) or "none"
        print(f"| {name} | {seconds:.1f} | {sum(top):.0f} | {top[0]:.0f} / {helpers} |" if top else
              f"| {name} | {seconds:.1f} | | |")
    overall = max((tree for _, tree in samples if tree), key=sum, default=[0.0])
    print(f"peak PSS of the tree {sum(overall):.0f} MB; peak RSS of the build process {report.peak_rss_mb:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--csv", type=Path, help="build this list once, memory summed over the process tree")
    parser.add_argument("--store", type=Path, help="where --csv builds (the folder is replaced)")
    args = parser.parse_args()
    if args.csv:
        if not args.store:
            parser.error("--csv needs --store")
        return big_build(args.csv, args.store)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = str(Path(tmp) / "store")
        for label, extra in (("build, no embeddings", ["--no-embed"]), ("build, hashing vectors", ["--model", "hashing"]),
                             ("build, e5 model (cached)", [])):
            seconds, peak, _ = median_of(args.runs, ["build", "--store", store, *extra])
            triples = Tsunagari.open(store).manifest["counts"]["triples"]
            rows.append((label, f"{seconds:.2f} s", f"{peak} MB", f"{triples:,} triples"))
        pid = "cao-kodoku-npo-model-fy2024-035"
        seconds, peak, _ = median_of(args.runs, ["similar", pid, "--store", store, "--json"])
        rows.append(("`tsunagari similar` end to end (no model)", f"{seconds:.2f} s", f"{peak} MB", ""))
        seconds, peak, _ = median_of(args.runs, ["search", "men's shed", "--store", store, "--json"])
        rows.append(("`tsunagari search` cold (loads the model)", f"{seconds:.2f} s", f"{peak} MB", ""))
        kg = Tsunagari.open(store)
        queries = ["men's shed", "不登校の子ども", "은둔형 외톨이", "帮助外国人", "food bank for families"]
        kg.search(queries[0])                       # load the model once
        latencies = []
        for _ in range(20):
            for query in queries:
                start = time.perf_counter()
                kg.search(query, top=10)
                latencies.append((time.perf_counter() - start) * 1000)
        latencies.sort()
        rows.append(("search, warm, API (100 queries)", f"p50 {statistics.median(latencies):.1f} ms",
                     f"p95 {latencies[int(0.95 * len(latencies))]:.1f} ms", ""))
        latencies = []
        for _ in range(20):
            start = time.perf_counter()
            kg.similar(pid, top=10)
            latencies.append((time.perf_counter() - start) * 1000)
        rows.append(("similar, warm, API", f"p50 {statistics.median(latencies):.2f} ms", "", ""))
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"Machine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}; median of {args.runs} runs.\n")
    print("| what | time | peak memory | size |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
