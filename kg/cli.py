"""Command line: thin; parses options, calls the API once, formats. The only place that prints or exits."""
from __future__ import annotations

import functools
import json
import re
import sys
from pathlib import Path

import click

from kg.api import DEFAULT_STORE, EXPORT_FORMATS, Tsunagari
from embeddings.errors import EmbeddingsError
from kg.errors import KgError

store_option = click.option("--store", type=click.Path(path_type=Path), default=DEFAULT_STORE, show_default=True,
                            help="Store folder.")


# -- safe terminal text: data never moves the cursor, retitles the window or reorders what is shown --------
# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides and isolates.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: str) -> str:
    r"""``text`` with every control character (but tab and newline) written as a visible ``\uXXXX`` escape.

    The escape is JSON's and Turtle's, so valid JSON (or N-Triples, Turtle) stays valid and means the same.

    >>> terminal_text("title\x1b]0;owned\x07")
    'title\\u001b]0;owned\\u0007'
    """
    return UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def echo_text(text: str = "", *, err: bool = False, nl: bool = True) -> None:
    """Print a line that may hold data: control characters are escaped (see terminal_text)."""
    click.echo(terminal_text(text), err=err, nl=nl)


def fail(message: str) -> click.ClickException:
    """The exception that ends a command with one clear (escaped) line and exit code 1."""
    return click.ClickException(terminal_text(message))


def translate_errors(command):
    """Our errors become one clear line and exit code 1, never a traceback."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (KgError, EmbeddingsError) as error:
            raise fail(str(error)) from None
    return wrapper


def echo_json(value) -> None:
    echo_text(json.dumps(value, ensure_ascii=False, indent=1))


def stdout_is_terminal() -> bool:
    """Whether standard output is a terminal (exports escape control characters only there)."""
    return sys.stdout.isatty()


def filter_options(command):
    """--prefecture/--municipality/--block/--target-group/--theme/--fiscal-year/--legal-form."""
    for name, help_text in reversed((
        ("--prefecture", "Prefecture name or code (鳥取県, Tottori, 31)."),
        ("--municipality", "Municipality name or 6-digit code (includes its wards)."),
        ("--block", "Regional block (kanto, 近畿, ...)."),
        ("--target-group", "Target-group id (includes narrower ones), e.g. youth."),
        ("--theme", "Theme id (includes narrower ones), e.g. men-shed."),
        ("--legal-form", "Legal form id, e.g. npo, general-association."),
    )):
        command = click.option(name, help=help_text)(command)
    return click.option("--fiscal-year", type=int, help="Fiscal year, e.g. 2024.")(command)


@click.group()
@click.version_option(package_name="tsunagari")
def cli() -> None:
    """tsunagari (つながり): knowledge graph and search over Japan's local projects against loneliness and isolation."""


@cli.command()
@click.argument("sources", nargs=-1, type=click.Path(path_type=Path))
@store_option
@click.option("--fiscal-year", type=int, help="Fiscal year of sources that do not state it.")
@click.option("--programme", help="Programme id of sources that do not state it (see kg/data/programmes.csv).")
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
    echo_text(f"built {report.projects} projects, {report.triples} triples in {report.seconds:.1f}s "
              f"-> {report.generation}")
    echo_text(f"skipped rows: {len(report.skipped)}; warnings: {len(report.warnings)}")


@cli.command()
@store_option
@filter_options
@click.option("--json", "as_json", is_flag=True, help="JSON array of projects.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV, one row per project.")
@translate_errors
def projects(store, as_json, as_csv, **filters) -> None:
    """List projects, optionally filtered."""
    found = Tsunagari.open(store).projects(**filters)
    if as_json:
        echo_json(found)
    elif as_csv:
        from kg.export import projects_csv

        echo_text(projects_csv(found), nl=False)
    else:
        for p in found:
            places = "、".join(r["name"] for r in p["regions"])
            echo_text(f"{p['id']}  {p['title']}  [{p['organization']['name']}; {places}]")
        echo_text(f"({len(found)} projects)")


@cli.command()
@click.argument("project_id")
@store_option
@click.option("--json", "as_json", is_flag=True, help="The project as JSON.")
@translate_errors
def show(project_id, store, as_json) -> None:
    """Show one project: organisation, regions, target groups and themes with their evidence."""
    p = Tsunagari.open(store).project(project_id)
    if as_json:
        echo_json(p)
        return
    org = p["organization"]
    echo_text(f"{p['id']}  (FY{p['fiscal_year']} no. {p['number']})\n{p['title']}")
    echo_text(f"organisation: {org['written']}  [legal form: {org['legal_form'] or 'none'}]")
    echo_text(f"region: {p['region_text']}")
    for r in p["regions"]:
        echo_text(f"  - {r['name']} {r['code'] or ''} ({r['level']}, {r['prefecture'] or r['block']})"
                   + (f" [{r['qualifier']}]" if r["qualifier"] else ""))
    for label, key in (("target groups", "target_groups"), ("themes", "themes")):
        echo_text(f"{label}:")
        for t in p[key]:
            echo_text(f"  - {t['id']} ({t['ja']} / {t['en']}) because: {'、'.join(t['evidence'])}")
    echo_text(f"prior adoption: {'yes' if p['prior_adoption'] else 'no'}")
    if p["description"]:
        echo_text(f"[{p['category']}] {p['description']}")


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


class SafeOutput:
    """Standard output as a text stream for long answers: buffered, control characters escaped (terminal_text)."""

    def __init__(self, size: int = 1 << 20) -> None:
        self.parts: list[str] = []
        self.held, self.size, self.last = 0, size, "\n"

    def write(self, text: str) -> None:
        if text:
            self.parts.append(text)
            self.held += len(text)
            self.last = text[-1]
            if self.held >= self.size:
                self.flush()

    def flush(self) -> None:
        echo_text("".join(self.parts), nl=False)
        self.parts, self.held = [], 0

    def close(self) -> None:
        """Flush, ending the output with a newline."""
        self.write("" if self.last == "\n" else "\n")
        self.flush()


@cli.command()
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

    result = Tsunagari.open(store).sparql(read_query(query), bind, engine=engine)
    out = SafeOutput()
    result.write(out, fmt, cell=spreadsheet_cell if fmt == "csv" else None)
    out.close()


@cli.command()
@store_option
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="turtle", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Write to a file instead of standard output.")
@translate_errors
def export(store, fmt, out) -> None:
    """Export the graph (turtle, jsonld, nt), the network (graphml, gexf) or the projects (csv)."""
    data = Tsunagari.open(store).export(fmt)
    if out:
        out.write_bytes(data)
        echo_text(f"wrote {out} ({len(data)} bytes)", err=True)
    elif stdout_is_terminal():      # exact bytes to a file or a pipe; nothing that drives a terminal
        echo_text(data.decode("utf-8"), nl=False)
    else:
        sys.stdout.buffer.write(data)


@cli.command()
@store_option
@translate_errors
def validate(store) -> None:
    """Check every node of the stored graph against the SHACL shapes; exit 1 if it does not conform."""
    result = Tsunagari.open(store).validate()
    echo_text(result.text)
    if not result.conforms:
        click.get_current_context().exit(1)


@cli.command()
@store_option
@translate_errors
def problems(store) -> None:
    """Rows the last build skipped or warned about, with file, row and column."""
    from kg.errors import RowError

    found = Tsunagari.open(store).problems
    for problem in found:
        echo_text(str(RowError(**problem)))
    echo_text(f"({len(found)} problems)")


def print_results(results, as_json: bool) -> None:
    if as_json:
        echo_json(results)
        return
    for rank, r in enumerate(results, start=1):
        why = r["why"]
        reasons = [f"embedding {why['embedding']:.3f}"]
        shared = why["shared_target_groups"] + why["shared_themes"]
        if shared:
            reasons.append("shares " + ", ".join(c["en"] for c in shared))
        for c in why.get("by_meaning", []):
            reasons.append(f"matched {c['en']} by meaning, {c['score']:.2f}")
        if why["related_via_broader"]:
            reasons.append("related via " + ", ".join(c["en"] for c in why["related_via_broader"]))
        if why["region"]:
            reasons.append(why["region"])
        if why["same_organization"]:
            reasons.append("same organisation")
        echo_text(f"{rank:2}. {r['score']:.3f}  {r['id']}  {r['title']}  [{r['organization']}; "
                   f"{'、'.join(r['regions'])}]\n      why: {'; '.join(reasons)}")


def result_options(command):
    """--store, --top, the filters and --json: what `similar` and `search` share."""
    command = click.option("--json", "as_json", is_flag=True, help="Results as JSON, with their reasons.")(command)
    command = filter_options(command)
    command = click.option("--top", type=click.IntRange(1, 1000), default=10, show_default=True,
                           help="Number of results.")(command)
    return store_option(command)


@cli.command()
@click.argument("project_id")
@result_options
@translate_errors
def similar(project_id, store, top, as_json, **filters) -> None:
    """Projects like PROJECT_ID, with why (stored vectors: no model load)."""
    print_results(Tsunagari.open(store).similar(project_id, top=top, **filters), as_json)


@cli.command()
@click.argument("text")
@result_options
@translate_errors
def search(text, store, top, as_json, **filters) -> None:
    """Projects matching TEXT in any language (e.g. "men's shed", 不登校, 은둔형 외톨이)."""
    print_results(Tsunagari.open(store).search(text, top=top, **filters), as_json)


@cli.command()
@store_option
@click.option("--k", type=click.IntRange(1, 50), default=5, show_default=True, help="Neighbours per project.")
@click.option("--json", "as_json", is_flag=True, help="Families as JSON.")
@translate_errors
def families(store, k, as_json) -> None:
    """Families of comparable practices, each named by its dominant concepts."""
    found = Tsunagari.open(store).families(k=k)
    if as_json:
        echo_json(found)
        return
    for family in found:
        echo_text(f"{family['id']} ({family['size']}): {family['name_en']} — {family['name_ja']}")
        for member in family["members"]:
            echo_text(f"    {member['id']}  {member['title']}")


def _register_plugins() -> None:
    """Commands that live beside their modules (they load their heavy imports only when run)."""
    from kg.server.cli import serve

    cli.add_command(serve)


_register_plugins()

# Commands defined in their own modules attach themselves to `cli` (they import the helpers above).
import kg.pictures_cli  # noqa: E402,F401  -- tsunagari map, tsunagari graph-picture
import kg.push_cli  # noqa: E402,F401  -- tsunagari push
