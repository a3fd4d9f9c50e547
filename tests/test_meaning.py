"""Concepts found by meaning (kg.meaning) and how they rank, with small made-up vectors (fast).

The real model is exercised in tests/test_similar_model.py and tests/test_concepts.py.
"""
from __future__ import annotations

import numpy as np
import pytest

from kg.meaning import ConceptMeanings, ConceptVectorsError, exemplars, load_suggestions, save_suggestions
from kg.normalize.concepts import ConceptSchemes
from kg.ranking import Profile, Ranker

MODEL = {"name": "fake", "version": "1", "dim": 64, "prefix": "query: ", "source": "fake"}


@pytest.fixture(scope="module")
def schemes() -> ConceptSchemes:
    return ConceptSchemes.load()


class ConceptEncoder:
    """Every text of concept i points near basis direction i; other texts are spread out."""

    def __init__(self, schemes: ConceptSchemes) -> None:
        owners, texts = exemplars(schemes)
        concepts = sorted(set(owners))
        self.direction = {text: concepts.index(owner) for owner, text in zip(owners, texts)}
        self.concepts = concepts
        self.rng = np.random.default_rng(0)

    def vector_for(self, concept: tuple[str, str], noise: float = 0.05) -> np.ndarray:
        v = np.zeros(64, dtype=np.float32)
        v[self.concepts.index(concept)] = 1.0
        v += self.rng.normal(0, noise, 64).astype(np.float32)
        return v / np.linalg.norm(v)

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.vector_for(self.concepts[self.direction[t]]) if t in self.direction
                         else self.vector_for(self.concepts[0], noise=1.0) for t in texts])

    def model_info(self) -> dict:
        return dict(MODEL)


@pytest.fixture(scope="module")
def encoder(schemes) -> ConceptEncoder:
    return ConceptEncoder(schemes)


@pytest.fixture(scope="module")
def meanings(schemes, encoder) -> ConceptMeanings:
    return ConceptMeanings.build(schemes, encoder, cached=False)


def test_every_concept_has_labels_and_definitions_as_exemplars(schemes):
    owners, texts = exemplars(schemes)
    young = [t for o, t in zip(owners, texts) if o == ("target-group", "young-carers")]
    assert "ヤングケアラー" in young and "jovens cuidadores" in young
    assert any("世話" in t and t.endswith("。") for t in young)       # the Japanese definition
    assert len(set(owners)) == sum(len(schemes.concepts(s)) for s in ("target-group", "theme"))


def test_a_text_near_one_concept_matches_it_alone(meanings, encoder):
    found = meanings.match(encoder.vector_for(("target-group", "young-carers"), noise=0.01))
    assert [(m.scheme, m.concept) for m in found] == [("target-group", "young-carers")]
    assert 0.5 <= found[0].score <= 1.0 and found[0].z >= 2.0 and found[0].via


def test_threshold_and_schemes_filter(meanings, encoder):
    vector = encoder.vector_for(("theme", "men-shed"), noise=0.01)
    assert meanings.match(vector, threshold=100.0) == []
    assert meanings.match(vector, schemes=("target-group",)) == []
    assert [m.concept for m in meanings.match(vector, schemes=("theme",))] == ["men-shed"]


def test_floor_sets_the_score_at_the_threshold(meanings, encoder):
    vector = encoder.vector_for(("theme", "men-shed"), noise=0.01)
    (match,) = meanings.match(vector)
    bar = match.z - 0.01          # just below the match: its score is a hair above the floor
    assert meanings.match(vector, threshold=bar, full=bar + 100, floor=0.1)[0].score == pytest.approx(0.1, abs=1e-3)
    assert meanings.match(vector, threshold=bar, full=bar + 100, floor=0.5)[0].score == pytest.approx(0.5, abs=1e-3)
    exact = float(meanings.concept_scores(vector)[0].max())   # match.z is rounded to two places
    halfway = dict(threshold=exact - 2.0, full=exact + 2.0)
    assert meanings.match(vector, **halfway)[0].score == pytest.approx(0.75, abs=1e-3)   # default floor 0.5


def test_broad_concepts_can_need_a_higher_bar(meanings, encoder, schemes):
    from kg.meaning import broad_concepts

    broad = broad_concepts(schemes)
    assert ("target-group", "elderly") in broad and ("target-group", "young-carers") not in broad
    assert meanings.broad == broad                                     # known from the schemes at build
    elderly = encoder.vector_for(("target-group", "elderly"), noise=0.01)
    (match,) = meanings.match(elderly)
    assert meanings.match(elderly, broad_margin=match.z) == []          # broad: the bar moved past it
    carers = encoder.vector_for(("target-group", "young-carers"), noise=0.01)
    assert meanings.match(carers, broad_margin=100.0) != []             # not broad: unchanged


def test_a_vague_text_matches_nothing(meanings, encoder):
    rng = np.random.default_rng(5)
    vague = rng.normal(0, 1, 64).astype(np.float32)
    assert len(meanings.match(vague / np.linalg.norm(vague), threshold=4.0)) == 0


def test_suggestions_only_where_the_rules_found_nothing(meanings, encoder):
    views = [{"id": "p1", "target_groups": [], "themes": [{"id": "food"}]},
             {"id": "p2", "target_groups": [{"id": "elderly"}], "themes": [{"id": "food"}]}]
    vectors = np.stack([encoder.vector_for(("target-group", "hikikomori"), noise=0.01)] * 2)
    found = meanings.suggest(views, vectors)
    assert list(found) == ["p1"] and [m.concept for m in found["p1"]] == ["hikikomori"]


def test_saved_vectors_round_trip_and_are_checked(tmp_path, meanings, schemes):
    meanings.save(tmp_path)
    again = ConceptMeanings.load(tmp_path, schemes, MODEL)
    assert np.array_equal(again.vectors, meanings.vectors) and again.texts == meanings.texts
    assert np.array_equal(again.hubness, meanings.hubness)          # saved, not recomputed
    with pytest.raises(ConceptVectorsError, match="another model"):
        ConceptMeanings.load(tmp_path, schemes, dict(MODEL, version="2"))
    with pytest.raises(ConceptVectorsError, match="rebuild the store"):
        ConceptMeanings.load(tmp_path / "missing", schemes, MODEL)


def test_suggestions_round_trip(tmp_path, meanings, encoder):
    views = [{"id": "p1", "target_groups": [], "themes": []}]
    found = meanings.suggest(views, encoder.vector_for(("theme", "farming"), noise=0.01)[None, :])
    save_suggestions(tmp_path, found)
    assert load_suggestions(tmp_path) == found
    assert load_suggestions(tmp_path / "nowhere") == {}


def view(pid: str, groups: list[str], themes: list[str]) -> dict:
    return {"id": pid, "title": pid, "organization": {"name": "o", "key": pid}, "fiscal_year": 2024,
            "regions": [], "target_groups": [{"id": g} for g in groups], "themes": [{"id": t} for t in themes]}


def test_a_concept_found_by_meaning_ranks_and_says_so(schemes):
    views = [view("a", ["young-carers"], []), view("b", ["elderly"], []), view("c", [], ["food"])]
    ranker = Ranker(views, schemes)
    cosines = {"a": 0.80, "b": 0.82, "c": 0.81}
    plain = ranker.rank(Profile(), cosines, top=3, coverage=True)
    meant = ranker.rank(Profile(by_meaning=(("target-group", "young-carers", 0.8),)), cosines, top=3, coverage=True)
    assert plain[0]["id"] == "b" and meant[0]["id"] == "a"
    reason = meant[0]["why"]["by_meaning"]
    assert [(r["id"], r["score"]) for r in reason] == [("young-carers", 0.8)] and reason[0]["en"] == "Young carers"
    assert meant[0]["why"]["shared_target_groups"] == []


def test_a_label_counts_fully_and_wins_over_meaning(schemes):
    views = [view("a", ["young-carers"], [])]
    ranker = Ranker(views, schemes)
    label = ranker.rank(Profile(concepts=frozenset({("target-group", "young-carers")})), {"a": 0.8}, top=1,
                        coverage=True)
    both = ranker.rank(Profile(concepts=frozenset({("target-group", "young-carers")}),
                               by_meaning=(("target-group", "young-carers", 0.5),)), {"a": 0.8}, top=1, coverage=True)
    assert label[0]["why"]["concepts"] == both[0]["why"]["concepts"] == 1.0
    assert both[0]["why"]["by_meaning"] == [] and both[0]["why"]["shared_target_groups"][0]["id"] == "young-carers"


def test_project_suggestions_count_in_like_this(schemes):
    views = [view("a", ["hikikomori"], []), view("b", [], []), view("c", [], [])]
    ranker = Ranker(views, schemes, by_meaning={"b": (("target-group", "hikikomori", 0.6),)})
    results = ranker.rank(ranker.profiles["a"], {"b": 0.80, "c": 0.81}, top=2, exclude="a")
    assert results[0]["id"] == "b" and results[0]["why"]["by_meaning"][0]["score"] == 0.6
