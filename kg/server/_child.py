"""Entry point of a SPARQL worker process: ``python -m kg.server._child FD`` (started by kg.server.worker).

In order: leave the network (a namespace of its own, while the process still has one thread, as the
kernel requires), open the Oxigraph folder read-only, cap the heap, say "ready", then answer jobs until
the pipe closes. Every message back is ``(kind, value)``: ("ready", notes), ("failed", message),
("reply", Reply), ("memory", None) or ("retire", Reply) — the last two end the process.
"""
from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
from multiprocessing.connection import Connection

CLONE_NEWUSER, CLONE_NEWNET = 0x10000000, 0x40000000
HEADROOM = 64 * 1024 * 1024      # a memory limit must leave at least this above what opening the store took


def leave_the_network() -> str | None:
    """Move this process into new user and network namespaces (no interfaces up); None, or why not."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
            return os.strerror(ctypes.get_errno())
    except (OSError, AttributeError) as error:
        return str(error)
    return None


def heap_bytes() -> int:
    """This process's data segment (heap and private writable mappings) as the kernel counts it for RLIMIT_DATA."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:      # no /proc (not Linux): no estimate
        pass
    return 0


def main(conn: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C stops the server, which stops us
    isolated = leave_the_network()
    settings = conn.recv()
    import pyoxigraph                                   # not kg.engines: workers never import rdflib

    from kg.server.answer import Reply, answer

    try:
        store = pyoxigraph.Store.read_only(settings["folder"])
    except (OSError, ValueError) as error:
        conn.send(("failed", f"a SPARQL worker could not open {settings['folder']}: {error}"))
        return
    notes = []
    if isolated is not None:
        notes.append(f"SPARQL workers keep network access (no network namespace: {isolated}); "
                     "SERVICE is still refused before any query runs")
    limit = settings["max_memory"]
    if limit:
        needed = heap_bytes() + HEADROOM
        if limit < needed:
            conn.send(("failed", f"--max-memory {limit / 1e6:,.0f} MB is too small: a SPARQL worker needs about "
                                 f"{needed / 1e6:,.0f} MB to open this store — give it more"))
            return
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    conn.send(("ready", notes))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            conn.send(("reply", answer(store, job, settings["prefixes"])))
        except MemoryError:
            conn.send(("memory", None))
            return
        except BaseException as error:   # pyo3's PanicException is a BaseException: an Oxigraph bug
            conn.send(("retire", Reply.text(500, f"the SPARQL engine failed on this query ({error}) — "
                                                 "the query process was restarted")))
            return


if __name__ == "__main__":
    main(Connection(int(sys.argv[1])))
