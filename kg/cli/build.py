"""`tsunagari build`: read the sources and write a new generation of the store."""
from __future__ import annotations

from pathlib import Path

import click

from kg.api import Tsunagari
from kg.cli.common import echo_text, store_option, translate_errors
from kg.errors import counted


def _fiscal_year(context, parameter, value: str | None) -> int | None:
    from kg.sources.fields import parse_fiscal_year

    if value is None:
        return None
    year = parse_fiscal_year(value)
    if year is None:
        raise click.BadParameter(f"{value!r} is not a fiscal year — give it as 2025, FY2025, 令和7年度 or R7",
                                 context, parameter)
    return year


@click.command()
@click.argument("sources", nargs=-1, type=click.Path(path_type=Path))
@store_option
@click.option("--fiscal-year", callback=_fiscal_year, metavar="YEAR",
              help="Fiscal year of the sources (2025, FY2025, 令和7年度 or R7): overrides what they state, with a "
                   "warning (not the bundled list's).")
@click.option("--programme",
              help="Programme id of the sources (kg/data/programmes.csv): overrides what they state, with a warning.")
@click.option("--embed/--no-embed", default=True, show_default=True,
              help="Also embed project texts for `similar` and `search` (loads the model).")
@click.option("--model", default="default", show_default=True,
              help="Sentence-transformers model path or name; 'default' = bundled multilingual-e5-small; "
                   "'hashing' = character n-gram hashing (no torch, lexical only: for tests and quick looks).")
@click.option("--similar-links", type=click.IntRange(0, 100), default=5, show_default=True,
              help="With --embed, link each project to its K most similar in the graph (0: none).")
@click.option("--quiet", is_flag=True, help="No progress bars (they show on stderr only when it is a terminal).")
@translate_errors
def build(sources, store, fiscal_year, programme, embed, model, similar_links, quiet) -> None:
    """Build the store from SOURCES (default: the bundled FY2024 list; the word `bundled` names it among others).

    One streaming pipeline at every size: 77 rows or a million (see README "Scale")."""
    _, report = Tsunagari.build(sources or None, store, fiscal_year=fiscal_year, programme=programme,
                                embed=embed, model=model, similar_links=similar_links,
                                progress=False if quiet else None)
    for problem in report.problems:
        echo_text(str(problem), err=True)
    echo_text(f"built {counted(report.projects, 'project')}, {report.triples} triples in {report.seconds:.1f}s "
              f"-> {report.generation}")
    echo_text(f"skipped rows: {len(report.skipped)}; warnings: {len(report.warnings)}")


COMMANDS = [build]
