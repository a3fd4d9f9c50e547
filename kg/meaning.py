"""Concepts found by meaning: a query's (or a project's) target groups and themes from its vector.

Exact labels and tagging rules only fire on words someone wrote down. Here every concept is
represented by the embeddings of its labels in every language and of its definitions; a text is
matched against them by cosine. e5 cosines bunch together, and some exemplars ("isolated
households", 子どもからお年寄りまで) sit close to almost any text of this field, so a raw cosine
means little. Two corrections make the score comparable across texts and concepts:

- each exemplar's cosine is lowered by ``HUBNESS`` times its *hubness*: the mean of its ``HUB_K``
  highest cosines with the exemplars of other concepts (as CSLS does for cross-lingual retrieval);
- a concept's best corrected cosine is then standardised against the text's scores for all
  concepts (a z-score), and only concepts far above the rest (``threshold``) count.

Thresholds were chosen on scripts/eval/judgments.toml, precision first (README, Evaluation).
This module calls ``embeddings`` only through the encoder it is given.

    >>> meanings = ConceptMeanings.build(ConceptSchemes.load(), encoder)     # doctest: +SKIP
    >>> meanings.match(encoder.encode(["家族の世話をしている子ども"])[0])[0]   # doctest: +SKIP
    MeaningMatch(scheme='target-group', concept='young-carers', score=0.81, via='家族の世話をする子')
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from kg.errors import KgError
from kg.normalize.concepts import SCHEMES, ConceptSchemes

VECTORS_FILE = "concepts.npy"
HUBNESS_FILE = "concepts-hubness.npy"
INDEX_FILE = "concepts.json"
FORMAT = 2                   # 2: hubness saved beside the vectors
SUGGESTIONS_FILE = "suggested-concepts.json"
HUB_K = 10
# Chosen on scripts/eval/judgments.toml with 2-fold cross-validation (README, Evaluation).
HUBNESS = 0.5                # share of an exemplar's hubness taken off its cosines
QUERY_THRESHOLD = 2.0        # z-score above the text's other concepts for a query concept
QUERY_FULL = 6.0             # z at which a match counts as much as a label (score 1)
QUERY_FLOOR = 0.5            # a query concept's score at the threshold (it grows to 1 at QUERY_FULL)
BROAD_MARGIN = 0.0           # added to the threshold for broad concepts (those with narrower ones)
SUGGEST_FLOOR = 0.5
# Projects, precision first (tests/test_concepts.py lists every suggestion and the close calls). 3.0, not
# 2.7, since project vectors carry the organisation's name: 032 → older men reached 2.93, a tag a reader
# would dispute (the Universal Factory is open to everyone).
SUGGEST_THRESHOLD = 3.0


class ConceptVectorsError(KgError):
    """The stored concept vectors are missing, damaged or from another model or vocabulary."""


@dataclass(frozen=True)
class MeaningMatch:
    """A concept a text means: ``score`` in (0, 1] (1 = as sure as a label), ``via`` the exemplar
    (label or definition) that matched best, ``z`` its standardised score."""

    scheme: str
    concept: str
    score: float
    via: str
    z: float


def exemplars(schemes: ConceptSchemes) -> tuple[list[tuple[str, str]], list[str]]:
    """(owner concept, text) pairs embedded for every concept: labels in every language, definitions."""
    owners: list[tuple[str, str]] = []
    texts: list[str] = []
    for scheme in SCHEMES:
        for concept in schemes.concepts(scheme):
            for text in dict.fromkeys(concept.labels + concept.definitions):
                owners.append((scheme, concept.id))
                texts.append(text)
    return owners, texts


def broad_concepts(schemes: ConceptSchemes) -> frozenset[tuple[str, str]]:
    """(scheme, id) of every concept that has narrower concepts (elderly, children, youth, ...)."""
    return frozenset((scheme, b) for scheme in SCHEMES for concept in schemes.concepts(scheme)
                     for b in concept.broader)


class ConceptMeanings:
    """The concept exemplar vectors of one model, with their hubness; match texts by meaning.

    Args:
        owners: the concept of each exemplar row.
        texts: the exemplar texts.
        vectors: float32, L2-normalised, one row per exemplar, from the same model as the queries.
        model: the encoder's ``model_info()`` (recorded, checked on load).
    """

    def __init__(self, owners: list[tuple[str, str]], texts: list[str], vectors: np.ndarray,
                 model: dict[str, Any], hubness: np.ndarray | None = None,
                 broad: frozenset[tuple[str, str]] = frozenset()) -> None:
        self.owners = [tuple(o) for o in owners]
        self.texts = list(texts)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.model = model
        self.concepts = sorted(set(self.owners))
        index = {c: i for i, c in enumerate(self.concepts)}
        self.column = np.array([index[o] for o in self.owners], dtype=np.int64)
        # Rows grouped by concept (stable), so that one reduceat finds every concept's best exemplar.
        self._order = np.argsort(self.column, kind="stable")
        self._starts = np.searchsorted(self.column[self._order], np.arange(len(self.concepts)))
        self.hubness = self._hubness() if hubness is None else np.asarray(hubness, dtype=np.float32)
        self.hubness_factor = HUBNESS
        # Query settings (attributes so that scripts/evaluate.py --tune can vary them).
        self.floor = QUERY_FLOOR
        self.broad = frozenset(broad)        # concepts with narrower ones: elderly, children, youth...
        self.broad_margin = BROAD_MARGIN

    @classmethod
    def build(cls, schemes: ConceptSchemes, encoder, *, cached: bool = True) -> "ConceptMeanings":
        """Embed every exemplar with ``encoder``: about 2,600 short texts, 8 s of CPU the first time;
        with ``cached`` the vectors are kept per model in the user cache (embeddings.memo)."""
        owners, texts = exemplars(schemes)
        if cached:
            from embeddings.memo import encode_cached

            vectors = encode_cached(encoder, texts)
        else:
            vectors = encoder.encode(texts)
        return cls(owners, texts, vectors, encoder.model_info(), broad=broad_concepts(schemes))

    def _hubness(self) -> np.ndarray:
        """Mean of each exemplar's HUB_K highest cosines with exemplars of other concepts."""
        sims = self.vectors @ self.vectors.T
        sims[self.column[:, None] == self.column[None, :]] = -1.0
        k = min(HUB_K, sims.shape[1] - 1)
        return np.partition(sims, -k, axis=1)[:, -k:].mean(axis=1).astype(np.float32)

    def concept_scores(self, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per concept (``self.concepts`` order): z-score of its best corrected cosine, and the row
        of the exemplar that gave it."""
        # einsum, not BLAS: a multithreaded BLAS matrix-vector product takes 20 ms on a busy 2-core machine
        cosines = np.einsum("ij,j->i", self.vectors, np.asarray(vector, dtype=np.float32))
        corrected = cosines - self.hubness_factor * self.hubness
        grouped = corrected[self._order]
        best = np.maximum.reduceat(grouped, self._starts)
        # The first exemplar (in file order) reaching a concept's best wins ties: deterministic.
        hits = np.flatnonzero(grouped == best[self.column[self._order]])
        first = np.unique(self.column[self._order][hits], return_index=True)[1]
        rows = self._order[hits[first]]
        spread = float(best.std()) or 1.0
        return (best - float(best.mean())) / spread, rows

    def match(self, vector: np.ndarray, *, threshold: float = QUERY_THRESHOLD, full: float = QUERY_FULL,
              schemes: tuple[str, ...] = SCHEMES, floor: float | None = None,
              broad_margin: float | None = None) -> list[MeaningMatch]:
        """Concepts of ``schemes`` a text's vector means, best first.

        A concept counts when its z-score reaches ``threshold`` (plus ``broad_margin`` for a broad
        concept, one with narrower concepts); its score grows from ``floor`` there to 1 (as sure as
        a label) at ``full``. ``floor`` and ``broad_margin`` default to the query settings
        (QUERY_FLOOR, BROAD_MARGIN).
        """
        floor = self.floor if floor is None else floor
        margin = self.broad_margin if broad_margin is None else broad_margin
        z, rows = self.concept_scores(vector)
        found = []
        for i in np.argsort(-z, kind="stable"):
            if z[i] < threshold:
                break
            scheme, concept = self.concepts[i]
            bar = threshold + (margin if (scheme, concept) in self.broad else 0.0)
            if scheme in schemes and z[i] >= bar:
                score = floor + (1.0 - floor) * min(1.0, (float(z[i]) - bar) / max(full - bar, 1e-9))
                found.append(MeaningMatch(scheme, concept, round(score, 3), self.texts[rows[i]],
                                          round(float(z[i]), 2)))
        return found

    def suggest(self, views: Iterable[dict[str, Any]], vectors: np.ndarray, *,
                threshold: float = SUGGEST_THRESHOLD) -> dict[str, list[MeaningMatch]]:
        """Concepts suggested for projects in the schemes where their rules found nothing.

        Precision first: the threshold is high, so most projects get none. Args: project views and
        their vectors (same order). Returns: project id -> suggestions, only for projects with some.
        """
        keys = {"target-group": "target_groups", "theme": "themes"}
        out: dict[str, list[MeaningMatch]] = {}
        for view, vector in zip(views, vectors):
            missing = tuple(scheme for scheme in SCHEMES if not view.get(keys[scheme]))
            found = (self.match(vector, threshold=threshold, schemes=missing, floor=SUGGEST_FLOOR, broad_margin=0.0)
                     if missing else [])
            if found:
                out[view["id"]] = found
        return out

    # -- persistence -----------------------------------------------------------------------------

    def fingerprint(self) -> str:
        """A hash of the exemplar texts and their owners (changes when concepts.ttl does)."""
        digest = hashlib.sha256(json.dumps([self.owners, self.texts], ensure_ascii=False).encode("utf-8"))
        return digest.hexdigest()[:16]

    def save(self, folder: Path) -> None:
        """Write concepts.npy, concepts-hubness.npy and concepts.json into ``folder`` (a store's
        vectors folder); the hubness is saved so that opening a store does not recompute it."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / VECTORS_FILE, self.vectors)
        np.save(folder / HUBNESS_FILE, self.hubness)
        (folder / INDEX_FILE).write_text(json.dumps(
            {"format": FORMAT, "fingerprint": self.fingerprint(), "model": self.model,
             "owners": self.owners, "texts": self.texts}, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, schemes: ConceptSchemes, model: dict[str, Any]) -> "ConceptMeanings":
        """Read saved concept vectors; they must match the vocabulary and the store's model.

        Raises:
            ConceptVectorsError: missing, damaged, or made from other labels or another model.
        """
        folder = Path(folder)
        try:
            data = json.loads((folder / INDEX_FILE).read_text(encoding="utf-8"))
            vectors = np.load(folder / VECTORS_FILE)
            hubness = np.load(folder / HUBNESS_FILE)
        except (OSError, ValueError) as e:
            raise ConceptVectorsError(f"{folder}: no usable concept vectors ({e}) — rebuild the store") from e
        if data.get("format") != FORMAT or not len(data.get("owners", [])) == len(vectors) == len(hubness):
            raise ConceptVectorsError(f"{folder / INDEX_FILE}: unknown format or wrong size — rebuild the store")
        owners, texts = exemplars(schemes)
        saved = cls(data["owners"], data["texts"], vectors, data.get("model", {}), hubness, broad_concepts(schemes))
        if [tuple(o) for o in owners] != saved.owners or texts != saved.texts:
            raise ConceptVectorsError(f"{folder}: concept vectors were made from other labels — rebuild the store")
        if any(saved.model.get(k) != model.get(k) for k in ("name", "version", "dim", "prefix")):
            raise ConceptVectorsError(f"{folder}: concept vectors were made with another model — rebuild the store")
        return saved


def save_suggestions(folder: Path, suggestions: dict[str, list[MeaningMatch]]) -> None:
    """Write project suggestions (``ConceptMeanings.suggest``) as JSON into ``folder``."""
    rows = {pid: [[m.scheme, m.concept, m.score, m.via, m.z] for m in found]
            for pid, found in sorted(suggestions.items())}
    (Path(folder) / SUGGESTIONS_FILE).write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n",
                                                 encoding="utf-8")


def load_suggestions(folder: Path) -> dict[str, list[MeaningMatch]]:
    """The suggestions saved in ``folder``; none if the store has none (older or hashing stores)."""
    try:
        rows = json.loads((Path(folder) / SUGGESTIONS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {pid: [MeaningMatch(*row) for row in found] for pid, found in rows.items()}
