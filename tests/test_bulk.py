"""The streaming build gives the normal build's graph, projects and problems (memory is for the benchmark)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from kg import Tsunagari
from kg.bulk import bulk_build
from kg.store import Store
from conftest import write_csv

ROOT = Path(__file__).parents[1]


def _synth():
    spec = importlib.util.spec_from_file_location("synth", ROOT / "scripts" / "synth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _generation(store: Path) -> Path:
    return Store(store).generation()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """500 synthetic rows, built both ways; the bulk build with tiny batches and runs to exercise merging."""
    folder = tmp_path_factory.mktemp("bulk")
    source = folder / "synth.csv"
    _synth().write_csv(source, 500, seed=3)
    Tsunagari.build([source], folder / "normal")
    report = bulk_build([source], folder / "bulk", batch_size=37, run_lines=5_000, validate_sample=50,
                        embed="hashing")
    return _generation(folder / "normal"), _generation(folder / "bulk"), report


def test_same_sorted_ntriples(built):
    normal, bulk, report = built
    assert (bulk / "graph.nt").read_bytes() == (normal / "graph.nt").read_bytes()
    assert report.triples == len((normal / "graph.nt").read_bytes().splitlines())


def test_same_projects_and_manifest(built):
    normal, bulk, report = built
    expected = {p["id"]: p for p in json.loads((normal / "projects.json").read_text(encoding="utf-8"))}
    lines = (bulk / "projects.jsonl").read_text(encoding="utf-8").splitlines()
    got = {p["id"]: p for p in map(json.loads, lines)}
    assert len(lines) == len(got) == report.projects == 500
    assert got == expected
    a, b = (json.loads((g / "manifest.json").read_text(encoding="utf-8")) for g in (normal, bulk))
    for key in ("input_hash", "graph_sha256", "counts", "fiscal_years", "programmes", "sources"):
        assert a[key] == b[key], key


def test_sample_validated_oxigraph_loaded_vectors_indexed(built):
    from embeddings import VectorIndex
    from kg.engines import open_engine

    _, bulk, report = built
    assert 0 < report.validated_projects <= 50
    assert open_engine(bulk).name == "oxigraph"         # "auto": the store's Oxigraph whenever it has one
    engine = open_engine(bulk, "oxigraph")
    (row,) = engine.query("SELECT (COUNT(?p) AS ?n) WHERE { ?p a schema:Project }").records()
    assert row["n"] == 500
    index = VectorIndex.load(bulk / "vectors")
    assert len(index) == 500 and index.kind == "flat"
    assert not list(bulk.glob("runs")) and not list(bulk.glob("vectors/*.f32"))
    assert set(report.steps) >= {"read+normalise+write", "sort+merge", "shacl sample", "oxigraph load", "embed+index"}


def test_numbers_duplicates_and_bad_rows_as_the_normal_build(tmp_path):
    rows = [["No.", "団体名", "取組名", "活動地域", "R5採択"],
            ["", "NPO法人 あ", "居場所づくり", "東京都豊島区", "○"],
            ["2", "特定非営利活動法人 あ", "子ども食堂", "東京都北区", ""],
            ["", "一般社団法人 い", "", "大阪府大阪市", ""],              # empty title: skipped
            ["2", "一般社団法人 う", "重複", "大阪府大阪市", ""],          # duplicate number
            ["", "う", "見守り", "大阪府どこか", "?"],                         # unresolved place, bad mark
            ["x", "え", "農園", "香川県小豆郡", ""]]
    source = write_csv(tmp_path / "list.csv", rows, encoding="cp932")
    _, normal = Tsunagari.build([source], tmp_path / "normal", fiscal_year=2025, programme="test-programme")
    bulk = bulk_build([source], tmp_path / "bulk", fiscal_year=2025, programme="test-programme")
    a, b = _generation(tmp_path / "normal"), _generation(tmp_path / "bulk")
    assert (a / "graph.nt").read_bytes() == (b / "graph.nt").read_bytes()
    assert sorted(map(str, normal.problems)) == sorted(map(str, bulk.problems))
    assert bulk.projects == normal.projects == 4


def test_a_failed_bulk_build_leaves_the_store(tmp_path):
    from kg.errors import SourceError

    source = write_csv(tmp_path / "list.csv", [["団体名", "取組名", "活動地域"], ["あ", "い", "東京都"]])
    with pytest.raises(SourceError, match="fiscal"):
        bulk_build([source], tmp_path / "store")
    assert not list((tmp_path / "store").glob("gen-*")) and not list((tmp_path / "store").glob("building-*"))
