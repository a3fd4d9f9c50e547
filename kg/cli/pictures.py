"""`tsunagari map` and `tsunagari graph-picture`: pictures of the store as PNG or SVG files.

matplotlib loads only when a command runs.
"""
from __future__ import annotations

from pathlib import Path

import click

from kg.cli.common import echo_text, filter_options, open_store, store_option, translate_errors

out_option = click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
                          help="Picture file to write: .png or .svg.")
title_option = click.option("--title", help="Title of the picture (default: what is drawn and the filters).")


@click.command("map")
@out_option
@store_option
@filter_options
@title_option
@translate_errors
def map_command(out, store, title, **filters) -> None:
    """Draw a map of Japan shaded by projects per prefecture (PNG or SVG).

    A project counts in every prefecture it serves, through its municipalities too. Filters choose the
    projects, e.g. `tsunagari map --out youth.png --target-group youth`.
    """
    from kg.pictures import map_figure, save_figure

    path = save_figure(map_figure(open_store(store), title=title, **filters), out)
    echo_text(f"wrote {path} ({path.stat().st_size} bytes)", err=True)


@click.command("graph-picture")
@out_option
@store_option
@filter_options
@title_option
@click.option("--list-projects/--no-list-projects", default=None,
              help="List project titles beside the network (default: when at most 25 projects are drawn).")
@translate_errors
def graph_picture(out, store, title, list_projects, **filters) -> None:
    """Draw the network of projects and their target groups (PNG or SVG).

    Filters choose the projects, e.g. `--target-group children` or `--prefecture 東京都`.
    """
    from kg.pictures import network_figure, save_figure

    figure = network_figure(open_store(store), title=title, list_projects=list_projects, **filters)
    path = save_figure(figure, out)
    echo_text(f"wrote {path} ({path.stat().st_size} bytes)", err=True)


COMMANDS = [map_command, graph_picture]
