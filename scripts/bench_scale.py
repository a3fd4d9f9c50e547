"""Benchmark tsunagari at 10^4-10^6 projects: the one build, links and families, data access, validation,
SPARQL, the server. Prints markdown tables; no network beyond 127.0.0.1.

Usage::

    python scripts/bench_scale.py --sizes 10000,100000 --e5       # about 9 min on 2 quiet cores
    python scripts/bench_scale.py --sizes 1000000 --skip hashing   # the million row, no vectors (about 35 min)

For each size, a synthetic list (``scripts/synth.py --seed 1``) is built twice, each time in a fresh
process (wall and CPU seconds, peak RSS, seconds per step of the pipeline): without embeddings, and with
hashing vectors and 5 similarity links per project (``--e5``: with the bundled e5 model, 10k at most).
Then, each in its own process: ``tsunagari families`` and ``tsunagari similar ID`` end to end (once cold, the
store's files dropped from the page cache, then the median of 3 warm; CPU seconds and peak RSS of each),
data access through the API (a project by id, a filtered page, a count, ``similar`` and ``search`` warm),
``tsunagari validate``, every ``queries/*.rq`` on the store's Oxigraph database, and ``tsunagari serve``
until its first answer (with the RSS of the server and its workers). The machine may be shared: the load
average is printed at the start and the end, and CPU seconds next to wall seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from kg.store import GRAPH, OXIGRAPH, VIEWS, Generation

REPO = Path(__file__).resolve().parents[1]
QUERIES = sorted((REPO / "queries").glob("*.rq"))
STEPS = ("read+normalise+write", "organisations+regions", "embed", "link", "sort", "load", "validate")

PRELUDE = """
import json, resource, sys, time
def cpu():  # this process and its helpers (the Oxigraph loader, the validation workers)
    usage = map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return sum(r.ru_utime + r.ru_stime for r in usage)
def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
def child_rss_mb():  # the largest helper process
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e3
"""

BUILD = """
from pathlib import Path
from kg.build import build_store
from kg.store import Store
embed = sys.argv[3] != "none"
t = time.perf_counter()
r = build_store([Path(sys.argv[1])], Store(Path(sys.argv[2])), embed=embed, model=sys.argv[3],
                similar_links=5 if embed else 0, progress=False)
print(json.dumps({"wall": time.perf_counter() - t, "cpu": cpu(), "rss": rss_mb(), "rss_child": child_rss_mb(),
                  "projects": r.projects,
                  "orgs": r.organizations, "triples": r.triples, "steps": r.steps, "generation": str(r.generation)}))
"""

ACCESS = """
import random, statistics
t = time.perf_counter()
from kg import Tsunagari
kg = Tsunagari.open(sys.argv[1])
opened = time.perf_counter() - t
pick = random.Random(0).sample(kg.views.ids(), 200)
def p50(f, items):
    times = []
    for item in items:
        s = time.perf_counter(); f(item); times.append(time.perf_counter() - s)
    return statistics.median(times) * 1000
out = {"open": opened * 1000, "project": p50(kg.project, pick), "some_id": pick[0]}
out["page"] = p50(lambda _: kg.projects(prefecture="東京都", limit=50), range(20))
out["count"] = p50(lambda _: kg.count(prefecture="東京都", target_group="children"), range(20))
s = time.perf_counter(); kg.similar(pick[0], top=10); out["similar_first"] = (time.perf_counter() - s) * 1000
out["similar"] = p50(lambda pid: kg.similar(pid, top=10), pick[:50])
out["similar_filtered"] = p50(lambda pid: kg.similar(pid, top=10, prefecture="東京都"), pick[:20])
out["search"] = p50(lambda q: kg.search(q, top=10), ["居場所づくり", "子ども食堂", "不登校の中学生", "men's shed"] * 5)
out["rss"] = rss_mb()
print(json.dumps(out))
"""

QUERY = """
from kg.engines import OxigraphEngine
engine = OxigraphEngine.open(sys.argv[1])
text = open(sys.argv[2], encoding="utf-8").read()
t = time.perf_counter(); rows = len(engine.query(text).rows)
print(json.dumps({"seconds": time.perf_counter() - t, "rows": rows}))
"""


def run(code: str, *args, timeout: float | None = None) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", PRELUDE + code, *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def command(*args, timeout: float | None = None) -> dict:
    """A `tsunagari` command in a fresh process: wall seconds, exit code (None: cut at the timeout), its CPU
    seconds and its peak RSS in MB (pages of files it maps included, though the page cache shares them)."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "kg", *map(str, args)], env=dict(os.environ),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    timer = threading.Timer(timeout, child.kill) if timeout else None
    if timer:
        timer.start()
    _, status, usage = os.wait4(child.pid, 0)        # the usage of this child alone
    seconds = time.perf_counter() - start
    if timer:
        timer.cancel()
    child.returncode = code = os.waitstatus_to_exitcode(status)
    return {"seconds": seconds, "code": None if code == -signal.SIGKILL else code,
            "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1e3}


def evict(folder: Path) -> None:
    """Drop a store generation's files from the page cache (posix_fadvise, these files only; no root
    needed), so that the next command reads them from disk: a cold start."""
    for path in (p for p in folder.rglob("*") if p.is_file()):
        with open(path, "rb") as f:
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def serve(store: Path, timeout: float = 600) -> dict:
    """Seconds until `tsunagari serve` answers its first page, and the RSS of the server and its workers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ)
    start = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "kg", "serve", "--store", str(store), "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - start < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
                    if answer.status == 200:
                        ready = time.perf_counter() - start
                        time.sleep(2)
                        return {"ready": ready, "rss": tree_rss_mb(server.pid)}
            except OSError:
                time.sleep(0.25)
            if server.poll() is not None:
                return {"failed": server.returncode}
        return {"timeout": timeout}
    finally:
        server.terminate()
        server.wait(timeout=30)


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1e3
        except OSError:
            pass
    return total


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def bench_size(n: int, tmp: Path, args) -> dict:
    csv_path = tmp / f"synth-{n}.csv"
    subprocess.run([sys.executable, str(REPO / "scripts" / "synth.py"), "--n", str(n), "--seed", "1", "--out",
                    str(csv_path)], check=True, capture_output=True)
    result: dict = {"n": n, "csv_mb": csv_path.stat().st_size / 1e6}
    log = lambda text: print(f"[{n:,}] {text}", file=sys.stderr, flush=True)  # noqa: E731
    plain = run(BUILD, csv_path, tmp / f"plain-{n}", "none")
    generation = Generation(Path(plain["generation"]))
    result["build"] = plain
    result["sizes"] = {GRAPH: generation.graph_file().stat().st_size / 1e6,
                       OXIGRAPH: folder_mb(generation.oxigraph_folder),
                       VIEWS: generation.views_file.stat().st_size / 1e6}
    log(f"build {plain['wall']:.0f} s, {plain['triples']:,} triples")
    if "hashing" not in args.skip:
        store = tmp / f"hashing-{n}"
        result["build_hashing"] = run(BUILD, csv_path, store, "hashing")
        log(f"build with hashing vectors and links {result['build_hashing']['wall']:.0f} s")
        result["families"] = command("families", "--store", store, "--json", timeout=args.limit)
        log(f"families {result['families']['seconds']:.0f} s")
        result["access"] = run(ACCESS, store)
        similar = ("similar", result["access"]["some_id"], "--store", store, "--json")
        evict(Path(result["build_hashing"]["generation"]))
        result["similar_cold"] = command(*similar)
        warm = sorted((command(*similar) for _ in range(3)), key=lambda r: r["seconds"])
        result["similar_cli"], result["similar_warm"] = warm[1]["seconds"], warm[1]
        log(f"similar end to end {result['similar_cold']['seconds']:.2f} s cold, {result['similar_cli']:.2f} s warm; "
            f"access {result['access']}")
    if "validate" not in args.skip:
        result["validate"] = command("validate", "--store", generation.folder.parent, timeout=args.limit)
        log(f"validate {result['validate']}")
    if "queries" not in args.skip:
        result["queries"] = {}
        for query in (q for q in QUERIES if not args.queries or q.name in args.queries):
            try:
                result["queries"][query.name] = run(QUERY, generation.oxigraph_folder, query, timeout=args.limit)
            except subprocess.TimeoutExpired:
                result["queries"][query.name] = {"timeout": args.limit}
        log("queries done")
    if "serve" not in args.skip:
        result["serve"] = serve(generation.parent)
        log(f"serve {result['serve']}")
    if args.e5 and n <= 10_000:
        result["build_e5"] = run(BUILD, csv_path, tmp / f"e5-{n}", "default")
        log(f"build with e5 {result['build_e5']['wall']:.0f} s")
    return result


def report(results: list[dict]) -> str:
    out = ["| projects | organisations | triples | graph.nt / oxigraph / projects.sqlite MB | build s (CPU s) "
           "| peak RSS MB (build / largest helper) | " + " / ".join(STEPS) + " s |", "|---|---|---|---|---|---|---|"]
    for r in results:
        b = r["build"]
        s = r["sizes"]
        out.append(f"| {r['n']:,} | {b['orgs']:,} | {b['triples']:,} | {s['graph.nt']:,.0f} / {s['oxigraph']:,.0f} / "
                   f"{s['projects.sqlite']:,.0f} | {b['wall']:,.1f} ({b['cpu']:,.0f}) | {b['rss']:,.0f} / "
                   f"{b.get('rss_child', 0):,.0f} | "
                   + " / ".join(f"{b['steps'].get(step, 0):,.1f}" for step in STEPS) + " |")
    out += ["", "| projects | build with hashing vectors + 5 links s (CPU s) | of which embed / link s | peak RSS MB "
            "| `families` s, peak RSS MB | `similar ID` s cold / warm (CPU s), peak RSS MB | open / project / page / count ms | similar warm / filtered / first ms "
            "| search warm ms | validate s | slowest query s | serve ready s / RSS MB |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in (r for r in results if "build_hashing" in r):
        h, a = r["build_hashing"], r["access"]
        v_text, slow_text, sv_text = checks(r)
        out.append(f"| {r['n']:,} | {h['wall']:,.1f} ({h['cpu']:,.0f}) | {h['steps'].get('embed', 0):,.1f} / "
                   f"{h['steps'].get('link', 0):,.1f} | {h['rss']:,.0f} | {r['families']['seconds']:,.1f}, "
                   f"{r['families']['rss']:,.0f} | {similar_cell(r)} | "
                   f"{a['open']:.0f} / {a['project']:.1f} / {a['page']:.1f} / "
                   f"{a['count']:.1f} | "
                   f"{a['similar']:.1f} / {a['similar_filtered']:.1f} / {a['similar_first']:.0f} | {a['search']:.1f} | "
                   f"{v_text} | {slow_text} | {sv_text} |")
    for r in (r for r in results if "build_hashing" not in r):
        v_text, slow_text, sv_text = checks(r)
        out += ["", f"{r['n']:,} (no vectors): `tsunagari validate` {v_text} s; slowest query {slow_text} s; "
                    f"serve ready s / RSS MB {sv_text}."]
    for r in results:
        if "build_e5" in r:
            e = r["build_e5"]
            out += ["", f"e5 at {r['n']:,}: build {e['wall']:,.0f} s (CPU {e['cpu']:,.0f} s), of which embedding "
                        f"{e['steps'].get('embed', 0):,.0f} s and links {e['steps'].get('link', 0):,.1f} s; "
                        f"peak RSS {e['rss']:,.0f} MB."]
    return "\n".join(out)


def similar_cell(r: dict) -> str:
    """`similar ID` end to end: cold (the store's files dropped from the page cache) and warm (median of 3)."""
    cold, warm = r["similar_cold"], r["similar_warm"]
    return (f"{cold['seconds']:.2f} / {warm['seconds']:.2f} ({cold['cpu']:.2f} / {warm['cpu']:.2f}), "
            f"{max(cold['rss'], warm['rss']):,.0f}")


def checks(r: dict) -> tuple[str, str, str]:
    """validate, the slowest query, serve: as table cells."""
    queries = r.get("queries", {})
    slow = max(queries.items(), key=lambda kv: kv[1].get("seconds", float("inf")), default=None)
    slow_text = "–" if slow is None else (f"> {slow[1]['timeout']} ({slow[0]})" if "timeout" in slow[1]
                                          else f"{slow[1]['seconds']:.1f} ({slow[0]})")
    v = r.get("validate")
    v_text = "–" if v is None else (f"> {v['seconds']:.0f}" if v["code"] is None else f"{v['seconds']:.1f}")
    sv = r.get("serve", {})
    sv_text = f"{sv['ready']:.1f} / {sv['rss']:,.0f}" if "ready" in sv else str(sv or "–")
    return v_text, slow_text, sv_text


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal")) / 1024 ** 2
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GB RAM, Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated project counts")
    ap.add_argument("--skip", default="", help="comma-separated: hashing (the build with vectors and links, "
                    "families, similar, API access), validate, queries, serve")
    ap.add_argument("--queries", default="", help="comma-separated file names in queries/ (default: all)")
    ap.add_argument("--limit", type=float, default=900, help="seconds before a command or query is cut")
    ap.add_argument("--e5", action="store_true", help="also build with the bundled e5 model (sizes up to 10k)")
    ap.add_argument("--tmp", type=Path, help="work folder (default: a temporary one, removed)")
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    a = ap.parse_args()
    a.skip = set(filter(None, a.skip.split(",")))
    a.queries = set(filter(None, a.queries.split(",")))
    print(f"machine: {machine()}; load average at start: {os.getloadavg()[0]:.2f}\n", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-", dir=a.tmp) as tmp:
        for n in (int(s) for s in a.sizes.split(",")):
            results.append(bench_size(n, Path(tmp), a))
            if a.json:
                a.json.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    print(report(results))
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
