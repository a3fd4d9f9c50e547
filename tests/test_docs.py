"""Tests that keep the README honest: commands, queries, the region table, the CI command."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from kg.cli import cli
from kg.normalize.regions import Gazetteer

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_command_has_help_and_is_in_the_readme():
    for name, command in cli.commands.items():
        assert command.help, name
        assert f"tsunagari {name}" in README, f"README does not mention `tsunagari {name}`"
        assert CliRunner().invoke(cli, [name, "--help"]).exit_code == 0


def test_every_query_is_listed_in_the_readme():
    for path in sorted((ROOT / "queries").glob("*.rq")):
        assert f"`{path.name}`" in README, f"README does not list queries/{path.name}"


def test_ci_runs_the_readme_test_command():
    command = "bash scripts/test.sh"
    assert f"\n{command}\n" in README
    assert command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    script = (ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")
    assert "pip install -e '.[test]'" in script and "python -m pytest" in script


def _region_rows():
    section = README.split("### Regions", 1)[1].split("###", 1)[0]
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.search(r"[都道府県市区町村郡]", cells[0]) and cells[0] != "活動地域":
            yield cells


@pytest.mark.parametrize("text, places, qualifiers", list(_region_rows()))
def test_readme_region_table_matches_the_parser(text, places, qualifiers):
    parsed = Gazetteer.load().parse(text)
    assert not parsed.unresolved
    for code in re.findall(r"\b\d{6}\b", places):
        assert code in [p.key for p in parsed.places], (text, code)
    for qualifier in filter(None, (q.strip() for q in qualifiers.split(","))):
        assert qualifier in parsed.qualifiers, (text, qualifier)
