"""Benchmark the bundled list end to end: build, `similar` and `search` (median of several runs).

    python scripts/bench_build.py [--runs 5]

Prints a markdown table: build time, triples and peak memory (with and without embeddings), the
`tsunagari similar` command end to end (stored vectors, no model), `tsunagari search` cold (a new
process loads the model) and warm search latency through the API. Runs offline on the bundled data.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
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
