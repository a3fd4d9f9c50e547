"""The layers of ARCHITECTURE.md hold: import-linter's contracts (pyproject.toml) pass, and they do catch a break."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"


def lint(root: Path, packages: Path) -> subprocess.CompletedProcess:
    """Run import-linter with the project's contracts over the packages found in ``packages``."""
    env = {**os.environ, "PYTHONPATH": str(packages)}
    return subprocess.run([sys.executable, "-c", LINT], cwd=root, env=env, capture_output=True, text=True)


def test_the_layer_contracts_are_kept():
    done = lint(ROOT, ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "BROKEN" not in done.stdout and "KEPT" in done.stdout


def copy_sources(to: Path) -> None:
    for package in ("kg", "embeddings"):
        shutil.copytree(ROOT / package, to / package, ignore=shutil.ignore_patterns("data", "templates", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", to / "pyproject.toml")


def test_an_import_from_a_layer_above_breaks_the_contract(tmp_path):
    copy_sources(tmp_path)
    errors = tmp_path / "kg" / "errors.py"
    errors.write_text(errors.read_text(encoding="utf-8") + "\nif False:\n    from kg.api import Tsunagari\n",
                      encoding="utf-8")
    done = lint(tmp_path, tmp_path)
    assert done.returncode != 0
    assert "kg.errors is not allowed to import kg.api" in done.stdout


def test_embeddings_importing_kg_breaks_the_contract(tmp_path):
    copy_sources(tmp_path)
    (tmp_path / "embeddings" / "stray.py").write_text("import kg.records\n", encoding="utf-8")
    done = lint(tmp_path, tmp_path)
    assert done.returncode != 0
    assert "embeddings.stray -> kg.records" in done.stdout


def test_every_kg_module_has_a_layer(tmp_path):
    copy_sources(tmp_path)
    (tmp_path / "kg" / "orphan.py").write_text('"""A module nobody placed."""\n', encoding="utf-8")
    done = lint(tmp_path, tmp_path)
    assert done.returncode != 0
    assert "kg.orphan" in done.stdout


def test_the_cli_registers_its_commands_one_way_without_a_cycle():
    import grimp

    graph = grimp.build_graph("kg")
    commands = graph.find_children("kg.cli")
    assert {"kg.cli.common", "kg.cli.build", "kg.cli.serve"} <= commands
    for module in commands:             # a command module never imports the package that registers it
        assert "kg.cli" not in graph.find_modules_directly_imported_by(module), module
    importers = graph.find_modules_that_directly_import("kg.cli") | {
        m for c in commands for m in graph.find_modules_that_directly_import(c)}
    assert importers - commands - {"kg.cli"} == {"kg.__main__"}      # nothing else imports the CLI


def test_scripts_use_the_installed_package_and_no_private_names():
    import ast

    for script in sorted((ROOT / "scripts").glob("*.py")):
        text = script.read_text(encoding="utf-8")
        assert "sys.path" not in text and '"PYTHONPATH"' not in text, script.name
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("kg", "embeddings"):
                assert not any(alias.name.startswith("_") for alias in node.names), (script.name, node.module)
                assert not any(part.startswith("_") for part in node.module.split(".")), (script.name, node.module)
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                assert isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"), (script.name, node.attr)
