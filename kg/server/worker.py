"""SPARQL in worker processes, each with the store's Oxigraph database open read-only, behind a bounded queue.

A query runs in one of a few worker processes (fresh interpreters, not forks: the server has threads),
so that every limit holds whatever the query does:

- time: the server waits at most ``timeout`` seconds, then kills the worker and answers 503;
- memory: each worker's heap is capped (``RLIMIT_DATA``); a query that needs more makes its worker
  abort (or raise MemoryError), and the server answers 503 and starts a fresh worker;
- network: where the kernel allows, a worker runs in a network namespace of its own, with no network;
- queue: at most ``queue`` requests wait for a worker, without holding a thread; beyond, and after
  waiting ``timeout`` seconds, the answer is 503 "busy" with Retry-After, at once.

The other workers go on serving meanwhile; a replaced worker opens the database again in well under a
second, since nothing is parsed.

    >>> pool = QueryPool(generation / "oxigraph", timeout=10)           # doctest: +SKIP
    >>> pool.start(); pool.run(Job("ASK { ?s ?p ?o }", fmt="json")).status          # doctest: +SKIP
    200
"""
from __future__ import annotations

import asyncio
import logging
import math
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path

from kg.errors import KgError
from kg.server.answer import Job, Reply, refuse_update

log = logging.getLogger("kg.server")
STARTUP_SECONDS = 60.0      # a fresh worker only opens the database: seconds at most, even on a busy machine

__all__ = ["QueryPool", "Job", "Reply", "WorkerError", "refuse_update"]


class WorkerError(KgError):
    """A SPARQL worker process could not start or died."""


class _Worker:
    """One worker: a fresh interpreter (``python -m kg.server._child``) talking over a socket pair.

    Not multiprocessing's spawn: that re-runs the parent's ``__main__`` (a script, stdin, a notebook)
    in every child.
    """

    def __init__(self, folder: Path, max_memory: int | None, prefixes: dict[str, str]) -> None:
        ours, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "RUST_BACKTRACE": "0"}
        try:
            self.process = subprocess.Popen([sys.executable, "-m", "kg.server._child", str(theirs.fileno())],
                                            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=env)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.conn.send({"folder": str(folder), "max_memory": max_memory, "prefixes": prefixes})
        self.ready = False
        self.notes: list[str] = []

    def wait_ready(self, seconds: float) -> None:
        if self.ready:
            return
        if not self.conn.poll(seconds):
            raise WorkerError(f"a SPARQL worker process did not start within {seconds:g} s")
        try:
            kind, detail = self.conn.recv()
        except EOFError:
            raise WorkerError(f"a SPARQL worker process exited with code {self.process.wait(timeout=10)} "
                              "before it was ready — its error is printed above") from None
        if kind != "ready":
            raise WorkerError(detail)
        self.notes = list(detail)
        self.ready = True

    def exit_code(self) -> int | None:
        """The worker's exit status once it has died (negative: killed by that signal), else None."""
        try:
            return self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.conn.close()


class QueryPool:
    """A few worker processes on one Oxigraph folder; ``answer`` (async) queues, ``run`` (blocking) does one job.

    Args:
        folder: the Oxigraph database (a generation's ``oxigraph/``), opened read-only by each worker.
        timeout: seconds a query may run, and seconds a request may wait for a free worker.
        processes: worker processes (queries running at once).
        max_memory: bytes of heap per worker (None: no limit).
        queue_size: requests that may wait for a worker; more get 503 "busy" at once.
        prefixes: name -> namespace IRI, predeclared for every query.
    """

    def __init__(self, folder: Path, *, timeout: float, processes: int = 2, max_memory: int | None = None,
                 queue_size: int = 16, prefixes: dict[str, str] | None = None) -> None:
        self.folder = Path(folder)
        self.prefixes = dict(prefixes or {})
        self.timeout = timeout
        self.processes = processes
        self.max_memory = max_memory
        self.queue_size = queue_size
        self.notes: list[str] = []
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: set[_Worker] = set()
        self._refilling = threading.Lock()
        self._lock = threading.Lock()
        self._closed = False
        self._executor = ThreadPoolExecutor(max_workers=processes, thread_name_prefix="sparql")
        self._slots: asyncio.Semaphore | None = None
        self._launched: list[_Worker] = []
        self._waiting = 0
        self._running = 0

    def launch(self) -> None:
        """Start the worker processes without waiting for them (they open the database meanwhile)."""
        with self._lock:
            missing = self.processes - len(self._all)
        self._launched = [*self._launched, *(self._spawn() for _ in range(missing))]

    def start(self) -> None:
        """Start the workers (unless ``launch`` did) and wait until each has opened the database
        (on failure, stop them all)."""
        self.launch()
        workers, self._launched = self._launched, []
        try:
            for worker in workers:
                worker.wait_ready(STARTUP_SECONDS)
                self._idle.put(worker)
        except BaseException:
            self.close()
            raise
        self.notes = workers[0].notes if workers else self.notes

    @property
    def waiting(self) -> int:
        """Requests waiting for a worker now."""
        return self._waiting

    @property
    def running(self) -> int:
        """Requests holding a worker now (through ``answer``)."""
        return self._running

    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        with self._lock:
            return sorted(w.process.pid for w in self._all)

    def _spawn(self) -> _Worker:
        worker = _Worker(self.folder, self.max_memory, self.prefixes)
        with self._lock:
            self._all.add(worker)
        return worker

    def _replace(self, worker: _Worker) -> None:
        worker.stop()
        with self._lock:
            self._all.discard(worker)
        self._refill()

    def _refill(self) -> None:
        """Start workers up to ``processes``. One that cannot start (no file descriptors or memory left,
        say under a flood of connections) is tried again at the next query instead of being lost."""
        with self._refilling:
            while True:
                with self._lock:
                    if self._closed or len(self._all) >= self.processes:
                        return
                try:
                    self._idle.put(self._spawn())
                except OSError as error:
                    log.error("cannot start a query process (%s); trying again at the next query", error)
                    return

    async def answer(self, job: Job) -> Reply:
        """Answer a job without holding a thread while it waits: queue it, or say "busy" at once.

        Only ``processes`` threads (one per running query, in this pool's own executor) ever wait on
        workers, so the server's shared thread pool stays free for pages.
        """
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.processes)
        if self._slots.locked() and self._waiting >= self.queue_size:
            return self._busy(f"{self.processes} queries are running and {self._waiting} waiting")
        self._waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=self.timeout)
        except asyncio.TimeoutError:
            return self._busy(f"no query process was free within {self.timeout:g} s")
        finally:
            self._waiting -= 1
        self._running += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, self.run, job)
        finally:
            self._running -= 1
            self._slots.release()

    def _busy(self, why: str) -> Reply:
        retry = str(max(1, math.ceil(self.timeout / 2)))
        return Reply.text(503, f"the SPARQL endpoint is busy: {why} — try again in {retry} s", **{"Retry-After": retry})

    def run(self, job: Job) -> Reply:
        """Answer a job within the time limit, or stop its worker and answer 503 (blocking; thread-safe)."""
        self._refill()
        try:
            worker = self._idle.get(timeout=self.timeout)
        except queue.Empty:
            return self._busy(f"no query process was free within {self.timeout:g} s")
        try:
            worker.wait_ready(STARTUP_SECONDS)
            worker.conn.send(job)
            if worker.conn.poll(self.timeout):
                kind, reply = worker.conn.recv()
                if kind == "reply":
                    self._idle.put(worker)
                    return reply
                self._replace(worker)                        # it ran out of memory, or its engine broke
                return self.over_memory() if kind == "memory" else reply
        except (EOFError, OSError, WorkerError) as error:
            code = worker.exit_code()
            self._replace(worker)
            if code == -signal.SIGABRT and self.max_memory:   # Oxigraph aborts when an allocation fails
                log.warning("query stopped: its process reached the memory limit; restarting it")
                return self.over_memory()
            log.error("query process failed (exit code %s): %s", code, error)
            return Reply.text(500, "the query process failed and was restarted — try again; "
                                   "if it fails again, the server log has the details")
        log.warning("query stopped after %.1f s (time limit); restarting its process", self.timeout)
        self._replace(worker)
        return Reply.text(503, f"query stopped: it hit the time limit of {self.timeout:g} s — make it cheaper "
                               "(more specific patterns, LIMIT) or run it locally with `tsunagari sparql`",
                          **{"Retry-After": "1"})

    def over_memory(self) -> Reply:
        """The 503 for a query that needed more memory than a worker may use."""
        limit = f"{self.max_memory / 1e6:,.0f} MB" if self.max_memory else "the limit"
        return Reply.text(503, f"query stopped: it needed more memory than the limit of {limit} per query process "
                               "— make it cheaper (fewer rows before ORDER BY, GROUP BY or DISTINCT; shorter "
                               "strings; a LIMIT) or run it locally with `tsunagari sparql`", **{"Retry-After": "1"})

    def close(self) -> None:
        """Stop every worker."""
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.stop()
        self._executor.shutdown(wait=False, cancel_futures=True)
