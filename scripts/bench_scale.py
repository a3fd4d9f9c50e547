"""Benchmark tsunagari at 10^4-10^6 projects; prints markdown tables. No network.

Usage::

    python scripts/bench_scale.py --sizes 10000,100000            # ~30 min on 2 cores
    python scripts/bench_scale.py --sizes 1000000 --rdflib-max 0   # the streaming build at 1M

For each size: a synthetic list (scripts/synth.py, seed 0) -> ``kg.bulk.bulk_build`` (streaming, SHACL on
a 2,000-project sample, Oxigraph bulk load) in a fresh process, for its wall and CPU time and peak RSS;
the hashing encoder's vectors -> ``VectorIndex`` (flat or HNSW as embeddings/index.py chooses) for
search latency and recall@10 against exact search; every queries/*.rq on embedded Oxigraph and, up to
``--rdflib-max`` projects, on rdflib (graph.nt parsed into memory), median of 3 runs (1 run when the
first takes over 5 s; a query over the time limit is shown as ">N s"). The e5 model's throughput is
measured once on ``--e5-sample`` synthetic titles and extrapolated to each size.

Each step runs in its own subprocess, so peak RSS is that step's. The machine may be shared: the load
average is printed at the start and the end, and CPU seconds next to wall seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUERIES = sorted((REPO / "queries").glob("*.rq"))

PRELUDE = """
import json, os, resource, sys, time
sys.path.insert(0, {repo!r})
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
"""

BUILD = """
from kg.bulk import bulk_build
t = time.perf_counter()
r = bulk_build([sys.argv[1]], sys.argv[2], validate_sample=2000)
wall = time.perf_counter() - t
print(json.dumps({"wall": wall, "cpu": cpu(), "rss": rss_mb(), "projects": r.projects, "orgs": r.organizations,
                  "triples": r.triples, "steps": r.steps, "validated": r.validated_projects,
                  "generation": str(r.generation)}))
"""

EMBED = """
from kg.bulk import embed_views
t = time.perf_counter()
m = embed_views(sys.argv[1] + "/projects.jsonl", sys.argv[2], model="hashing", input_hash="bench")
print(json.dumps({"wall": time.perf_counter() - t, "cpu": cpu(), "rss": rss_mb(), "kind": m["kind"], "dim": m["dim"]}))
"""

SEARCH = """
import numpy as np
from embeddings import VectorIndex
index = VectorIndex.load(sys.argv[1])
vectors = np.load(sys.argv[1] + "/vectors.npy", mmap_mode="r")
rng = np.random.default_rng(0)
rows = rng.choice(len(index), size=min(200, len(index)), replace=False)
queries = np.asarray(vectors[np.sort(rows)], dtype=np.float32)
queries += rng.standard_normal(queries.shape).astype(np.float32) * 0.02      # near, not equal, to a project
queries /= np.linalg.norm(queries, axis=1, keepdims=True)
scores = np.zeros((len(queries), len(index)), dtype=np.float32)
for start in range(0, len(index), 200_000):
    scores[:, start:start + 200_000] = queries @ np.asarray(vectors[start:start + 200_000]).T
kth = -np.partition(-scores, 9, axis=1)[:, 9]
index.search(queries[:1], k=10)
times, hits = [], 0
for j, q in enumerate(queries):
    t = time.perf_counter(); found = index.search(q, k=10)[0]; times.append(time.perf_counter() - t)
    rows_found = [index._rows[i] for i, _ in found]
    hits += sum(scores[j, r] >= kth[j] - 1e-5 for r in rows_found)
times.sort()
print(json.dumps({"kind": index.kind, "p50": times[len(times) // 2] * 1000,
                  "p95": times[int(0.95 * (len(times) - 1))] * 1000, "recall": hits / (10 * len(queries)),
                  "rss": rss_mb()}))
"""

OXIGRAPH = """
from kg.engines import OxigraphEngine
engine = OxigraphEngine.open(sys.argv[1])
text = open(sys.argv[2], encoding="utf-8").read()
times = []
for _ in range(3):
    t = time.perf_counter(); rows = len(engine.query(text).rows); times.append(time.perf_counter() - t)
    if times[0] > 5:
        break
print(json.dumps({"times": times, "rows": rows, "rss": rss_mb()}))
"""

RDFLIB = """
import signal
from kg.engines import RdflibEngine
t = time.perf_counter()
engine = RdflibEngine.from_ntriples(sys.argv[1])
load = time.perf_counter() - t
print(json.dumps({"load": load, "rss": rss_mb(), "triples": len(engine.graph)}), flush=True)
limit = int(sys.argv[2])
class Timeout(BaseException):   # run_query turns Exceptions into QueryError
    pass
def alarm(*_):
    raise Timeout()
signal.signal(signal.SIGALRM, alarm)
for path in sys.argv[3:]:
    text = open(path, encoding="utf-8").read()
    times = []
    try:
        for _ in range(3):
            signal.alarm(limit)
            t = time.perf_counter(); rows = len(engine.query(text).rows); times.append(time.perf_counter() - t)
            signal.alarm(0)
            if times[0] > 5:
                break
        print(json.dumps({"query": os.path.basename(path), "times": times, "rows": rows}), flush=True)
    except Timeout:
        print(json.dumps({"query": os.path.basename(path), "timeout": limit}), flush=True)
print(json.dumps({"rss": rss_mb()}), flush=True)
"""

E5 = """
import csv
from embeddings import SentenceTransformerEncoder
titles = [row[2] for i, row in enumerate(csv.reader(open(sys.argv[1], encoding="utf-8"))) if i > 0]
n = int(sys.argv[2])
titles = titles[:n]
t = time.perf_counter()
encoder = SentenceTransformerEncoder("default")
load = time.perf_counter() - t
encoder.encode(titles[:64])
t = time.perf_counter(); encoder.encode(titles); seconds = time.perf_counter() - t
import torch
print(json.dumps({"load": load, "titles": len(titles), "seconds": seconds, "per_second": len(titles) / seconds,
                  "threads": torch.get_num_threads(), "rss": rss_mb()}))
"""


def run(code: str, *args: str, timeout: float | None = None, lines: bool = False):
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", PRELUDE.format(repo=str(REPO)) + code, *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{done.stderr[-3000:]}")
    out = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return out if lines else out[-1]


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal")) / 1024 ** 2
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GB RAM, Python {platform.python_version()}"


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def bench_size(n: int, tmp: Path, rdflib_max: int, rdflib_limit: int, oxigraph_limit: int) -> dict:
    sys.path.insert(0, str(REPO / "scripts"))
    import synth

    csv_path = tmp / f"synth-{n}.csv"
    t = time.perf_counter()
    synth.write_csv(csv_path, n, seed=0)
    result: dict = {"n": n, "synth": time.perf_counter() - t, "csv_mb": csv_path.stat().st_size / 1e6}
    print(f"[{n:,}] synthetic list {result['synth']:.1f} s", file=sys.stderr, flush=True)
    build = run(BUILD, csv_path, tmp / f"store-{n}")
    generation = Path(build["generation"])
    result.update(build=build, nt_mb=(generation / "graph.nt").stat().st_size / 1e6,
                  oxigraph_mb=folder_mb(generation / "oxigraph"))
    print(f"[{n:,}] build {build['wall']:.0f} s, {build['triples']:,} triples", file=sys.stderr, flush=True)
    result["embed"] = run(EMBED, generation, tmp / f"vectors-{n}")
    result["search"] = run(SEARCH, tmp / f"vectors-{n}")
    print(f"[{n:,}] vectors {result['embed']['wall']:.0f} s", file=sys.stderr, flush=True)
    oxigraph = {}
    for query in QUERIES:
        try:
            oxigraph[query.name] = run(OXIGRAPH, generation / "oxigraph", query, timeout=oxigraph_limit)
        except subprocess.TimeoutExpired:
            oxigraph[query.name] = {"timeout": oxigraph_limit}
    result["oxigraph"] = oxigraph
    print(f"[{n:,}] oxigraph queries done", file=sys.stderr, flush=True)
    if n <= rdflib_max:
        out = run(RDFLIB, generation / "graph.nt", rdflib_limit, *QUERIES, lines=True)
        result["rdflib_load"] = out[0]
        result["rdflib"] = {o["query"]: o for o in out[1:-1]}
        result["rdflib_rss"] = out[-1]["rss"]
        print(f"[{n:,}] rdflib queries done", file=sys.stderr, flush=True)
    return result


def median_ms(entry: dict | None) -> float | None:
    if not entry or "timeout" in entry:
        return None
    return statistics.median(entry["times"]) * 1000


def fmt_ms(entry: dict | None) -> str:
    if entry is None:
        return "–"
    if "timeout" in entry:
        return f"> {entry['timeout']} s"
    ms = median_ms(entry)
    return f"{ms:,.0f}" if ms >= 10 else f"{ms:.1f}"


def report(results: list[dict], e5: dict | None) -> str:
    out = ["| projects | organisations | triples | graph.nt / oxigraph/ MB | build wall s (CPU s) | peak RSS MB "
           "| of which: normalise+write / merge / SHACL sample / Oxigraph load s | e5 embedding (extrapolated) "
           "| hashing vectors+index s (RSS MB) | index | search p50 / p95 ms | recall@10 |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        b, s, e = r["build"], r["search"], r["embed"]
        steps = b["steps"]
        e5_text = "–"
        if e5:
            seconds = r["n"] / e5["per_second"]
            e5_text = f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"
        out.append(
            f"| {r['n']:,} | {b['orgs']:,} | {b['triples']:,} | {r['nt_mb']:,.0f} / {r['oxigraph_mb']:,.0f} "
            f"| {b['wall']:,.0f} ({b['cpu']:,.0f}) | {b['rss']:,.0f} "
            f"| {steps['read+normalise+write']:,.0f} / {steps['sort+merge']:,.0f} / {steps['shacl sample']:,.0f} / "
            f"{steps.get('oxigraph load', 0):,.0f} | {e5_text} | {e['wall']:,.0f} ({e['rss']:,.0f}) | {s['kind']} "
            f"| {s['p50']:.2f} / {s['p95']:.2f} | {s['recall']:.3f} |")
    out += ["", "SPARQL, median ms of 3 runs (rdflib: graph.nt parsed into memory; Oxigraph: embedded, read-only "
            "RocksDB folder; ratio = rdflib / Oxigraph):", ""]
    header = "| query | " + " | ".join(f"{r['n']:,}: rdflib | Oxigraph | ratio" for r in results) + " |"
    out += [header, "|---|" + "---|---|---|" * len(results)]
    for query in QUERIES:
        cells = []
        for r in results:
            ox = r["oxigraph"].get(query.name)
            rd = r.get("rdflib", {}).get(query.name) if "rdflib" in r else None
            ratio = "–"
            if median_ms(ox) and median_ms(rd):
                ratio = f"{median_ms(rd) / median_ms(ox):,.0f}×"
            elif median_ms(ox) and rd and "timeout" in rd:
                ratio = f"> {rd['timeout'] * 1000 / median_ms(ox):,.0f}×"
            cells.append(f"{fmt_ms(rd) if 'rdflib' in r else 'not loaded'} | {fmt_ms(ox)} | {ratio}")
        out.append(f"| `{query.name}` | " + " | ".join(cells) + " |")
    loads = [f"{r['n']:,}: {r['rdflib_load']['load']:,.0f} s, peak RSS {r['rdflib_rss']:,.0f} MB"
             for r in results if "rdflib_load" in r]
    if loads:
        out += ["", "rdflib parse of graph.nt: " + "; ".join(loads) + "."]
    if e5:
        out += ["", f"e5 (multilingual-e5-small, CPU, {e5['threads']} torch threads): {e5['per_second']:.0f} titles/s "
                f"over {e5['titles']:,} titles (model load {e5['load']:.0f} s)."]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated project counts")
    ap.add_argument("--rdflib-max", type=int, default=100_000, help="largest size rdflib loads (0: never)")
    ap.add_argument("--rdflib-limit", type=int, default=60, help="seconds per rdflib query run")
    ap.add_argument("--oxigraph-limit", type=int, default=600, help="seconds per Oxigraph query (3 runs)")
    ap.add_argument("--e5-sample", type=int, default=10_000, help="titles for the e5 throughput (0: skip)")
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    a = ap.parse_args()
    print(f"machine: {machine()}; load average at start: {os.getloadavg()[0]:.2f}\n", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        tmp = Path(tmp)
        for n in (int(s) for s in a.sizes.split(",")):
            results.append(bench_size(n, tmp, a.rdflib_max, a.rdflib_limit, a.oxigraph_limit))
        e5 = None
        if a.e5_sample:
            sys.path.insert(0, str(REPO / "scripts"))
            import synth

            titles = tmp / "e5-titles.csv"
            synth.write_csv(titles, a.e5_sample, seed=1)
            e5 = run(E5, titles, a.e5_sample)
    if a.json:
        a.json.write_text(json.dumps({"results": results, "e5": e5}, ensure_ascii=False, indent=1))
    print(report(results, e5))
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
