"""The whole bundled document through the build, the store's atomicity and determinism."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kg import SourceError, StoreError, Tsunagari, ValidationError
from kg.store import Store

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def kg(built_store) -> Tsunagari:
    return Tsunagari.open(built_store)


def test_77_projects_19_prior_adoptions(kg):
    projects = kg.projects()
    assert len(projects) == 77
    assert sum(p["prior_adoption"] for p in projects) == 19
    assert kg.manifest["counts"]["projects"] == 77
    assert kg.manifest["counts"]["skipped_rows"] == 0


def test_every_project_has_a_resolved_region_and_nothing_unresolved(kg):
    for p in kg.projects():
        assert p["regions"], p["id"]
        assert all(r["prefecture_code"] or r["block"] for r in p["regions"]), p["id"]
    assert [x for x in kg.problems if x["column"].startswith("活動地域")] == []


def test_six_highlights_carry_category_description_and_variant(kg):
    highlighted = [p for p in kg.projects() if p["category"]]
    assert [p["number"] for p in highlighted] == [1, 12, 22, 29, 39, 45]
    assert all(p["description"] for p in highlighted)
    assert "札幌メンズ・シェッド ポックコタン" in kg.graph.serialize(format="nt")


def test_show_json_contract(kg):
    p = kg.project("cao-kodoku-npo-model-fy2024-019")
    assert {"id", "fiscal_year", "number", "title", "organization", "regions", "target_groups", "themes",
            "prior_adoption"} <= p.keys()
    assert p["organization"]["name"] == "Arts Alive" and p["organization"]["legal_form"] == "general-association"
    assert [(r["name"], r["code"], r["level"], r["prefecture"]) for r in p["regions"]] == [
        ("豊島区", "131164", "municipality", "東京都"), ("北区", "131172", "municipality", "東京都")]
    assert {"id", "ja", "en"} <= p["target_groups"][0].keys()
    assert p["prior_adoption"] is True and p["fiscal_year"] == 2024 and p["number"] == 19


@pytest.mark.parametrize("filters, expected", [
    ({"prefecture": "鳥取県"}, {53, 54, 55, 56}),
    ({"prefecture": "Tottori"}, {53, 54, 55, 56}),
    ({"prefecture": "31"}, {53, 54, 55, 56}),
    ({"municipality": "石巻市"}, {5, 6, 7}),
    ({"municipality": "札幌市"}, {1, 17}),
    ({"block": "shikoku"}, {61, 62, 63, 64, 65, 66}),
    ({"block": "四国"}, {61, 62, 63, 64, 65, 66}),
    ({"theme": "men-shed"}, {1, 32, 35}),
    ({"target_group": "hikikomori"}, {53, 62}),
    ({"target_group": "foreign-residents", "prefecture": "神奈川県"}, {21, 27}),   # 21: 国籍を問わない, 横浜市
    ({"fiscal_year": 2023}, set()),
])
def test_filters(kg, filters, expected):
    assert {p["number"] for p in kg.projects(**filters)} == expected


def test_concept_filter_includes_narrower_concepts(kg):
    children = {p["id"] for p in kg.projects(target_group="children")}
    school_refusal = {p["id"] for p in kg.projects(target_group="school-refusal")}
    assert school_refusal and school_refusal <= children


def test_unknown_id_suggests_close_ones(kg):
    from kg import NotFound

    with pytest.raises(NotFound, match="did you mean cao-kodoku-npo-model-fy2024-019"):
        kg.project("cao-kodoku-npo-model-fy2024-19")


def test_same_input_gives_byte_identical_graph(tmp_path, built_store):
    Tsunagari.build(None, tmp_path / "again", embed=False)
    first = Store(built_store).path("graph.nt").read_bytes()
    again = Store(tmp_path / "again").path("graph.nt").read_bytes()
    assert first == again
    assert b"_:" not in first          # no blank nodes


def test_sources_merge_and_the_same_organisation_is_one_node(tmp_path, document):
    with pytest.raises(SourceError, match="--fiscal-year"):
        Tsunagari.build([document, DATA / "small.csv"], tmp_path / "s", embed=False)
    kg, report = Tsunagari.build([document, DATA / "small.csv"], tmp_path / "s", embed=False,
                                 fiscal_year=2025, programme="test-programme")
    projects = kg.projects()
    assert len(projects) == 81 and report.skipped == []
    assert {p["fiscal_year"] for p in projects} == {2024, 2025}      # the document keeps its own year
    janken = [p for p in projects if p["organization"]["key"] == "じゃんけんぽん"]
    assert [(p["fiscal_year"], p["number"]) for p in janken] == [(2024, 12), (2025, 4)]
    assert len({p["organization"]["iri"] for p in janken}) == 1
    small = [p for p in projects if p["provenance"]["file"] == "small.csv"]
    assert [p["provenance"]["line"] for p in small] == [2, 3, 4, 5]
    assert small[0]["organization"]["iri"] == small[2]["organization"]["iri"]   # テストの会 written two ways


def test_failed_build_leaves_the_previous_store(tmp_path):
    store = tmp_path / "store"
    Tsunagari.build([DATA / "small.csv"], store, embed=False, fiscal_year=2025, programme="test-programme")
    before = Store(store).generation()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe\x00garbage\x81\x82")
    with pytest.raises(SourceError):
        Tsunagari.build([bad], store, embed=False, fiscal_year=2025, programme="p")
    assert Store(store).generation() == before
    assert len(Tsunagari.open(store).projects()) == 4



@pytest.mark.parametrize("death, message", [
    ("killed", "killed by SIGKILL"),                                   # as the kernel's out-of-memory killer does
    ("error", "OSError: the database folder is gone"),                 # its last error line
    ("realtime", f"killed by signal {signal.SIGRTMIN + 1}"),           # a signal with no name in signal.Signals
])
def test_a_validation_worker_that_dies_fails_the_build_and_leaves_the_previous_store(tmp_path, monkeypatch,
                                                                                      death, message):
    import kg.validate

    store = tmp_path / "store"
    Tsunagari.build([DATA / "small.csv"], store, embed=False, fiscal_year=2025, programme="test-programme")
    before = Store(store).generation()
    popen = subprocess.Popen

    def dying_worker(args, **kwargs):
        if "kg.validate.parallel" not in args:
            return popen(args, **kwargs)
        if death == "error":
            return popen([sys.executable, "-c", "raise OSError('the database folder is gone')"], **kwargs)
        process = popen(args, **kwargs)
        process.send_signal(signal.SIGKILL if death == "killed" else signal.SIGRTMIN + 1)
        return process

    monkeypatch.setattr(kg.validate, "PARALLEL_FROM_MB", 0)      # the small database is checked by workers too
    monkeypatch.setattr(subprocess, "Popen", dying_worker)
    with pytest.raises(ValidationError, match=rf"oxigraph: a validation worker failed: {message}; "
                                              r"run tsunagari validate again"):
        Tsunagari.build([DATA / "small.csv"], store, embed=False, fiscal_year=2024, programme="other")
    monkeypatch.undo()
    assert Store(store).generation() == before and not list(store.glob("building-*"))
    assert len(Tsunagari.open(store).projects()) == 4


@pytest.mark.parametrize("title, scanned", [("ラジオで届ける見守りの声", False), ("ラジオ_:見守り", True)])
def test_the_build_scans_for_blank_nodes_only_if_a_merged_line_holds_underscore_colon(tmp_path, monkeypatch,
                                                                                       title, scanned):
    """The merge sees every loaded line; "_:" in none (how N-Triples writes a blank node) answers the
    blank-node check. A title holding "_:" (a literal, not a blank node) brings back the scan, which passes."""
    import kg.validate

    asked = []
    validate_folder = kg.validate.validate_folder

    def recording(folder, workers=None, *, no_blank_nodes=False):
        asked.append(no_blank_nodes)
        return validate_folder(folder, workers, no_blank_nodes=no_blank_nodes)

    monkeypatch.setattr(kg.validate, "validate_folder", recording)
    source = (DATA / "small.csv").read_text(encoding="utf-8-sig").replace("ラジオで届ける見守りの声", title)
    (tmp_path / "list.csv").write_text(source, encoding="utf-8")
    Tsunagari.build([tmp_path / "list.csv"], tmp_path / "store", embed=False, fiscal_year=2025, programme="p")
    assert asked == [not scanned]
    assert title in Store(tmp_path / "store").generation().graph_file().read_text(encoding="utf-8")

@pytest.mark.slow
def test_killed_build_leaves_the_previous_store_usable(tmp_path):
    """Kill `tsunagari build` at several moments; the store always opens, old or new, never half."""
    store = tmp_path / "store"
    Tsunagari.build([DATA / "small.csv"], store, embed=False, fiscal_year=2025, programme="test-programme")
    command = [sys.executable, "-m", "kg", "build", "--store", str(store), "--no-embed"]
    for delay in (0.5, 1.0, 1.5, 2.0, 3.0):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        kg = Tsunagari.open(store)
        assert len(kg.projects()) in (4, 77)
        assert len(kg.graph) > 0
    Tsunagari.build([DATA / "small.csv"], store, embed=False, fiscal_year=2025, programme="test-programme")
    assert not list(store.glob("building-*"))      # leftovers of killed builds are cleaned up


def test_open_without_store_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="run `tsunagari build"):
        Tsunagari.open(tmp_path / "nothing")


def test_manifest_records_inputs(kg):
    manifest = kg.manifest
    (source,) = manifest["sources"]
    assert source["name"] == "r6_kodoku_koritsu_npo_model_projects.txt" and len(source["sha256"]) == 64
    assert manifest["fiscal_years"] == [2024] and manifest["programmes"] == ["cao-kodoku-npo-model"]
    assert len(manifest["input_hash"]) == 64
    assert json.loads(json.dumps(manifest)) == manifest


def test_a_row_with_an_unresolvable_region_loads_with_a_warning(tmp_path):
    from conftest import HEADER_JA, write_csv

    rows = [HEADER_JA, ["団体A", "全国の居場所づくり", "全国", ""], ["団体B", "居場所", "東京都豊島区", ""]]
    kg, report = Tsunagari.build([write_csv(tmp_path / "l.csv", rows)], tmp_path / "s", embed=False,
                                 fiscal_year=2025, programme="p")
    assert len(kg.projects()) == 2 and report.skipped == []
    (warning,) = [w for w in report.warnings if "全国" in w.message]
    assert (warning.row, warning.column) == (2, "活動地域/region")
    assert kg.project("p-fy2025-001")["regions"] == []


# -- issue 12 item 5: --fiscal-year and --programme override what a source states, never silently ----------

def test_the_options_override_a_lists_year_and_programme_with_one_warning_each(tmp_path):
    from conftest import write_csv

    rows = [["年度", "programme", "団体名", "取組名", "活動地域"]]
    rows += [["2024", "cao-kodoku-npo-model", f"団体{i}", f"取組{i}", "東京都豊島区"] for i in range(3)]
    source = write_csv(tmp_path / "list.csv", rows)
    kg, report = Tsunagari.build([source], tmp_path / "s", fiscal_year=2025, programme="my-programme")
    assert {(p["fiscal_year"], p["programme"]) for p in kg.projects()} == {(2025, "my-programme")}
    shown = [str(w) for w in report.warnings]
    assert len(shown) == 2, shown                   # once per stated value, not once per row
    assert ("list.csv:2 (年度/fiscal year): warning: the row states '2024'; --fiscal-year 2025 overrides it"
            in shown[0])
    assert "--programme my-programme overrides it" in shown[1]
    same, report = Tsunagari.build([source], tmp_path / "t", fiscal_year=2024)   # the same year: nothing to say
    assert report.warnings == [] and {p["fiscal_year"] for p in same.projects()} == {2024}


def test_the_option_overrides_a_documents_title_but_not_the_bundled_list(tmp_path, document):
    copy = tmp_path / "r6.txt"
    copy.write_bytes(document.read_bytes())
    kg, report = Tsunagari.build([copy], tmp_path / "s", fiscal_year=2025, programme="my-programme")
    assert {(p["fiscal_year"], p["programme"]) for p in kg.projects()} == {(2025, "my-programme")}
    first = [str(w) for w in report.warnings if w.row == 1]
    assert any("r6.txt:1 (年度/fiscal year): warning: the title states FY2024 (令和6年度); --fiscal-year 2025 "
               "overrides it" in w for w in first), first
    assert any("--programme my-programme overrides it" in w for w in first), first
    bundled, report = Tsunagari.build(["bundled"], tmp_path / "b", fiscal_year=2025)
    assert {p["fiscal_year"] for p in bundled.projects()} == {2024} and report.warnings == []
