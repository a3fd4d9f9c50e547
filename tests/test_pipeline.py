"""The one build at work on a synthetic list: external sort, views file, profiles, links, families, progress."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from kg import SourceError, Tsunagari
from kg.assemble import assemble
from kg.build import build_store, sorted_ntriples
from kg.filters import ProjectFilter
from kg.normalize.concepts import ConceptSchemes
from kg.profiles import ANCESTOR_DISCOUNT, ProfileTable, profile_of
from kg.progress import Progress
from kg.rdf import to_graph
from kg.similar import Similarity
from kg.sources import read_source
from kg.store import Store
from conftest import load_script, write_csv

ROOT = Path(__file__).parents[1]



@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("synth") / "synth.csv"
    load_script("synth").write_csv(path, 400, seed=3)
    return path


@pytest.fixture(scope="module")
def built(source, tmp_path_factory):
    """The list built with hashing vectors and tiny sort runs (many runs to merge)."""
    store = tmp_path_factory.mktemp("built") / "store"
    report = build_store([source], Store(store), embed=True, model="hashing", similar_links=4, run_lines=3_000)
    return Tsunagari.open(store), report


@pytest.mark.slow
def test_many_runs_merge_into_the_graph_of_the_dataset(built, source):
    kg, report = built
    graph = kg.generation.graph_file().read_bytes()
    lines = graph.splitlines()
    assert lines == sorted(set(lines)) and report.triples == len(lines)
    without_links = b"".join(line + b"\n" for line in lines if b"/similar/" not in line and b"#similarTo>" not in line)
    assert without_links == sorted_ntriples(to_graph(assemble([read_source(source)])))
    assert kg.manifest["counts"]["triples"] == report.triples and "bulk" not in kg.manifest
    assert set(report.steps) >= {"read+normalise+write", "embed", "link", "sort", "load", "validate"}
    assert not (kg.folder / "scratch").exists()


def test_runs_loaded_while_reading_hold_the_graph(built):
    """The runs went to Oxigraph as they were spilled (kg.runloader): the database holds every triple of
    graph.nt once, and nothing else."""
    kg, report = built
    rows = kg.sparql("SELECT (COUNT(*) AS ?n) (COUNT(DISTINCT ?s) AS ?subjects) WHERE { ?s ?p ?o }",
                     engine="oxigraph").records()
    subjects = {line.split(b" ", 1)[0] for line in kg.generation.graph_file().read_bytes().splitlines()}
    assert (rows[0]["n"], rows[0]["subjects"]) == (report.triples, len(subjects))


def test_links_are_what_similar_gives_and_are_in_the_graph(built):
    kg, _ = built
    stored = {}
    for source, rank, target, score in kg.views.links():
        stored.setdefault(source, []).append((target, score))
    assert len(stored) == 400 and all(len(hits) == 4 for hits in stored.values())
    for pid in list(stored)[::37]:
        assert [(r["id"], r["score"]) for r in kg.similar(pid, top=4)] == stored[pid]
    rows = kg.sparql("SELECT (COUNT(*) AS ?n) WHERE { ?a tg:similarTo ?b }", engine="oxigraph").records()
    assert rows[0]["n"] == 400 * 4


def test_links_ranked_in_batches_equal_the_stored_ones_and_so_do_families(built):
    kg, _ = built
    assert kg.similarity.stored_links == 4
    stored = dict(kg.similarity.links(4))
    fresh = Similarity.open(kg.generation)
    fresh.stored_links = 0                         # rank every project again, in batches
    assert dict(fresh.links(4)) == stored
    from kg.families import families

    assert families(fresh, k=4) == kg.families(k=4)
    assert kg.families(k=6)                        # more than stored: ranked on the fly


def test_views_file_filters_as_the_filter_does_in_memory(built):
    kg, _ = built
    everything = kg.projects()
    assert [p["id"] for p in everything] == sorted(p["id"] for p in everything) and len(everything) == 400
    region = everything[0]["regions"][0]
    for filters in ({"prefecture": region["prefecture_code"]}, {"block": region["block"]},
                    {"target_group": "children"}, {"theme": "place-to-belong", "fiscal_year": 2024},
                    {"legal_form": "npo"}, {"prefecture": "東京都", "target_group": "elderly"}):
        keep = ProjectFilter.make(**filters)
        expected = [p for p in everything if keep(p)]
        assert kg.projects(**filters) == expected, filters
        assert kg.count(**filters) == len(expected)
    assert kg.projects(limit=5, offset=10) == everything[10:15]
    assert kg.project(everything[3]["id"]) == everything[3]


def test_profiles_round_trip_and_score_as_the_definition(built, tmp_path):
    kg, _ = built
    views = kg.projects()
    table = ProfileTable.from_views(views)
    table.save(tmp_path / "p.npz")
    loaded = ProfileTable.load(tmp_path / "p.npz", [v["id"] for v in views])
    schemes = ConceptSchemes.load()
    for row, view in enumerate(views):
        assert loaded.profile(row) == profile_of(view)
    # The concept score of the arrays is the weighted Jaccard of the definition (README: ranking).
    idf = loaded.idf

    def expand(concepts):
        weights = {}
        for scheme, concept in concepts:
            chain = [(concept, 1.0)] + [(a, ANCESTOR_DISCOUNT) for a in schemes.ancestors(scheme, concept)]
            for name, factor in chain:
                key = (scheme, name)
                weights[key] = max(weights.get(key, 0.0), factor * idf.get(key, 1.0))
        return weights

    query = loaded.query(loaded.profile(0), 0)
    targets = loaded.weights(np.arange(len(views)))
    a = expand(profile_of(views[0]).concepts)
    for row in range(0, len(views), 17):
        b = expand(profile_of(views[row]).concepts)
        keys = a.keys() | b.keys()
        total = sum(max(a.get(k, 0.0), b.get(k, 0.0)) for k in keys)
        expected = sum(min(a.get(k, 0.0), b.get(k, 0.0)) for k in keys) / total if total else 0.0
        shared, union = np.minimum(targets[row], query.weights).sum(), np.maximum(targets[row], query.weights).sum()
        assert math.isclose(shared / union if union else 0.0, expected, rel_tol=1e-12, abs_tol=1e-12)


def test_numbers_duplicates_and_bad_rows(tmp_path):
    rows = [["No.", "団体名", "取組名", "活動地域", "R5採択"],
            ["", "NPO法人 あ", "居場所づくり", "東京都豊島区", "○"],
            ["2", "特定非営利活動法人 あ", "子ども食堂", "東京都北区", ""],
            ["", "一般社団法人 い", "", "大阪府大阪市", ""],              # empty title: skipped
            ["2", "一般社団法人 う", "重複", "大阪府大阪市", ""],          # duplicate number
            ["", "う", "見守り", "大阪府どこか", "?"],                         # unresolved place, bad mark
            ["x", "え", "農園", "香川県小豆郡", ""]]
    source = write_csv(tmp_path / "list.csv", rows, encoding="cp932")
    kg, report = Tsunagari.build([source], tmp_path / "store", fiscal_year=2025, programme="test-programme")
    assert [p["number"] for p in kg.projects()] == [1, 2, 3, 4]
    assert [(p.row, p.level) for p in report.problems] == [(4, "error"), (5, "error"), (6, "warning"),
                                                         (6, "warning"), (7, "warning")]
    assert "duplicate project test-programme-fy2025-002" in report.problems[1].message
    assert kg.project("test-programme-fy2025-001")["organization"]["written"] == "NPO法人 あ"
    labels = [line for line in kg.generation.graph_file().read_text(encoding="utf-8").splitlines()
              if "altLabel" in line and "特定非営利活動法人 あ" in line]
    assert len(labels) == 1                      # the second spelling of あ, on the one organisation


def test_the_report_lives_with_the_build_and_similarity_needs_no_facade():
    import ast

    import kg
    import kg.build

    assert kg.BuildReport is kg.build.BuildReport
    for module in ("similar", "build", "families", "ranking", "profiles", "store", "viewdb"):
        tree = ast.parse((ROOT / "kg" / f"{module}.py").read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert "kg.api" not in imported and "kg.cli" not in imported, module


def test_a_failed_build_leaves_nothing(tmp_path):
    source = write_csv(tmp_path / "list.csv", [["団体名", "取組名", "活動地域"], ["あ", "い", "東京都"]])
    with pytest.raises(SourceError, match="fiscal"):
        Tsunagari.build([source], tmp_path / "store")
    assert not list((tmp_path / "store").iterdir())


def test_progress_bars_name_each_stage_and_are_quiet_when_told(tmp_path, capfd):
    small = ROOT / "tests" / "data" / "small.csv"
    build_store([small], Store(tmp_path / "a"), fiscal_year=2025, programme="p", embed=True, model="hashing",
                progress=Progress(True))
    shown = capfd.readouterr().err
    for stage in ("read+normalise+write", "organisations", "embed", "link", "sort", "load", "validate"):
        assert f"{stage}:" in shown, stage
    build_store([small], Store(tmp_path / "b"), fiscal_year=2025, programme="p", progress=Progress(False))
    assert capfd.readouterr().err == ""
    build_store([small], Store(tmp_path / "c"), fiscal_year=2025, programme="p")   # stderr is not a terminal
    assert capfd.readouterr().err == ""
    assert json.loads((Store(tmp_path / "c").generation().folder / "problems.json").read_text()) == []


def test_a_run_oxigraph_cannot_read_fails_the_build_with_a_store_error(tmp_path):
    from kg.errors import StoreError
    from kg.runloader import RunLoader

    bad = tmp_path / "run-00000.nt"
    bad.write_text("<https://example.org/a> <https://example.org/b> .\n", encoding="utf-8")
    (tmp_path / "oxigraph").mkdir()
    with RunLoader(tmp_path / "oxigraph") as loader:
        loader.add(bad)
        with pytest.raises(StoreError, match=r"loading the triples into Oxigraph failed: \w+Error: "):
            loader.finish()


def test_a_store_whose_folder_name_holds_a_newline_builds_and_opens(tmp_path):
    """The loader is told run file names NUL-terminated: a newline in the store's path cannot split one."""
    store = tmp_path / "two\nlines" / "store"
    small = ROOT / "tests" / "data" / "small.csv"
    report = build_store([small], Store(store), fiscal_year=2025, programme="p", run_lines=40)
    kg = Tsunagari.open(store)
    rows = kg.sparql("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", engine="oxigraph").records()
    assert report.triples > 40 and rows[0]["n"] == report.triples == kg.manifest["counts"]["triples"]
    assert "\n" in str(kg.generation.folder) and len(kg.projects()) == report.projects > 0
