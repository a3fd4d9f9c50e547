"""Benchmark full SHACL validation of a built store: every shape, every node, on its Oxigraph database.

    python scripts/bench_validate.py --store /tmp/v-10k-store [--cli] [--top 10]

Prints the store's size, the wall and CPU seconds of ``kg.validate.validate_store`` on the live
generation (opened read-only), the slowest compiled checks, peak memory, and with ``--cli`` the
wall time of ``tsunagari validate`` end to end in a fresh process. Make a store with
``python scripts/synth.py --n 10000 --seed 1 --out big.csv`` and ``tsunagari build big.csv --no-embed``.
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", required=True, type=Path, help="a built store folder")
    parser.add_argument("--cli", action="store_true", help="also time `tsunagari validate` in a new process")
    parser.add_argument("--top", type=int, default=10, help="how many of the slowest checks to list")
    args = parser.parse_args()

    import pyoxigraph

    from kg.store import Store
    from kg.validate import result_of, shape_checks
    from kg.validate.run import run_checks, store_terms

    generation = Store(args.store).generation()
    counts = generation.manifest()["counts"]
    store = pyoxigraph.Store.read_only(str(generation.oxigraph_folder))
    timings: list[tuple[float, float, int, str]] = []
    wall, cpu = time.perf_counter(), time.process_time()
    checks = shape_checks(store)
    compiled = time.perf_counter() - wall
    last = [time.process_time()]

    def timing(check, seconds: float, rows: int) -> None:     # CPU seconds: steadier than wall on a busy machine
        now = time.process_time()
        timings.append((now - last[0], seconds, rows, check.source))
        last[0] = now

    violations, warnings = run_checks(store, checks, store_terms(store), timing=timing)
    result = result_of(violations, warnings)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu

    print(f"store: {generation}")
    print(f"projects {counts['projects']:,}, triples {counts['triples']:,}")
    print(f"validate_store: {wall:.1f} s wall, {cpu:.1f} s CPU ({len(checks)} checks, compiled in {compiled:.2f} s); "
          f"conforms={result.conforms}, {len(result.violations)} violations, {len(result.warnings)} warnings")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")
    print(f"slowest {args.top} checks (CPU s, wall s, rows, check):")
    for cpu_seconds, seconds, rows, source in sorted(timings, reverse=True)[:args.top]:
        print(f"  {cpu_seconds:7.2f} {seconds:7.2f}  {rows:6d}  {source}")
    if args.cli:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "kg", "validate", "--store", str(args.store)],
                              capture_output=True, text=True, check=False)
        print(f"`tsunagari validate`: {time.perf_counter() - start:.1f} s wall, exit {done.returncode}")


if __name__ == "__main__":
    main()
