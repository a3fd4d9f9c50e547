"""`tsunagari push`: replace the store's named graphs in a triple store (SPARQL 1.1 Graph Store Protocol).
"""
from __future__ import annotations

import click

from kg.cli.common import echo_text, open_store, store_option, translate_errors


@click.command()
@click.option("--endpoint", required=True, metavar="URL",
              help="Graph Store Protocol endpoint, e.g. http://127.0.0.1:7878/store (Oxigraph) or "
                   "http://localhost:3030/ds/data (Fuseki); http://USER:PASSWORD@host/... sends basic auth.")
@store_option
@click.option("--graph-base", metavar="IRI",
              help="Graphs are named IRI/graph/<source sha>, IRI/graph/shared, IRI/graph/schema, IRI/graph/catalog "
                   "[default: https://w3id.org/tsunagari].")
@click.option("--update-endpoint", metavar="URL",
              help="SPARQL Update endpoint (default: guessed from --endpoint: …/store or …/data -> …/update).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="Seconds to wait for each request.")
@click.option("--user", envvar="TSUNAGARI_PUSH_USER", show_envvar=True, metavar="NAME",
              help="User for HTTP basic auth; the password comes from --password, TSUNAGARI_PUSH_PASSWORD "
                   "or a prompt.")
@click.option("--password", envvar="TSUNAGARI_PUSH_PASSWORD", show_envvar=True, metavar="TEXT",
              help="Password for --user (prefer the environment variable: a command line is visible to others).")
@translate_errors
def push(endpoint, store, graph_base, update_endpoint, timeout, user, password) -> None:
    """Push the graph to a triple store: one named graph per source file, all replaced or none.

    Pushing again replaces the same graphs (idempotent); a graph whose source left the store is dropped.
    """
    from kg.push import DEFAULT_GRAPH_BASE, push as push_graphs     # rdflib loads only when pushing

    kg = open_store(store)
    if user is not None and password is None:
        password = click.prompt(f"password for {user}", hide_input=True)
    auth = (user, password) if user is not None else None
    report = push_graphs(kg, endpoint, graph_base=graph_base or DEFAULT_GRAPH_BASE,
                         update_endpoint=update_endpoint, timeout=timeout, auth=auth)
    for graph in report.graphs:
        label = f"  ({graph.source})" if graph.source else ""
        echo_text(f"{graph.triples:>7} triples  <{graph.iri}>  {graph.role}{label}")
    for iri in report.dropped:
        echo_text(f"dropped <{iri}> (its source is no longer in the store)")
    for iri in report.ignored:
        echo_text(f"left alone <{iri}>: the catalog lists it, but it is not a graph this push names under "
                  "--graph-base")
    echo_text(f"pushed {len(report.graphs)} graphs, {report.triples} triples to {report.endpoint} "
              f"in {report.seconds:.1f}s")


COMMANDS = [push]
