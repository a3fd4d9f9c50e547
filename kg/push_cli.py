"""`tsunagari push`: replace the store's named graphs in a triple store (SPARQL 1.1 Graph Store Protocol).

The command attaches itself to the `tsunagari` group when this module is imported (``kg/cli.py`` imports
it at its end).
"""
from __future__ import annotations

import click

from kg.api import Tsunagari
from kg.cli import cli, store_option, translate_errors


@cli.command()
@click.option("--endpoint", required=True, metavar="URL",
              help="Graph Store Protocol endpoint, e.g. http://127.0.0.1:7878/store (Oxigraph) or "
                   "http://localhost:3030/ds/data (Fuseki).")
@store_option
@click.option("--graph-base", metavar="IRI",
              help="Graphs are named IRI/graph/<source sha>, IRI/graph/shared, IRI/graph/schema, IRI/graph/catalog "
                   "[default: https://w3id.org/tsunagari].")
@click.option("--update-endpoint", metavar="URL",
              help="SPARQL Update endpoint (default: guessed from --endpoint: …/store or …/data -> …/update).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="Seconds to wait for each request.")
@translate_errors
def push(endpoint, store, graph_base, update_endpoint, timeout) -> None:
    """Push the graph to a triple store: one named graph per source file, all replaced or none.

    Pushing again replaces the same graphs (idempotent); a graph whose source left the store is dropped.
    """
    from kg.push import DEFAULT_GRAPH_BASE, push as push_graphs     # rdflib loads only when pushing

    report = push_graphs(Tsunagari.open(store), endpoint, graph_base=graph_base or DEFAULT_GRAPH_BASE,
                         update_endpoint=update_endpoint, timeout=timeout)
    for graph in report.graphs:
        label = f"  ({graph.source})" if graph.source else ""
        click.echo(f"{graph.triples:>7} triples  <{graph.iri}>  {graph.role}{label}")
    for iri in report.dropped:
        click.echo(f"dropped <{iri}> (its source is no longer in the store)")
    click.echo(f"pushed {len(report.graphs)} graphs, {report.triples} triples to {endpoint} in {report.seconds:.1f}s")
