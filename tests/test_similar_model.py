"""Similarity with the real bundled model: cross-lingual search, determinism, the why of results."""
from __future__ import annotations

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
