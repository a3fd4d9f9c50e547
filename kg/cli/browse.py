"""`tsunagari projects`, `show` and `problems`: read the store's project views and the build's problems."""
from __future__ import annotations

import click

from kg.errors import counted
from kg.cli.common import echo_json, echo_text, filter_options, open_store, store_option, translate_errors


@click.command()
@store_option
@filter_options
@click.option("--json", "as_json", is_flag=True, help="JSON array of projects.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV, one row per project.")
@translate_errors
def projects(store, as_json, as_csv, **filters) -> None:
    """List projects, optionally filtered."""
    if as_json and as_csv:
        raise click.UsageError("--json and --csv are two formats: give one")
    found = open_store(store).projects(**filters)
    if as_json:
        echo_json(found)
    elif as_csv:
        from kg.export import projects_csv

        echo_text(projects_csv(found), nl=False)
    else:
        for p in found:
            places = "、".join(r["name"] for r in p["regions"])
            echo_text(f"{p['id']}  {p['title']}  [{p['organization']['name']}; {places}]")
        echo_text(f"({counted(len(found), 'project')})")


@click.command()
@click.argument("project_id")
@store_option
@click.option("--json", "as_json", is_flag=True, help="The project as JSON.")
@translate_errors
def show(project_id, store, as_json) -> None:
    """Show one project: organisation, regions, target groups and themes with their evidence."""
    p = open_store(store).project(project_id)
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
    for label, tags in (("target groups", p["target_groups"]), ("themes", p["themes"])):
        echo_text(f"{label}:")
        for t in tags:
            echo_text(f"  - {t['id']} ({t['ja']} / {t['en']}) because: {'、'.join(t['evidence'])}")
    echo_text(f"prior adoption: {'yes' if p['prior_adoption'] else 'no'}")
    if p["description"]:
        echo_text(f"[{p['category']}] {p['description']}")


@click.command()
@store_option
@translate_errors
def problems(store) -> None:
    """Rows the last build skipped or warned about, with file, row and column."""
    from kg.errors import RowError

    found = open_store(store).problems
    for problem in found:
        echo_text(str(RowError(**problem)))
    echo_text(f"({counted(len(found), 'problem')})")


COMMANDS = [projects, show, problems]
