"""Hybrid ranking: embedding similarity + shared concepts (with hierarchy and IDF) + region + organisation.

The same code ranks 77 projects or a shortlist of a million: candidates are scored together from a
ProfileTable (kg.profiles), and only the results returned are explained. Every score comes with the
reasons that made it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from kg.normalize.concepts import ConceptSchemes
from kg.profiles import ANCESTOR_DISCOUNT, SCHEMES, Profile, ProfileTable, Query, profile_of

__all__ = ["Weights", "Profile", "Ranker", "profile_of", "SCHEMES", "ANCESTOR_DISCOUNT"]


@dataclass(frozen=True)
class Weights:
    """How much each kind of evidence counts. Defaults come from scripts/evaluate.py (see README)."""

    embedding: float = 1.0
    concepts: float = 3.0        # CV picks 5.0 (MAP .636); 3.0 is within .005 and leans less on the tags
    region: float = 0.05         # best on all tasks
    organization: float = 0.1    # no pair in the judgments tests it (one year): a prior, kept small


REGION_REASONS = {1.0: "same municipality", 0.5: "same prefecture", 0.25: "same regional block"}


class Ranker:
    """Scores candidates against a query; one per store (IDF is over its projects).

    Args:
        table: the profiles of the store's projects (rows in id order).
        views: project views by id (a dict, or a kg.viewdb.ViewTable): only the results are read.
        schemes: the concept schemes (labels of shared concepts).
        weights: how much each kind of evidence counts.
    """

    def __init__(self, table: ProfileTable, views: Mapping[str, dict[str, Any]],
                 schemes: ConceptSchemes | None = None, weights: Weights | None = None) -> None:
        self.table = table
        self.views = views
        self.schemes = schemes or table.schemes
        self.weights = weights or Weights()

    @property
    def idf(self) -> dict[tuple[str, str], float]:
        return self.table.idf

    def profile(self, project_id: str) -> Profile:
        """The profile of a project of the store (KeyError if it has none)."""
        row = self.table.row(project_id)
        if row is None:
            raise KeyError(project_id)
        return self.table.profile(row)

    def scores(self, query: Query, embedding: dict[str, float], *, top: int | None = None,
               exclude: str | None = None, coverage: bool = False) -> list[tuple[float, str, float, float, float]]:
        """The best ``top`` candidates (all when None) of ``embedding`` (cosine per id), scored:
        (score rounded to 6 places, id, concept score, region score, same organisation), best first."""
        return self.scored(query, list(embedding), list(embedding.values()), top=top, exclude=exclude,
                           coverage=coverage)

    def scored(self, query: Query, ids: list[str], cosines: list[float], *, top: int | None = None,
               exclude: str | None = None, coverage: bool = False) -> list[tuple[float, str, float, float, float]]:
        """``scores`` for candidates given as two lists (ids, cosines): the batch path of the links."""
        if exclude is not None and exclude in ids:
            at = ids.index(exclude)
            ids, cosines = ids[:at] + ids[at + 1:], cosines[:at] + cosines[at + 1:]
        rows = self.table.rows_of(ids)
        if (rows < 0).any():
            keep = rows >= 0
            ids = [pid for pid, kept in zip(ids, keep.tolist()) if kept]
            cosines = [c for c, kept in zip(cosines, keep.tolist()) if kept]
            rows = rows[keep]
        if not ids:
            return []
        cosine = np.array(cosines, dtype=np.float64)
        low, high = float(cosine.min()), float(cosine.max())
        relative = (cosine - low) / ((high - low) or 1.0)       # e5 cosines bunch together: use their spread
        targets = self.table.weights(rows)
        shared = np.minimum(targets, query.weights).sum(axis=1)
        total = np.full(len(rows), query.weights.sum()) if coverage else np.maximum(targets, query.weights).sum(axis=1)
        concept = np.divide(shared, total, out=np.zeros(len(rows)), where=total > 0)
        region = self.table.region_scores(query, rows)
        same_org = self.table.same_organization(query, rows)
        w = self.weights
        score = w.embedding * relative + w.concepts * concept + w.region * region + w.organization * same_org
        picked = range(len(ids))
        if top is not None and top < len(ids):
            # Rounding moves a score by 5e-7 at most: nothing 1e-6 below the top-th can reach the top.
            kth = np.partition(score, len(score) - top)[len(score) - top]
            picked = np.flatnonzero(score >= kth - 1e-6).tolist()
        found = [(round(float(score[i]), 6), ids[i], float(concept[i]), float(region[i]), float(same_org[i]))
                 for i in picked]
        found.sort(key=lambda item: (-item[0], item[1]))
        return found if top is None else found[:top]

    def top(self, query: Query, embedding: dict[str, float], *, top: int, exclude: str | None = None,
            coverage: bool = False) -> list[tuple[str, float]]:
        """The best ``top`` candidates as (id, score): what the similarity links store."""
        return [(pid, score) for score, pid, *_ in self.scores(query, embedding, top=top, exclude=exclude,
                                                               coverage=coverage)]

    def rank(self, query: Profile | Query, embedding: dict[str, float], *, top: int,
             exclude: str | None = None, coverage: bool = False) -> list[dict[str, Any]]:
        """Rank candidates (the keys of ``embedding``: cosine per project id) with reasons, best first."""
        if isinstance(query, Profile):
            query = self.table.query(query)
        best = self.scores(query, embedding, top=top, exclude=exclude, coverage=coverage)
        views = self.views.many([pid for _, pid, *_ in best]) if hasattr(self.views, "many") else self.views
        results = []
        for score, pid, concept, region, same_org in best:
            row = self.table.row(pid)
            target = self.table.weights(np.array([row]))[0]
            exact, broader = self._shared(query, self.table.profile(row).concepts, target)
            why = {
                "embedding": round(float(embedding[pid]), 4),
                "concepts": round(concept, 4),
                "shared_target_groups": self._labels(exact, "target-group"),
                "shared_themes": self._labels(exact, "theme"),
                "related_via_broader": self._labels(broader, None),
                "region": REGION_REASONS.get(region),
                "same_organization": bool(same_org),
            }
            view = views[pid]
            results.append({"id": pid, "title": view["title"], "organization": view["organization"]["name"],
                            "regions": [r["name"] for r in view["regions"]], "score": score, "why": why})
        return results

    def concept_score(self, query: Profile, target: Profile, coverage: bool = False) -> tuple[float, list, list]:
        """Weighted Jaccard over IDF-weighted, ancestor-expanded concepts (or, with ``coverage``, the share
        of the query's concepts the target has); also the shared concepts and those met via broader ones."""
        a, b = self.table.expand(query.concepts), self.table.expand(target.concepts)
        shared = float(np.minimum(a, b).sum())
        total = float(a.sum()) if coverage else float(np.maximum(a, b).sum())
        exact, broader = self._shared(self.table.query(query), target.concepts, b)
        return (shared / total if total else 0.0), exact, broader

    def _shared(self, query: Query, target_concepts: frozenset, target_weights: np.ndarray) -> tuple[list, list]:
        exact = sorted(query.profile.concepts & target_concepts)
        implied = {(s, a) for s, c in exact for a in self.schemes.ancestors(s, c)}
        # Broader concepts the two meet at, beyond what the exactly shared concepts already imply.
        both = np.flatnonzero((query.weights > 0) & (target_weights > 0)).tolist()
        broader = sorted(k for k in (self.table.keys[c] for c in both) if k not in exact and k not in implied)
        return exact, broader

    def _labels(self, concepts: list[tuple[str, str]], scheme: str | None) -> list[dict[str, str]]:
        out = []
        for s, cid in concepts:
            if scheme is None or s == scheme:
                concept = self.schemes.get(s, cid)
                out.append({"scheme": s, "id": cid, "ja": concept.ja, "en": concept.en})
        return out
