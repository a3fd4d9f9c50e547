"""`tsunagari sparql`, `export` and `validate`: the graph itself."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from kg.api import EXPORT_FORMATS
from kg.cli.common import SafeOutput, echo_text, fail, open_store, stdout_is_terminal, store_option, translate_errors


def _bindings(context, parameter, items: tuple[str, ...]) -> dict[str, str]:
    """--bind NAME=VALUE pairs as a dict; anything else is a usage error."""
    bindings: dict[str, str] = {}
    for item in items:
        name, equals, value = item.partition("=")
        name = name.lstrip("?$")
        if not equals or not re.fullmatch(r"\w+", name):
            raise click.BadParameter(f"{item!r}: expected NAME=VALUE, NAME a query variable without '?' "
                                     "(e.g. --bind region_code=312011)", context, parameter)
        if name in bindings:
            raise click.BadParameter(f"{name} is bound twice ({bindings[name]!r} and {value!r}) — give each "
                                     "variable one value", context, parameter)
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
    from kg.parameters import parameter_notes
    from kg.server.answer import syntax_message
    from kg.sparql import QuerySyntaxError, read_query
    from kg.vocab import PREFIXES

    text = read_query(query)
    try:
        result = open_store(store).sparql(text, bind, engine=engine)
    except QuerySyntaxError as error:      # where and what was expected, as the endpoint says it
        raise fail(syntax_message(text, error.detail, None, {k: str(v) for k, v in PREFIXES.items()})) from None
    out = SafeOutput()
    written = result.write(out, fmt, cell=spreadsheet_cell if fmt == "csv" else None)
    out.close()
    if bind and written == 0:
        # A bound value in the wrong form (a name for a code, "13" for "130000") matches nothing.
        given = ", ".join(f"{name}={value!r}" for name, value in bind.items())
        forms = parameter_notes(text)
        echo_text(f"no rows for {given}" + (f" — the query expects {forms}" if forms else ""), err=True)


@click.command()
@store_option
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="turtle", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Write to a file instead of standard output.")
@translate_errors
def export(store, fmt, out) -> None:
    """Export the graph (turtle, jsonld, nt), the network (graphml, gexf) or the projects (csv)."""
    if out and not out.parent.is_dir():
        raise fail(f"{out.parent}: no such folder — create it first, or write --out somewhere that exists")
    data = open_store(store).export(fmt)
    if out:
        try:
            out.write_bytes(data)
        except OSError as error:
            raise fail(f"{out}: cannot write ({error.strerror})") from None
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
