"""Figures for `tsunagari serve`: startup (time to the first answer, memory), load, and pages under a flood.

Starts the server as a subprocess (`python -m kg serve`) on a free loopback port (127.0.0.1 only), then:

- startup: seconds from launching the command to the first SPARQL answer, and the resident memory
  (RSS) of the server plus its SPARQL workers then and after the first search;
- load: for each kind of request and level of concurrency, a bounded number of requests from client
  threads (each with a keep-alive connection): a SPARQL SELECT (a query from queries/, JSON) and a
  search page (`/?q=...`);
- flood: N clients repeat a slow SPARQL query (one that runs into the time limit) while one client
  times the search page and /void, compared with the same requests on the quiet server; also how
  the flood was answered (running, busy 503 with Retry-After, time limit 503) and how fast "busy" came.

Prints markdown tables; the load average is printed too, since the machine may be shared.

    python scripts/bench_server.py --store tsunagari-store                      # all three, ~2 min
    python scripts/bench_server.py --store STORE --parts startup
    python scripts/bench_server.py --store STORE --parts flood --flood 40 --timeout 10
"""
from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i FILTER(?c = ?i && ?a != ?g && ?e = ?h) }"
ASK = "/sparql?" + urlencode({"query": "ASK { ?s ?p ?o }"})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def get(port: int, path: str, timeout: float = 120) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Accept": "application/sparql-results+json, text/html"})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def start_server(store: str, port: int, options: list[str]) -> tuple[subprocess.Popen, float]:
    """The server process and the seconds it took to answer its first SPARQL query."""
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "kg", "serve", "--store", store, "--host", HOST,
                               "--port", str(port), *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}: is {store} a built store?")
        try:
            if get(port, ASK, timeout=5)[0] == 200:
                return server, time.perf_counter() - started
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit("the server did not start within 300 s")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    family, frontier = {pid}, [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        family.update(children)
        frontier += children
    total = 0
    for member in family:
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def run_level(port: int, clients: int, path: str, total: int) -> tuple[list[float], float, int]:
    """``total`` GETs of ``path`` over ``clients`` threads: latencies, wall time, answers other than 200."""
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=120)
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            start = time.perf_counter()
            connection.request("GET", path, headers={"Accept": "application/sparql-results+json, text/html"})
            response = connection.getresponse()
            response.read()
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                if response.status != 200:
                    failures.append(response.status)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - started, len(failures)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def probe(port: int, paths: dict[str, str], rounds: int) -> dict[str, list[float]]:
    """Sequential GETs of each path, ``rounds`` times: latencies per name (a non-200 answer stops the run)."""
    out: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, path in paths.items():
            start = time.perf_counter()
            status, _, body = get(port, path)
            out[name].append(time.perf_counter() - start)
            if status != 200:
                raise SystemExit(f"{path} answered {status}: {body[:200]!r}")
    return out


def flood(port: int, clients: int, seconds: float, paths: dict[str, str], rounds: int) -> tuple[dict, dict]:
    """``clients`` threads repeat the slow query while ``paths`` are probed: probe latencies, flood outcomes."""
    stop = threading.Event()
    outcomes: dict[str, list[float]] = {"200": [], "busy": [], "time limit": [], "other": []}
    lock = threading.Lock()
    slow = "/sparql?" + urlencode({"query": SLOW})

    def client() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            try:
                status, _, body = get(port, slow)
            except OSError:
                status, body = 0, b""
            kind = ("200" if status == 200 else "busy" if status == 503 and b"busy" in body
                    else "time limit" if status == 503 and b"time limit" in body else "other")
            with lock:
                outcomes[kind].append(time.perf_counter() - start)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(min(3.0, seconds / 4))               # let the queue fill
    latencies = probe(port, paths, rounds)
    time.sleep(max(0.0, seconds - sum(sum(v) for v in latencies.values())))
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    return latencies, outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="tsunagari-store")
    parser.add_argument("--parts", default="startup,load,flood", help="comma-separated: startup, load, flood")
    parser.add_argument("--clients", default="1,4,16", help="load: comma-separated concurrency levels")
    parser.add_argument("--requests", type=int, default=120, help="load: requests per kind and level")
    parser.add_argument("--query", type=Path, default=REPO / "queries" / "projects_by_target_group.rq")
    parser.add_argument("--search", default="不登校の中学生の居場所")
    parser.add_argument("--processes", type=int, default=2, help="SPARQL worker processes of the server")
    parser.add_argument("--timeout", type=float, default=10.0, help="the server's --timeout")
    parser.add_argument("--flood", type=int, default=40, help="flood: clients repeating the slow query")
    parser.add_argument("--flood-seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=20, help="flood: probes of each page")
    args = parser.parse_args()
    parts = set(args.parts.split(","))

    port = free_port()
    options = ["--processes", str(args.processes), "--timeout", str(args.timeout)]
    server, ready = start_server(args.store, port, options)
    pages = {"search page": "/?" + urlencode({"q": args.search}), "/void": "/void"}
    report: list[str] = []
    try:
        at_ready = rss_mb(server.pid)
        get(port, pages["search page"])
        after_search = rss_mb(server.pid)
        if "startup" in parts:
            report += ["| store | ready s | RSS at ready MB | RSS after first search MB |", "|---|---:|---:|---:|",
                       f"| {Path(args.store).name} | {ready:.1f} | {at_ready:.0f} | {after_search:.0f} |", ""]
        if "load" in parts:
            kinds = [(f"SPARQL `{args.query.name}`",
                      "/sparql?" + urlencode({"query": args.query.read_text(encoding="utf-8")})),
                     (f"search page `/?q={args.search}`", pages["search page"])]
            report += ["| request | clients | requests/s | p50 ms | p95 ms | errors |",
                       "|---|---:|---:|---:|---:|---:|"]
            for kind, path in kinds:
                run_level(port, 2, path, 6)                          # warm-up
                for clients in (int(c) for c in args.clients.split(",")):
                    latencies, wall, errors = run_level(port, clients, path, args.requests)
                    report.append(f"| {kind} | {clients} | {len(latencies) / wall:.1f} | "
                                  f"{statistics.median(latencies) * 1000:.0f} | "
                                  f"{percentile(latencies, 95) * 1000:.0f} | {errors} |")
            report.append("")
        if "flood" in parts:
            quiet = probe(port, pages, args.rounds)
            loud, outcomes = flood(port, args.flood, args.flood_seconds, pages, args.rounds)
            report += [f"| page | quiet p50 / p95 ms | under {args.flood} slow SPARQL clients p50 / p95 ms |",
                       "|---|---:|---:|"]
            for name in pages:
                report.append(f"| {name} | {statistics.median(quiet[name]) * 1000:.0f} / "
                              f"{percentile(quiet[name], 95) * 1000:.0f} | "
                              f"{statistics.median(loud[name]) * 1000:.0f} / {percentile(loud[name], 95) * 1000:.0f} |")
            report += ["", "| flood answers | count | p50 s |", "|---|---:|---:|"]
            for kind, values in outcomes.items():
                if values:
                    report.append(f"| {kind} | {len(values)} | {statistics.median(values):.2f} |")
            report.append("")
    finally:
        server.terminate()
        server.wait(timeout=30)
    load = os.getloadavg()[0]
    print(f"server: {args.processes} SPARQL processes, --timeout {args.timeout:g}; store {Path(args.store).name}; "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at the end\n")
    print("\n".join(report))


if __name__ == "__main__":
    main()
