"""`tsunagari similar`, `search` and `families`: ranked results, each with why."""
from __future__ import annotations

import click

from kg.shapes import Result

from kg.cli.common import echo_json, echo_text, filter_options, open_store, store_option, translate_errors


def print_results(results: list[Result], as_json: bool, filtered: bool = False) -> None:
    """Ranked results, each with its reasons in one line (or JSON); ``filtered``: filters were given."""
    if as_json:
        echo_json(results)
        return
    if not results:
        echo_text("(no results — no project passes the filters)" if filtered else "(no results)")
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


@click.command()
@click.argument("project_id")
@result_options
@translate_errors
def similar(project_id, store, top, as_json, **filters) -> None:
    """Projects like PROJECT_ID, with why (stored vectors: no model load)."""
    print_results(open_store(store).similar(project_id, top=top, **filters), as_json, any(filters.values()))


@click.command()
@click.argument("text")
@result_options
@translate_errors
def search(text, store, top, as_json, **filters) -> None:
    """Projects matching TEXT in any language (e.g. "men's shed", 不登校, 은둔형 외톨이)."""
    print_results(open_store(store).search(text, top=top, **filters), as_json, any(filters.values()))


@click.command()
@store_option
@click.option("--k", type=click.IntRange(1, 50), default=5, show_default=True, help="Neighbours per project.")
@click.option("--json", "as_json", is_flag=True, help="Families as JSON.")
@translate_errors
def families(store, k, as_json) -> None:
    """Families of comparable practices, each named by its dominant concepts."""
    found = open_store(store).families(k=k)
    if as_json:
        echo_json(found)
        return
    for family in found:
        echo_text(f"{family['id']} ({family['size']}): {family['name_en']} — {family['name_ja']}")
        for member in family["members"]:
            echo_text(f"    {member['id']}  {member['title']}")


COMMANDS = [similar, search, families]
