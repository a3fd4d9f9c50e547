"""`tsunagari sparql`, `export` and `validate`: the graph itself."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from kg.api import EXPORT_FORMATS
from kg.cli.common import SafeOutput, echo_text, open_store, stdout_is_terminal, store_option, translate_errors


def _bindings(context, parameter, items: tuple[str, ...]) -> dict[str, str]:
    """--bind NAME=VALUE pairs as a dict; anything else is a usage error."""
    bindings = {}
    for item in items:
        name, equals, value = item.partition("=")
        name = name.lstrip("?$")
        if not equals or not re.fullmatch(r"\w+", name):
            raise click.BadParameter(f"{item!r}: expected NAME=VALUE, NAME a query variable without '?' "
                                     "(e.g. --bind region_code=312011)", context, parameter)
        bindings[name] = value
    return bindings


@click.command()
@click.argument("query")
@store_option
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "tsv", "srj", "srx"]), default="table",
              show_default=True, help="Ours: table, csv (formula-like cells get a leading ', as in `export`), json "
                                      "(a list of records). SPARQL's: tsv, srj (results JSON), srx (results XML).")
@click.option("--bind", multiple=True, metavar="NAME=VALUE", callback=_bindings,
              help="Bind a query variable to a string value (repeatable).")
@click.option("--engine", type=click.Choice(["auto", "rdflib", "oxigraph"]), default="auto", show_default=True,
              help="SPARQL engine: the store's embedded Oxigraph database, or rdflib (parses graph.nt; the "
                   "reference). 'auto': Oxigraph whenever the store has it.")
@translate_errors
def sparql(query, store, fmt, bind, engine) -> None:
    """Run a SPARQL query given inline or as a .rq file (see queries/); the answer is streamed to stdout."""
    from kg.export import spreadsheet_cell
    from kg.sparql import read_query

    result = open_store(store).sparql(read_query(query), bind, engine=engine)
    out = SafeOutput()
    result.write(out, fmt, cell=spreadsheet_cell if fmt == "csv" else None)
    out.close()


@click.command()
@store_option
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="turtle", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Write to a file instead of standard output.")
@translate_errors
def export(store, fmt, out) -> None:
    """Export the graph (turtle, jsonld, nt), the network (graphml, gexf) or the projects (csv)."""
    data = open_store(store).export(fmt)
    if out:
        out.write_bytes(data)
        echo_text(f"wrote {out} ({len(data)} bytes)", err=True)
    elif stdout_is_terminal():      # exact bytes to a file or a pipe; nothing that drives a terminal
        echo_text(data.decode("utf-8"), nl=False)
    else:
        sys.stdout.buffer.write(data)


@click.command()
@store_option
@translate_errors
def validate(store) -> None:
    """Check every node of the stored graph against the SHACL shapes; exit 1 if it does not conform."""
    result = open_store(store).validate()
    echo_text(result.text)
    if not result.conforms:
        click.get_current_context().exit(1)


COMMANDS = [sparql, export, validate]
