"""Load figures for `tsunagari serve`: requests/s and latency under 1, 4 and 16 concurrent clients.

Starts the server as a subprocess on a free loopback port (127.0.0.1 only), then, for each kind of
request and each level of concurrency, runs a bounded number of requests from client threads (each
with a keep-alive connection): a SPARQL SELECT (a query from queries/, JSON results) and a search
page (`/?q=...`, which embeds the text with the store's model and ranks). Prints a markdown table.

    python scripts/bench_server.py --store tsunagari-store                 # ~1 min
    python scripts/bench_server.py --store STORE --clients 1,4 --requests 100
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_server(store: str, port: int, processes: int) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "kg.server.cli", "--store", store, "--host", HOST,
                               "--port", str(port), "--processes", str(processes)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}: is {store} a built store?")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=5)
            connection.request("GET", "/sparql", headers={"Accept": "text/turtle"})
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.25)
    server.kill()
    raise SystemExit("the server did not start within 180 s")


def run_level(port: int, clients: int, path: str, total: int) -> tuple[list[float], float, int]:
    """``total`` GETs of ``path`` over ``clients`` threads: latencies, wall time, answers other than 200.

    A non-200 answer (503 when every SPARQL process stayed busy past --timeout) counts as an error.
    """
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=60)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="tsunagari-store")
    parser.add_argument("--clients", default="1,4,16", help="comma-separated concurrency levels")
    parser.add_argument("--requests", type=int, default=120, help="requests per kind and level")
    parser.add_argument("--query", type=Path, default=REPO / "queries" / "projects_by_target_group.rq")
    parser.add_argument("--search", default="不登校の中学生の居場所")
    parser.add_argument("--processes", type=int, default=2, help="SPARQL worker processes of the server")
    args = parser.parse_args()

    kinds = [(f"SPARQL `{args.query.name}`", "/sparql?" + urlencode({"query": args.query.read_text(encoding="utf-8")})),
             (f"search page `/?q={args.search}`", "/?" + urlencode({"q": args.search}))]
    port = free_port()
    server = start_server(args.store, port, args.processes)
    rows = []
    try:
        for kind, path in kinds:
            run_level(port, 2, path, 6)                          # warm-up (parse cache, model)
            for clients in (int(c) for c in args.clients.split(",")):
                latencies, wall, errors = run_level(port, clients, path, args.requests)
                rows.append((kind, clients, len(latencies) / wall, statistics.median(latencies) * 1000,
                             percentile(latencies, 95) * 1000, errors))
    finally:
        server.terminate()
        server.wait(timeout=30)
    load = os.getloadavg()[0]
    print(f"{args.requests} requests per row; server with {args.processes} SPARQL processes; "
          f"store {Path(args.store).name}; {os.cpu_count()} CPUs, load average {load:.1f} at the end\n")
    print("| request | clients | requests/s | p50 ms | p95 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind, clients, rate, p50, p95, errors in rows:
        print(f"| {kind} | {clients} | {rate:.1f} | {p50:.0f} | {p95:.0f} | {errors} |")


if __name__ == "__main__":
    main()
