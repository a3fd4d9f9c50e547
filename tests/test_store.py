"""The store folder: damaged or tampered stores give one clear line, generations follow the umask,
and a build either commits a whole generation or leaves nothing behind."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kg import StoreError, Tsunagari
from kg.cli import cli
from kg.store import FORMAT_VERSION, Store

DATA = Path(__file__).parent / "data"
P = "test-programme-fy2025-001"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("pristine") / "store"
    Tsunagari.build([DATA / "small.csv"], store, fiscal_year=2025, programme="test-programme", embed=True,
                    model="hashing")
    return store


@pytest.fixture
def store(pristine, tmp_path) -> Path:
    copy = tmp_path / "store"
    shutil.copytree(pristine, copy, symlinks=True)
    return copy


def _generation(store: Path) -> Path:
    return store / (store / "CURRENT").read_text().strip()


def _manifest(store: Path, change) -> None:
    path = _generation(store) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    change(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def _one_clear_line(args: list[str], *names: str) -> str:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "rebuild" in lines[0] and all(name in lines[0] for name in names), lines[0]
    return lines[0]


@pytest.mark.parametrize("damage, names", [
    (lambda s: (_generation(s) / "manifest.json").write_text("{not json"), ["manifest.json", "damaged"]),
    (lambda s: (_generation(s) / "manifest.json").write_text("[1, 2]"), ["manifest.json", "not a JSON object"]),
    (lambda s: _manifest(s, lambda m: m.update(format_version=99)), ["manifest.json", "format 99"]),
    (lambda s: _manifest(s, lambda m: m.pop("format_version")), ["manifest.json", "format None"]),
    (lambda s: _manifest(s, lambda m: m.update(counts="many")), ["manifest.json", "counts"]),
    (lambda s: (s / "CURRENT").write_text("../../etc\n"), ["CURRENT", "not a generation"]),
    (lambda s: (s / "CURRENT").write_text("/tmp\n"), ["CURRENT", "not a generation"]),
    (lambda s: (_generation(s) / "projects.sqlite").write_bytes(b"garbage" * 100), ["projects.sqlite", "damaged"]),
    (lambda s: (_generation(s) / "projects.sqlite").unlink(), ["projects.sqlite", "missing"]),
])
def test_a_damaged_store_is_one_clear_line_from_every_command(store, damage, names):
    damage(store)
    for command in (["projects"], ["show", P], ["similar", P]):
        _one_clear_line(command + ["--store", str(store)], *names)


def test_current_may_not_point_outside_the_store_even_by_a_symlink(store, tmp_path):
    outside = tmp_path / "elsewhere"
    shutil.copytree(_generation(store), outside / "gen-x")
    os.symlink(outside / "gen-x", store / "gen-link")
    (store / "CURRENT").write_text("gen-link\n")
    with pytest.raises(StoreError, match="CURRENT.*not a generation inside"):
        Tsunagari.open(store)


def test_a_changed_graph_is_refused_when_read_and_opening_stays_cheap(store):
    graph = _generation(store) / "graph.nt"
    graph.write_bytes(graph.read_bytes().replace(b"\xe3\x83\x86", b"\xe3\x83\x87", 1))   # テ -> デ, still valid
    kg = Tsunagari.open(store)                            # the manifest only: no hash of graph.nt here
    assert len(kg.projects()) == 4
    with pytest.raises(StoreError, match="graph.nt: changed or damaged.*graph_sha256.*rebuild"):
        kg.graph
    _one_clear_line(["export", "--format", "turtle", "--store", str(store)], "graph.nt", "graph_sha256")


def test_a_problems_file_of_the_wrong_shape(store):
    (_generation(store) / "problems.json").write_text('{"a": 1}')
    _one_clear_line(["problems", "--store", str(store)], "problems.json", "damaged")


def test_an_old_format_store_asks_for_a_rebuild(store):
    _manifest(store, lambda m: m.update(format_version=FORMAT_VERSION - 1))
    with pytest.raises(StoreError, match=f"store format {FORMAT_VERSION - 1}, this version of tsunagari reads "
                                         f"format {FORMAT_VERSION}"):
        Tsunagari.open(store)


def test_views_are_read_only(pristine):
    views = Tsunagari.open(pristine).views
    with pytest.raises(sqlite3.OperationalError):
        views.db.execute("DELETE FROM projects")


@pytest.mark.parametrize("umask, folder_mode, file_mode", [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600),
                                                           (0o002, 0o775, 0o664)])
@pytest.mark.slow
def test_generations_follow_the_umask(tmp_path, umask, folder_mode, file_mode):
    store = tmp_path / "store"
    code = ("import os, sys; os.umask(int(sys.argv[1], 8)); from kg import Tsunagari; "
            "Tsunagari.build([sys.argv[2]], sys.argv[3], fiscal_year=2025, programme='p', embed=True, model='hashing')")
    subprocess.run([sys.executable, "-c", code, oct(umask), str(DATA / "small.csv"), str(store)], check=True,
                   timeout=300)
    generation = _generation(store)
    assert stat.S_IMODE(generation.stat().st_mode) == folder_mode
    for name in ("manifest.json", "graph.nt", "projects.sqlite", "problems.json", "profiles.npz",
                 "vectors/index.faiss"):
        assert stat.S_IMODE((generation / name).stat().st_mode) == file_mode, name
    assert stat.S_IMODE((generation / "oxigraph").stat().st_mode) == folder_mode
    assert stat.S_IMODE((generation / "vectors").stat().st_mode) == folder_mode
    readable = 0o044 if not umask & 0o044 else 0
    for file in (generation / "oxigraph").iterdir():      # RocksDB writes 0644 minus the umask
        assert stat.S_IMODE(file.stat().st_mode) & 0o044 == readable, file.name


def test_building_removes_the_draft_unless_committed(tmp_path):
    store = Store(tmp_path / "store")
    with pytest.raises(RuntimeError):
        with store.building() as draft:
            (draft.folder / "graph.nt").write_text("x")
            raise RuntimeError("stop")
    with pytest.raises(StoreError, match="without committing"):
        with store.building() as draft:
            pass
    assert list(store.root.iterdir()) == []
    with store.building() as draft:
        generation = draft.commit({"input_hash": "ab" * 32})
    assert store.generation() == generation and not (generation.folder / "pid").exists()
    assert json.loads((generation.folder / "manifest.json").read_text())["format_version"] == FORMAT_VERSION
