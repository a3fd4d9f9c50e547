"""SPARQL in worker processes: each holds the parsed graph; a query past the time limit kills its worker.

rdflib evaluates a query in pure Python and cannot be interrupted from another thread, so every query
runs in one of a few worker processes (fresh interpreters, not forks: the server has threads). The
server waits for the answer at most ``timeout`` seconds; then it kills that worker, starts a fresh one
in its place and answers 503. The other workers go on serving meanwhile.

A worker does all of the rdflib work for a request: it refuses updates, parses, checks the query is
local (no SERVICE, no FROM), picks the result format, runs the query with the row cap, and serialises.
"""
from __future__ import annotations

import functools
import itertools
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from kg.errors import KgError
from kg.server import formats
from kg.server.guard import first_update_keyword, update_keyword_anywhere

log = logging.getLogger("kg.server")
TEXT = "text/plain; charset=utf-8"
STARTUP_SECONDS = 120.0     # parsing a large graph in a fresh worker may take a while; not the query's time

READ_ONLY = ("this endpoint is read-only: SPARQL Update ({}) is refused — "
             "send a query (SELECT, ASK, CONSTRUCT or DESCRIBE); rebuild the store with `tsunagari build` to change it")


class WorkerError(KgError):
    """A SPARQL worker process could not start or died."""


@dataclass(frozen=True)
class Job:
    """One request for a worker: the query text and what the client asked for."""

    query: str
    accept: str | None = None
    fmt: str | None = None
    max_rows: int = 10_000


@dataclass(frozen=True)
class Reply:
    """An HTTP answer, ready to send: status, media type, body and extra headers."""

    status: int
    media_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def text(cls, status: int, message: str, **headers: str) -> "Reply":
        return cls(status, TEXT, (message + "\n").encode("utf-8"), tuple(headers.items()))


def refuse_update(what: str) -> Reply:
    return Reply.text(403, READ_ONLY.format(what))


# -- inside a worker --------------------------------------------------------------------------------

def answer(graph, job: Job) -> Reply:
    """Run one job on a graph and serialise the result (what a worker does; also callable in-process)."""
    keyword = first_update_keyword(job.query)
    if keyword:
        return refuse_update(keyword)
    try:
        prepared = _prepare(job.query)
    except Exception as error:   # pyparsing and rdflib raise their own types
        keyword = update_keyword_anywhere(job.query)
        if keyword:
            return refuse_update(keyword)
        return Reply.text(400, f"SPARQL syntax error: {error}")
    algebra = prepared.algebra
    what = algebra.name.removesuffix("Query").upper()
    if algebra.get("datasetClause"):
        return Reply.text(400, "FROM and FROM NAMED are not supported: this endpoint has one default graph "
                               "— remove the dataset clause")
    if _uses_service(algebra):
        return Reply.text(400, "SERVICE (federated query) is not allowed on this endpoint — query the local graph")
    offers = formats.GRAPH_FORMATS if what in ("CONSTRUCT", "DESCRIBE") else formats.TABLE_FORMATS
    try:
        key = formats.choose(offers, job.accept, job.fmt, what)
    except formats.NotAcceptable as error:
        return Reply.text(error.status, str(error))
    try:
        result = graph.query(prepared)
        if what == "ASK":
            return Reply(200, formats.media_type(offers, key), formats.write_boolean(key, bool(result.askAnswer)))
        if what == "SELECT":
            columns = [str(v) for v in result.vars]
            rows = [tuple(row) for row in itertools.islice(result, job.max_rows + 1)]
            body = formats.write_table(key, columns, rows[:job.max_rows])
            truncated = len(rows) > job.max_rows
        else:
            triples = list(itertools.islice(result.graph, job.max_rows + 1))
            body = formats.write_graph(key, _graph_of(triples[:job.max_rows]))
            truncated = len(triples) > job.max_rows
    except Exception as error:
        return Reply.text(500, f"SPARQL query failed while running: {type(error).__name__}: {error}")
    headers = (("X-SPARQL-MaxRows", str(job.max_rows)),) if truncated else ()
    return Reply(200, formats.media_type(offers, key), body, headers)


@functools.lru_cache(maxsize=256)
def _prepare(text: str):
    """The parsed query; cached, since rdflib's parser takes longer than most queries take to run."""
    from rdflib.plugins.sparql import prepareQuery

    from kg.vocab import PREFIXES

    return prepareQuery(text, initNs=PREFIXES)


def _uses_service(node: Any) -> bool:
    if getattr(node, "name", None) == "ServiceGraphPattern":
        return True
    if isinstance(node, dict):
        return any(_uses_service(v) for v in node.values())
    if isinstance(node, (list, tuple)):
        return any(_uses_service(v) for v in node)
    return False


def _graph_of(triples):
    from kg.rdf import new_graph

    graph = new_graph()
    for triple in triples:
        graph.add(triple)
    return graph


def _worker_main(conn) -> None:
    """The loop of a worker process: receive and parse the graph, then answer jobs until the pipe closes."""
    import rdflib.plugins.sparql

    from kg.rdf import new_graph

    signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C stops the server, which stops us
    rdflib.plugins.sparql.SPARQL_LOAD_GRAPHS = False   # never fetch graphs over the network
    graph = new_graph()
    graph.parse(data=conn.recv_bytes(), format="nt")
    conn.send("ready")
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            reply = answer(graph, job)
        except Exception as error:  # never let a worker die on a bad request
            reply = Reply.text(500, f"SPARQL query failed: {type(error).__name__}: {error}")
        conn.send(reply)


# -- in the server ----------------------------------------------------------------------------------

class _Worker:
    """One worker: a fresh interpreter (``python -m kg.server._child``) talking over a socket pair.

    Not multiprocessing's spawn: that re-runs the parent's ``__main__`` (a script, stdin, a notebook)
    in every child.
    """

    def __init__(self, ntriples: bytes) -> None:
        ours, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.process = subprocess.Popen([sys.executable, "-m", "kg.server._child", str(theirs.fileno())],
                                        pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=env)
        theirs.close()
        self.conn = Connection(ours.detach())
        # The graph is larger than a socket buffer: send it from a thread, so starting a worker never blocks.
        threading.Thread(target=self._send_graph, args=(ntriples,), daemon=True).start()
        self.ready = False

    def _send_graph(self, ntriples: bytes) -> None:
        try:
            self.conn.send_bytes(ntriples)
        except OSError:      # the worker was stopped before it read the graph
            pass

    def wait_ready(self, seconds: float) -> None:
        if not self.ready:
            if not self.conn.poll(seconds):
                raise WorkerError(f"a SPARQL worker process did not start within {seconds:g} s")
            try:
                self.conn.recv()
            except EOFError:
                raise WorkerError(f"a SPARQL worker process exited with code {self.process.wait(timeout=10)} "
                                  "before it was ready — its error is printed above") from None
            self.ready = True

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.conn.close()


class QueryPool:
    """A few worker processes holding the graph; ``run`` is blocking (call it from a thread).

    >>> pool = QueryPool(graph.serialize(format="nt", encoding="utf-8"), timeout=10)   # doctest: +SKIP
    >>> pool.start(); pool.run(Job("ASK { ?s ?p ?o }", fmt="json")).status            # doctest: +SKIP
    200
    """

    def __init__(self, ntriples: bytes, *, timeout: float, processes: int = 2) -> None:
        self.ntriples = ntriples
        self.timeout = timeout
        self.processes = processes
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False

    def start(self) -> None:
        """Start the workers and wait until each has parsed the graph (on failure, stop them all)."""
        workers = [self._spawn() for _ in range(self.processes)]
        try:
            for worker in workers:
                worker.wait_ready(STARTUP_SECONDS)
                self._idle.put(worker)
        except BaseException:
            self.close()
            raise

    def _spawn(self) -> _Worker:
        worker = _Worker(self.ntriples)
        with self._lock:
            self._all.add(worker)
        return worker

    def _replace(self, worker: _Worker) -> None:
        worker.stop()
        with self._lock:
            self._all.discard(worker)
            if self._closed:
                return
        self._idle.put(self._spawn())

    def run(self, job: Job) -> Reply:
        """Answer a job within the time limit, or kill its worker and answer 503."""
        try:
            worker = self._idle.get(timeout=self.timeout)
        except queue.Empty:
            return Reply.text(503, f"all {self.processes} query processes are busy — try again in a moment",
                              **{"Retry-After": "2"})
        try:
            worker.wait_ready(STARTUP_SECONDS)
            worker.conn.send(job)
            if worker.conn.poll(self.timeout):
                reply = worker.conn.recv()
                self._idle.put(worker)
                return reply
        except (EOFError, OSError, WorkerError) as error:
            log.error("query process failed: %s", error)
            self._replace(worker)
            return Reply.text(500, f"the query process failed ({error}) and was restarted — try again")
        log.warning("query stopped after %.1f s (time limit); restarting its process", self.timeout)
        self._replace(worker)
        return Reply.text(503, f"query stopped: it hit the time limit of {self.timeout:g} s — make it cheaper "
                               "(more specific patterns, LIMIT) or run it locally with `tsunagari sparql`",
                          **{"Retry-After": "1"})

    def close(self) -> None:
        """Stop every worker."""
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.stop()
