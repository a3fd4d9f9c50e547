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
from kg.shapes import ConceptLabel, Result, Why

__all__ = ["Weights", "Profile", "Ranker", "profile_of", "SCHEMES", "ANCESTOR_DISCOUNT"]


@dataclass(frozen=True)
class Weights:
    """How much each kind of evidence counts. Defaults come from scripts/evaluate.py (see README)."""

    embedding: float = 1.0
    concepts: float = 3.0        # CV picks 5.0 (MAP .636); 3.0 is within .005 and leans less on the tags
    region: float = 0.05         # best on all tasks
    organization: float = 0.1    # no pair in the judgments tests it (one year): a prior, kept small
    # A place a text query names is a request ("single mothers in Osaka"): same prefecture then adds 0.5,
    # enough to order projects of equal concepts and never enough to pass a project with more of them.
    named_place: float = 1.0


REGION_REASONS = {1.0: "same municipality", 0.5: "same prefecture", 0.25: "same regional block"}


class Ranker:
    """Scores candidates against a query; one per store (IDF is over its projects).

    >>> ranker = Ranker(views, ConceptSchemes.load())                                # doctest: +SKIP
    >>> ranker.rank(ranker.profiles[pid], {"p2": 0.83, "p3": 0.80}, top=2, exclude=pid)   # doctest: +SKIP

    Args:
        views: project views, a list or a Mapping by id (a kg.viewdb.ViewTable): only results are read.
        schemes: the concept schemes (hierarchy, labels of shared concepts).
        weights: how much each kind of evidence counts.
        by_meaning: concepts suggested by meaning per project id (kg.meaning), with their scores.
        table: the projects' profiles already as a ProfileTable (a store's): views are then not profiled.
    """

    def __init__(self, views: list[dict[str, Any]] | Mapping[str, dict[str, Any]],
                 schemes: ConceptSchemes | None = None, weights: Weights | None = None,
                 by_meaning: dict[str, tuple[tuple[str, str, float], ...]] | None = None, *,
                 table: ProfileTable | None = None) -> None:
        self.views = views if isinstance(views, Mapping) else {v["id"]: v for v in views}
        self.schemes = schemes or ConceptSchemes.load()
        self.weights = weights or Weights()
        self.table = table if table is not None else ProfileTable.from_views(self.views.values(), self.schemes,
                                                                              by_meaning)

    @property
    def idf(self) -> dict[tuple[str, str], float]:
        return self.table.idf

    @property
    def profiles(self) -> Mapping[str, Profile]:
        """Every project's Profile by id (read from the table one at a time)."""
        return _Profiles(self.table)

    @profiles.setter
    def profiles(self, profiles: Mapping[str, Profile]) -> None:
        """Rank over other profiles (an ablation): the table is made again from them."""
        self.table = ProfileTable.from_profiles(profiles.items(), self.schemes)

    def profile(self, project_id: str) -> Profile:
        """The profile of a project of the store (KeyError if it has none)."""
        return self.profiles[project_id]

    def expand(self, profile: Profile) -> dict[tuple[str, str], float]:
        """A profile's IDF-weighted, ancestor-expanded concepts (what concept_score compares)."""
        weights = self.table.expand(profile.concepts, profile.by_meaning)
        return {self.table.keys[c]: float(weights[c]) for c in np.flatnonzero(weights).tolist()}

    def scores(self, query: Query, embedding: dict[str, float], *, top: int | None = None,
               exclude: str | None = None, coverage: bool = False,
               text: bool = False) -> list[tuple[float, str, float, float, float]]:
        """The best ``top`` candidates (all when None) of ``embedding`` (cosine per id), scored:
        (score rounded to 6 places, id, concept score, region score, same organisation), best first.
        ``text``: the query is a text, whose places weigh ``Weights.named_place``."""
        return self.scored(query, list(embedding), list(embedding.values()), top=top, exclude=exclude,
                           coverage=coverage, text=text)

    def scored(self, query: Query, ids: list[str], cosines: list[float], *, top: int | None = None,
               exclude: str | None = None, coverage: bool = False,
               text: bool = False) -> list[tuple[float, str, float, float, float]]:
        """``scores`` for candidates given as two lists (ids, cosines)."""
        if exclude is not None and exclude in ids:
            at = ids.index(exclude)
            ids, cosines = ids[:at] + ids[at + 1:], cosines[:at] + cosines[at + 1:]
        rows = self.table.rows_of(ids)
        keep = rows >= 0
        found = self.scored_rows(query, rows[keep], np.array(cosines, dtype=np.float64)[keep], top=top,
                                 coverage=coverage, text=text)
        names = self.table.ids
        return [(score, names[row], concept, region, org) for score, row, concept, region, org in found]

    def scored_rows(self, query: Query, rows: np.ndarray, cosine: np.ndarray, *, top: int | None = None,
                    exclude: int | None = None, coverage: bool = False,
                    text: bool = False) -> list[tuple[float, int, float, float, float]]:
        """``scored`` for candidates given as table rows and their cosines (arrays): the batch path of the
        links. Rows, not ids, in the results; ``exclude``: a row left out before scoring."""
        if exclude is not None:
            keep = rows != exclude
            rows, cosine = rows[keep], cosine[keep]
        if not len(rows):
            return []
        cosine = np.asarray(cosine, dtype=np.float64)
        low, high = float(cosine.min()), float(cosine.max())
        relative = (cosine - low) / ((high - low) or 1.0)       # e5 cosines bunch together: use their spread
        targets = self.table.weights(rows)
        shared = np.minimum(targets, query.weights).sum(axis=1)
        total = np.full(len(rows), query.weights.sum()) if coverage else np.maximum(targets, query.weights).sum(axis=1)
        concept = np.divide(shared, total, out=np.zeros(len(rows)), where=total > 0)
        region = self.table.region_scores(query, rows)
        same_org = self.table.same_organization(query, rows)
        w = self.weights
        region_weight = w.named_place if text else w.region
        score = w.embedding * relative + w.concepts * concept + region_weight * region + w.organization * same_org
        picked: range | list[int] = range(len(rows))
        if top is not None and top < len(rows):
            # Rounding moves a score by 5e-7 at most: nothing 1e-6 below the top-th can reach the top.
            kth = np.partition(score, len(score) - top)[len(score) - top]
            picked = np.flatnonzero(score >= kth - 1e-6).tolist()
        # Table rows are in id order: ties broken by row are broken by id.
        found = [(round(float(score[i]), 6), int(rows[i]), float(concept[i]), float(region[i]), float(same_org[i]))
                 for i in picked]
        found.sort(key=lambda item: (-item[0], item[1]))
        return found if top is None else found[:top]

    def top(self, query: Query, embedding: dict[str, float], *, top: int, exclude: str | None = None,
            coverage: bool = False) -> list[tuple[str, float]]:
        """The best ``top`` candidates as (id, score): what the similarity links store."""
        return [(pid, score) for score, pid, *_ in self.scores(query, embedding, top=top, exclude=exclude,
                                                               coverage=coverage)]

    def rank(self, query: Profile | Query, embedding: dict[str, float], *, top: int,
             exclude: str | None = None, coverage: bool = False, text: bool = False) -> list[Result]:
        """Rank candidates (the keys of ``embedding``: cosine per project id) with reasons, best first.
        ``text``: the query is a free text (places it names weigh ``Weights.named_place``)."""
        if isinstance(query, Profile):
            query = self.table.query(query)
        best = self.scores(query, embedding, top=top, exclude=exclude, coverage=coverage, text=text)
        views = self.views.many([pid for _, pid, *_ in best]) if hasattr(self.views, "many") else self.views
        rows: list[int] = []
        for _, pid, *_ in best:
            row = self.table.row(pid)
            assert row is not None          # every ranked id is in the table
            rows.append(row)
        weights = self.table.weights(np.array(rows, dtype=np.int64)) if rows else ()   # one call for all
        results: list[Result] = []
        for (score, pid, concept, region, same_org), row, target_weights in zip(best, rows, weights):
            exact, broader, meant = self._shared(query, self.table.profile(row), target_weights)
            why: Why = {
                "embedding": round(float(embedding[pid]), 4),
                "concepts": round(concept, 4),
                "shared_target_groups": self._labels(exact, "target-group"),
                "shared_themes": self._labels(exact, "theme"),
                "related_via_broader": self._labels(broader, None),
                "by_meaning": [{**label, "score": round(x, 3)} for label, (_, x)
                               in zip(self._labels([k for k, _ in meant], None), meant)],
                "region": REGION_REASONS.get(region),
                "same_organization": bool(same_org),
            }
            view = views[pid]
            results.append({"id": pid, "title": view["title"], "organization": view["organization"]["name"],
                            "regions": [r["name"] for r in view["regions"]], "score": score, "why": why})
        return results

    def concept_score(self, query: Profile, target: Profile, coverage: bool = False) -> tuple[float, list, list, list]:
        """Weighted Jaccard over IDF-weighted, ancestor-expanded concepts (or, with ``coverage``, the share
        of the query's concepts the target has); also the shared ones: exactly, through a match by meaning
        on either side (with the smaller score), and through a broader concept."""
        a = self.table.expand(query.concepts, query.by_meaning)
        b = self.table.expand(target.concepts, target.by_meaning)
        shared = float(np.minimum(a, b).sum())
        total = float(a.sum()) if coverage else float(np.maximum(a, b).sum())
        exact, broader, meant = self._shared(self.table.query(query), target, b)
        return (shared / total if total else 0.0), exact, broader, meant

    def _shared(self, query: Query, target: Profile, target_weights: np.ndarray) -> tuple[list, list, list]:
        mine = query.profile if query.profile is not None else Profile()
        exact = sorted(mine.concepts & target.concepts)
        ours = {(s, c): x for s, c, x in mine.by_meaning} | {k: 1.0 for k in mine.concepts}
        theirs = {(s, c): x for s, c, x in target.by_meaning} | {k: 1.0 for k in target.concepts}
        meant = sorted((k, min(ours[k], theirs[k])) for k in ours.keys() & theirs.keys() if k not in exact)
        direct = exact + [k for k, _ in meant]
        implied = {(s, a) for s, c in direct for a in self.schemes.ancestors(s, c)}
        # Broader concepts the two meet at, beyond what the directly shared concepts already imply.
        both = np.flatnonzero((query.weights > 0) & (target_weights > 0)).tolist()
        broader = sorted(k for k in (self.table.keys[c] for c in both) if k not in direct and k not in implied)
        return exact, broader, meant

    def _labels(self, concepts: list[tuple[str, str]], scheme: str | None) -> list[ConceptLabel]:
        out: list[ConceptLabel] = []
        for s, cid in concepts:
            if scheme is None or s == scheme:
                concept = self.schemes.get(s, cid)
                out.append({"scheme": s, "id": cid, "ja": concept.ja, "en": concept.en})
        return out


class _Profiles(Mapping):
    """A ProfileTable seen as a Mapping from project id to Profile."""

    def __init__(self, table: ProfileTable) -> None:
        self.table = table

    def __getitem__(self, project_id: str) -> Profile:
        row = self.table.row(project_id)
        if row is None:
            raise KeyError(project_id)
        return self.table.profile(row)

    def __iter__(self):
        return iter(self.table.ids)

    def __len__(self) -> int:
        return len(self.table.ids)
