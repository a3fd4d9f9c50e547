"""`tsunagari serve`: the search pages and the SPARQL endpoint over HTTP (uvicorn loads only when it runs)."""
from __future__ import annotations

import errno
import os
import re
import socket

import click

from kg.cli.common import echo_text, fail, open_store, store_option, translate_errors


class Size(click.ParamType):
    """A size in bytes written as 500000, 20MB, 1.5GB or 512MiB (0 or "none": no limit)."""

    name = "size"
    UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000 ** 2, "gb": 1000 ** 3,
             "kib": 1024, "mib": 1024 ** 2, "gib": 1024 ** 3, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}

    def convert(self, value, param, ctx) -> int | None:
        if value is None or isinstance(value, int):
            return value or None
        text = str(value).strip().lower().replace(" ", "")
        found = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([a-z]*)", text)
        if text == "none" or (found and float(found.group(1)) == 0):
            return None
        if not found or found.group(2) not in self.UNITS:
            self.fail(f"{value!r} is not a size — write e.g. 20MB, 1GB or 512MiB (0: no limit)", param, ctx)
        return int(float(found.group(1)) * self.UNITS[found.group(2)])


@click.command()
@store_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (127.0.0.1: this machine only).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="TCP port.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds a SPARQL query may run; then it is stopped (503) and its process replaced.")
@click.option("--max-rows", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Most rows (or triples) in a SPARQL answer; a cut answer has the X-SPARQL-MaxRows header.")
@click.option("--max-bytes", type=Size(), default="20MB", show_default=True,
              help="Most bytes in a SPARQL answer; a cut answer has the X-SPARQL-MaxBytes header (0: no limit).")
@click.option("--max-memory", type=Size(), default="1GiB", show_default=True,
              help="Memory each SPARQL worker may use; a query needing more gets 503 and its worker is "
                   "replaced (0: no limit).")
@click.option("--processes", type=click.IntRange(1, 32), default=2, show_default=True,
              help="SPARQL worker processes (queries running at once; each opens the store read-only).")
@click.option("--queue", type=click.IntRange(0, 10_000), default=16, show_default=True,
              help="SPARQL requests that may wait for a worker; more get 503 'busy' with Retry-After at once.")
@translate_errors
def serve(store, host, port, timeout, max_rows, max_bytes, max_memory, processes, queue) -> None:
    """Serve the search pages and a read-only SPARQL endpoint (/sparql) over HTTP."""
    try:
        import uvicorn

        from kg.server.app import create_app
        from kg.server.connection import server_config
    except ImportError as error:
        raise click.ClickException(f"{error} — install the server dependencies: pip install -e .") from None
    opened = open_store(store)
    listening = listen(host, port)    # before the workers start: a port in use is one clear line
    app = create_app(opened, timeout=timeout, max_rows=max_rows, processes=processes,
                     max_bytes=max_bytes, max_memory=max_memory, queue=queue)
    app.state.site.warm()            # start the workers here, so a failure is one clear line
    address = listening.getsockname()
    shown = f"[{address[0]}]" if listening.family == socket.AF_INET6 else address[0]
    echo_text(f"serving {store} on http://{shown}:{address[1]}/ (SPARQL at /sparql); Ctrl-C stops", err=True)
    uvicorn.Server(server_config(app, log_level="info")).run(sockets=[listening])


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: any free one), or one clear error."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family)
    except OSError as error:
        # A name that does not resolve has an EAI code, not an errno: its own text says it.
        reason = str(error) if isinstance(error, socket.gaierror) or not error.errno else os.strerror(error.errno)
        hint = ("another program listens there: stop it, or pick another --port (0: any free one)"
                if error.errno == errno.EADDRINUSE else "check --host and --port")
        raise fail(f"cannot listen on {host}:{port} ({reason}) — {hint}") from None


COMMANDS = [serve]
