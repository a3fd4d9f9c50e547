"""`tsunagari serve`: the click command; kg/cli.py registers it with ``cli.add_command(serve)``.

The --store option and error translation are written out here rather than imported from kg.cli, so
that kg.cli can import this module at its end without an import cycle.
"""
from __future__ import annotations

from pathlib import Path

import click

from kg.api import DEFAULT_STORE
from kg.errors import KgError


@click.command()
@click.option("--store", type=click.Path(path_type=Path), default=DEFAULT_STORE, show_default=True,
              help="Store folder.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (127.0.0.1: this machine only).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="TCP port.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds a SPARQL query may run; then it is stopped (503) and its process replaced.")
@click.option("--max-rows", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Most rows (or triples) in a SPARQL answer; a cut answer has the X-SPARQL-MaxRows header.")
@click.option("--processes", type=click.IntRange(1, 32), default=2, show_default=True,
              help="SPARQL worker processes (each holds a copy of the graph).")
def serve(store, host, port, timeout, max_rows, processes) -> None:
    """Serve the search pages and a read-only SPARQL endpoint (/sparql) over HTTP."""
    try:
        import uvicorn

        from kg.api import Tsunagari
        from kg.server.app import create_app
    except ImportError as error:
        raise click.ClickException(f"{error} — install the server dependencies: pip install -e .") from None
    try:
        app = create_app(Tsunagari.open(store), timeout=timeout, max_rows=max_rows, processes=processes)
    except KgError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"serving {store} on http://{host}:{port}/ (SPARQL at /sparql); Ctrl-C stops", err=True)
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)


if __name__ == "__main__":   # python -m kg.server.cli: the same as `tsunagari serve`
    serve(prog_name="tsunagari serve")
