"""What ranking needs to know of projects: a ``Profile`` each, and all of them at once as arrays.

    >>> table = ProfileTable.from_views(kg.projects())           # doctest: +SKIP
    >>> table.save(path); ProfileTable.load(path, ids)           # doctest: +SKIP

A ``ProfileTable`` holds, one row per project in id order (the order of the vector index): its set of
concepts (as an index into the distinct sets), prefectures and blocks as bit masks, municipality codes,
organisation and fiscal year, and the number of projects under each concept (for IDF). The build writes
it next to the vectors (``profiles.npz``), so ranking a shortlist of a million projects reads a few
arrays instead of every project view.
"""
from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kg.errors import StoreError
from kg.normalize.concepts import ConceptSchemes

SCHEMES = (("target-group", "target_groups"), ("theme", "themes"))
ANCESTOR_DISCOUNT = 0.5   # sharing only a broader concept counts half
Key = tuple[str, str]     # (scheme, concept id)


@dataclass(frozen=True)
class Profile:
    """What ranking needs to know of a project or a query."""

    concepts: frozenset[Key] = frozenset()                       # (scheme, id) as tagged
    places: frozenset[str] = frozenset()                         # municipality/ward codes
    prefectures: frozenset[str] = frozenset()
    blocks: frozenset[str] = frozenset()
    organization: str | None = None
    fiscal_year: int | None = None
    # Concepts found by meaning (kg.meaning), not by a label or rule: (scheme, id, score in (0, 1]).
    # They count with their score; a concept also in ``concepts`` counts fully.
    by_meaning: tuple[tuple[str, str, float], ...] = ()


def profile_of(view: Mapping[str, Any]) -> Profile:
    """The ranking profile of a project view (see kg.views.project_view)."""
    concepts = {(scheme, t["id"]) for scheme, key in SCHEMES for t in view[key]}
    places = {r["code"] for r in view["regions"] if r["code"] and r["level"] != "prefecture"}
    return Profile(frozenset(concepts), frozenset(places),
                   frozenset(r["prefecture_code"] for r in view["regions"] if r["prefecture_code"]),
                   frozenset(r["block"] for r in view["regions"] if r["block"]),
                   view["organization"]["key"], view["fiscal_year"])


@dataclass(frozen=True)
class Query:
    """A profile in the table's terms: expanded concept weights, place codes, masks, organisation index."""

    profile: Profile | None      # None for a row's query that is never explained (links)
    weights: np.ndarray          # (concepts,) IDF-weighted, ancestors included
    places: frozenset[int]       # municipality and ward codes
    prefectures: int
    blocks: int
    organization: int            # -1: none


class ProfileBuilder:
    """Collects the profiles of project views one at a time (a build streams them), then ``table()``."""

    def __init__(self, schemes: ConceptSchemes | None = None, prefectures: Sequence[str] | None = None,
                 blocks: Sequence[str] | None = None) -> None:
        from kg.normalize.regions import Gazetteer

        self.schemes = schemes or ConceptSchemes.load()
        if prefectures is None or blocks is None:
            gazetteer = Gazetteer.load()
            prefectures = [r.code for r in gazetteer.prefectures()]
            blocks = [b.id for b in gazetteer.blocks()]
        self.keys = [(s, c.id) for s, _ in SCHEMES for c in self.schemes.concepts(s)]
        self.column = {key: i for i, key in enumerate(self.keys)}
        self.prefecture_bit = {code: i for i, code in enumerate(prefectures)}
        self.block_bit = {block: i for i, block in enumerate(blocks)}
        self.prefectures, self.blocks = list(prefectures), list(blocks)
        self.sets: dict[tuple[tuple[int, ...], tuple[tuple[int, float], ...]], int] = {}
        self.rows: list[tuple[str, int, int, int, tuple[int, ...], str, int]] = []

    def add(self, view: Mapping[str, Any], by_meaning: tuple[tuple[str, str, float], ...] = ()) -> None:
        """One project view (any order; the table is sorted by id), with the concepts suggested for it
        by meaning, if any."""
        profile = profile_of(view)
        self.add_profile(view["id"], dataclasses.replace(profile, by_meaning=tuple(by_meaning)))

    def add_profile(self, project_id: str, profile: Profile) -> None:
        """One project's Profile."""
        set_id = self._set_of(profile.concepts, profile.by_meaning)
        prefectures = sum(1 << self.prefecture_bit[c] for c in profile.prefectures if c in self.prefecture_bit)
        blocks = sum(1 << self.block_bit[b] for b in profile.blocks if b in self.block_bit)
        places = tuple(sorted(int(code) for code in profile.places if code.isdigit()))
        self.rows.append((project_id, set_id, prefectures, blocks, places, profile.organization or "",
                          int(profile.fiscal_year or 0)))

    def table(self, by_meaning: dict[str, tuple[tuple[str, str, float], ...]] | None = None) -> "ProfileTable":
        """The table, rows in id order; ``by_meaning``: concepts suggested per project id, known only once
        the build has embedded every text (kg.meaning)."""
        rows = sorted(self.rows)
        if by_meaning:
            keys = {set_id: key for key, set_id in self.sets.items()}
            for i, row in enumerate(rows):
                if row[0] in by_meaning:
                    members = keys[row[1]][0]
                    concepts = frozenset(self.keys[c] for c in members)
                    rows[i] = (row[0], self._set_of(concepts, by_meaning[row[0]]), *row[2:])
        sets = sorted(self.sets, key=self.sets.__getitem__)
        organizations = sorted({row[5] for row in rows if row[5]})
        org_index = {key: i for i, key in enumerate(organizations)}
        place_lengths = np.fromiter((len(row[4]) for row in rows), dtype=np.int64, count=len(rows))
        arrays = {
            "set_of": np.fromiter((row[1] for row in rows), dtype=np.int32, count=len(rows)),
            "set_ptr": _offsets(len(members) for members, _ in sets),
            "set_cols": np.fromiter((c for members, _ in sets for c in members), dtype=np.int32),
            "meaning_ptr": _offsets(len(meaning) for _, meaning in sets),
            "meaning_cols": np.fromiter((c for _, meaning in sets for c, _ in meaning), dtype=np.int32),
            "meaning_scores": np.fromiter((x for _, meaning in sets for _, x in meaning), dtype=np.float64),
            "prefecture_mask": np.fromiter((row[2] for row in rows), dtype=np.uint64, count=len(rows)),
            "block_mask": np.fromiter((row[3] for row in rows), dtype=np.uint64, count=len(rows)),
            "place_ptr": np.concatenate([[0], np.cumsum(place_lengths)]).astype(np.int64),
            "place_codes": np.fromiter((c for row in rows for c in row[4]), dtype=np.int32),
            "org_of": np.fromiter((org_index.get(row[5], -1) for row in rows), dtype=np.int32, count=len(rows)),
            "years": np.fromiter((row[6] for row in rows), dtype=np.int32, count=len(rows)),
        }
        arrays["counts"] = _expanded_counts(self.schemes, self.keys, [members for members, _ in sets],
                                            arrays["set_of"])
        return ProfileTable([row[0] for row in rows], self.keys, self.prefectures, self.blocks, organizations,
                            arrays, self.schemes)

    def _set_of(self, concepts: frozenset[Key], by_meaning: tuple[tuple[str, str, float], ...]) -> int:
        members = tuple(sorted(self.column[key] for key in concepts))
        meaning = tuple(sorted((self.column[(s, c)], float(score)) for s, c, score in by_meaning
                               if (s, c) not in concepts and (s, c) in self.column))
        return self.sets.setdefault((members, meaning), len(self.sets))


class ProfileTable:
    """Every project's profile as arrays, rows in id order; IDF and expanded concept weights derived."""

    def __init__(self, ids: Sequence[str], keys: Sequence[Key], prefectures: Sequence[str],
                 blocks: Sequence[str], organizations: Sequence[str], arrays: dict[str, np.ndarray],
                 schemes: ConceptSchemes | None = None) -> None:
        self.ids = ids
        self.keys = list(keys)
        self.column = {key: i for i, key in enumerate(self.keys)}
        self.prefectures, self.blocks, self.organizations = list(prefectures), list(blocks), organizations
        self.schemes = schemes or ConceptSchemes.load()
        self.a = arrays
        self._rows: dict[str, int] | None = None
        total = max(len(ids), 1)
        counts = arrays["counts"]
        # Python's math.log, as the per-dict ranker computed it: the same floats on every platform.
        self.idf = {key: math.log(1 + total / int(n)) for key, n in zip(self.keys, counts.tolist()) if n}
        self.expansion = self._expansion()
        # Expanded weights of each distinct concept set, worked out when a row with that set is first
        # ranked (a query ranks a few hundred rows; a million-project store has tens of thousands of sets):
        # by set id, then all in one array once every project is ranked (``expand_all``).
        self._expanded: dict[int, np.ndarray] = {}
        self._all: np.ndarray | None = None

    # -- building and storing ---------------------------------------------------------------------
    @classmethod
    def from_views(cls, views: Iterable[dict[str, Any]], schemes: ConceptSchemes | None = None,
                   by_meaning: dict[str, tuple[tuple[str, str, float], ...]] | None = None) -> "ProfileTable":
        """The table of some project views (in memory), with concepts suggested by meaning per id."""
        builder = ProfileBuilder(schemes)
        for view in views:
            builder.add(view, (by_meaning or {}).get(view["id"], ()))
        return builder.table()

    @classmethod
    def from_profiles(cls, profiles: Iterable[tuple[str, Profile]],
                      schemes: ConceptSchemes | None = None) -> "ProfileTable":
        """The table of (id, Profile) pairs (e.g. profiles changed for an ablation)."""
        builder = ProfileBuilder(schemes)
        for project_id, profile in profiles:
            builder.add_profile(project_id, profile)
        return builder.table()

    def save(self, path: Path) -> None:
        """Write the arrays and their labels to one .npz file (``ids`` are the vector index's)."""
        arrays: dict[str, Any] = {**self.a, "count": np.int64(len(self.ids)),
                                  "keys": np.array(["\t".join(k) for k in self.keys]),
                                  "prefectures": np.array(self.prefectures), "blocks": np.array(self.blocks),
                                  "organizations": _pack(self.organizations)}
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: Path, ids: Sequence[str], schemes: ConceptSchemes | None = None) -> "ProfileTable":
        """Open a saved table for the projects ``ids`` (sorted; the vector index's ids)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except (OSError, ValueError, KeyError) as error:
            raise StoreError(f"{path}: damaged ({error}) — rebuild it with `tsunagari build --embed`") from None
        if int(arrays.pop("count", -1)) != len(ids):
            raise StoreError(f"{path}: made for another set of projects — rebuild it with `tsunagari build --embed`")
        keys = [tuple(k.split("\t", 1)) for k in arrays.pop("keys").tolist()]
        return cls(ids, keys, arrays.pop("prefectures").tolist(), arrays.pop("blocks").tolist(),
                   _Packed(arrays.pop("organizations")), arrays, schemes)

    # -- rows and queries -------------------------------------------------------------------------
    def row(self, project_id: str) -> int | None:
        """The row of a project id, or None."""
        i = bisect.bisect_left(self.ids, project_id)
        return i if i < len(self.ids) and self.ids[i] == project_id else None

    def rows_of(self, project_ids: Sequence[str]) -> np.ndarray:
        """Rows of several ids (-1 for an id the table does not hold); see ``index_rows``."""
        if self._rows is not None:
            try:
                return np.fromiter(map(self._rows.__getitem__, project_ids), dtype=np.int64, count=len(project_ids))
            except KeyError:
                get = self._rows.get
                return np.fromiter((get(pid, -1) for pid in project_ids), dtype=np.int64, count=len(project_ids))
        return np.fromiter((-1 if (row := self.row(pid)) is None else row for pid in project_ids), dtype=np.int64,
                           count=len(project_ids))

    def index_rows(self) -> None:
        """Keep a dict from id to row: faster look-ups when every project is ranked (links), more memory."""
        if self._rows is None:
            self._rows = {pid: row for row, pid in enumerate(self.ids)}

    def concepts(self, row: int) -> frozenset[Key]:
        """The concepts of one row, as tagged (no ancestors)."""
        return frozenset(self.keys[c] for c in self._members(int(self.a["set_of"][row])))

    def profile(self, row: int) -> Profile:
        """The Profile of one row (concepts as tagged, places, prefectures, blocks, organisation, year)."""
        a = self.a
        concepts = self.concepts(row)
        places = frozenset(f"{c:06d}" for c in a["place_codes"][a["place_ptr"][row]:a["place_ptr"][row + 1]].tolist())
        prefectures = frozenset(c for i, c in enumerate(self.prefectures) if int(a["prefecture_mask"][row]) >> i & 1)
        blocks = frozenset(b for i, b in enumerate(self.blocks) if int(a["block_mask"][row]) >> i & 1)
        org = int(a["org_of"][row])
        return Profile(concepts, places, prefectures, blocks, self.organizations[org] if org >= 0 else None,
                       int(a["years"][row]) or None, self._meaning(int(a["set_of"][row])))

    def query(self, profile: Profile | None, row: int | None = None) -> Query:
        """A profile in the table's terms (``row``: the profile is that row's, no look-ups needed)."""
        if row is not None:
            a = self.a
            return Query(profile, self.expanded_sets(a["set_of"][row:row + 1])[0],
                         frozenset(a["place_codes"][a["place_ptr"][row]:a["place_ptr"][row + 1]].tolist()),
                         int(a["prefecture_mask"][row]), int(a["block_mask"][row]), int(a["org_of"][row]))
        assert profile is not None, "a profile or a row"
        weights = self.expand(profile.concepts, profile.by_meaning)
        places = frozenset(int(c) for c in profile.places if c.isdigit())
        prefectures: int = sum(1 << i for i, c in enumerate(self.prefectures) if c in profile.prefectures)
        blocks: int = sum(1 << i for i, b in enumerate(self.blocks) if b in profile.blocks)
        known = profile.organization is not None and profile.organization in self.organizations
        org = self.organizations.index(profile.organization) if known else -1
        return Query(profile, weights, places, prefectures, blocks, org)

    def expand(self, concepts: Iterable[Key], by_meaning: tuple[tuple[str, str, float], ...] = ()) -> np.ndarray:
        """IDF-weighted concepts plus their ancestors (discounted), as one row of weights; concepts found
        by meaning count with their score."""
        concepts = [key for key in concepts if key in self.column]
        meaning = [(self.column[(s, c)], score) for s, c, score in by_meaning
                   if (s, c) in self.column and (s, c) not in concepts]
        if meaning:
            return self._strengths([(self.column[key], 1.0) for key in concepts] + meaning)
        rows = [self.expansion[self.column[key]] for key in concepts]
        return np.max(rows, axis=0) if rows else np.zeros(len(self.keys))

    def weights(self, rows: np.ndarray) -> np.ndarray:
        """Expanded concept weights of several rows, (len(rows), concepts)."""
        return self.expanded_sets(self.a["set_of"][rows])

    def region_scores(self, query: Query, rows: np.ndarray) -> np.ndarray:
        """1 same municipality, 0.5 same prefecture, 0.25 same regional block, else 0 (per row)."""
        a = self.a
        same_prefecture = (a["prefecture_mask"][rows] & np.uint64(query.prefectures)) != 0
        same_block = (a["block_mask"][rows] & np.uint64(query.blocks)) != 0
        same_place = np.zeros(len(rows), dtype=bool)
        if query.places:
            # A municipality lies in a prefecture: only rows sharing one can share a municipality.
            ptr, codes = a["place_ptr"], a["place_codes"]
            for i in np.flatnonzero(same_prefecture).tolist():
                row = rows[i]
                same_place[i] = not query.places.isdisjoint(codes[ptr[row]:ptr[row + 1]].tolist())
        return np.where(same_place, 1.0, np.where(same_prefecture, 0.5, np.where(same_block, 0.25, 0.0)))

    def same_organization(self, query: Query, rows: np.ndarray) -> np.ndarray:
        if query.organization < 0:
            return np.zeros(len(rows))
        return (self.a["org_of"][rows] == query.organization).astype(np.float64)

    # -- derived ------------------------------------------------------------------------------------
    def _members(self, set_id: int) -> list[int]:
        ptr = self.a["set_ptr"]
        return self.a["set_cols"][ptr[set_id]:ptr[set_id + 1]].tolist()

    def _meaning(self, set_id: int) -> tuple[tuple[str, str, float], ...]:
        ptr = self.a["meaning_ptr"]
        cols = self.a["meaning_cols"][ptr[set_id]:ptr[set_id + 1]].tolist()
        scores = self.a["meaning_scores"][ptr[set_id]:ptr[set_id + 1]].tolist()
        return tuple((*self.keys[c], score) for c, score in zip(cols, scores))

    def _expansion(self) -> np.ndarray:
        """Row c: concept c at its IDF, its ancestors at half theirs (0 elsewhere)."""
        return np.stack([self._strengths([(c, 1.0)]) for c in range(len(self.keys))]) if self.keys else \
            np.zeros((0, 0))

    def _strengths(self, strengths: list[tuple[int, float]]) -> np.ndarray:
        """Weights of concepts each held with a strength (1 as tagged, a score by meaning): for every
        concept and ancestor, factor x strength x IDF, the largest kept (the definition, float for float)."""
        weights = np.zeros(len(self.keys))
        for c, strength in strengths:
            scheme, concept = self.keys[c]
            chain = [(concept, 1.0)] + [(a, ANCESTOR_DISCOUNT) for a in self.schemes.ancestors(scheme, concept)]
            for name, factor in chain:
                column = self.column[(scheme, name)]
                weights[column] = max(weights[column], factor * strength * self.idf.get((scheme, name), 1.0))
        return weights

    def expanded_sets(self, set_ids: np.ndarray) -> np.ndarray:
        """Expanded concept weights of some concept sets (a row per set id given), each worked out once:
        its concepts' expansions, the largest weight kept (max is exact: any order, the same floats)."""
        if self._all is not None:
            return self._all[set_ids]
        unique, inverse = np.unique(set_ids, return_inverse=True)
        new = [set_id for set_id in unique.tolist() if set_id not in self._expanded]
        if new:
            self._expanded.update(zip(new, self._expand_sets(np.array(new, dtype=np.int64))))
        if not len(unique):
            return np.zeros((0, len(self.keys)))
        return np.stack([self._expanded[set_id] for set_id in unique.tolist()])[inverse.reshape(-1)]

    def expand_all(self) -> None:
        """Work out every set's expanded weights now: ranking every project (links) needs them all."""
        if self._all is None:
            self._all = self._expand_sets(np.arange(len(self.a["set_ptr"]) - 1))
            self._expanded = {}

    def _expand_sets(self, set_ids: np.ndarray) -> np.ndarray:
        ptr, cols = self.a["set_ptr"], self.a["set_cols"]
        out = np.zeros((len(set_ids), len(self.keys)))
        starts, stops = ptr[set_ids], ptr[set_ids + 1]
        nonempty = stops > starts
        if nonempty.any():
            lengths = (stops - starts)[nonempty]
            offsets = np.cumsum(lengths) - lengths           # where each set's members start in ``members``
            members = cols[np.repeat(starts[nonempty] - offsets, lengths) + np.arange(lengths.sum())]
            out[nonempty] = np.maximum.reduceat(self.expansion[members], offsets, axis=0)
        meaning_ptr = self.a["meaning_ptr"]
        for i in np.flatnonzero(meaning_ptr[set_ids + 1] > meaning_ptr[set_ids]).tolist():
            set_id = int(set_ids[i])
            scores = self.a["meaning_scores"][meaning_ptr[set_id]:meaning_ptr[set_id + 1]].tolist()
            found = self.a["meaning_cols"][meaning_ptr[set_id]:meaning_ptr[set_id + 1]].tolist()
            strengths = [(c, 1.0) for c in self._members(set_id)] + list(zip(found, scores))
            out[i] = self._strengths(strengths)
        return out


def _offsets(lengths: Iterable[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(list(lengths), dtype=np.int64)]).astype(np.int64)


def _expanded_counts(schemes: ConceptSchemes, keys: list[Key], sets: list[tuple[int, ...]],
                     set_of: np.ndarray) -> np.ndarray:
    """Projects per concept, a project counting for each concept it has and each one above them."""
    column = {key: i for i, key in enumerate(keys)}
    per_set = np.bincount(set_of, minlength=len(sets)) if len(set_of) else np.zeros(len(sets), dtype=np.int64)
    counts = np.zeros(len(keys), dtype=np.int64)
    for set_id, members in enumerate(sets):
        expanded = set()
        for c in members:
            scheme, concept = keys[c]
            expanded.add(c)
            expanded.update(column[(scheme, a)] for a in schemes.ancestors(scheme, concept))
        for c in expanded:
            counts[c] += per_set[set_id]
    return counts


def _pack(texts: Sequence[str]) -> np.ndarray:
    """Strings as one UTF-8 byte array with a header of offsets (numpy's fixed-width strings waste space)."""
    blobs = [t.encode("utf-8") for t in texts]
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs], dtype=np.int64)]).astype(np.int64)
    header = np.array([len(blobs)], dtype=np.int64)
    return np.concatenate([header.view(np.uint8), offsets.view(np.uint8),
                           np.frombuffer(b"".join(blobs), dtype=np.uint8)])


class _Packed(Sequence):
    """The strings of ``_pack``, decoded one at a time (sorted: ``index`` bisects)."""

    def __init__(self, packed: np.ndarray) -> None:
        n = int(packed[:8].view(np.int64)[0])
        self.offsets = packed[8:8 + 8 * (n + 1)].view(np.int64)
        self.data = packed[8 + 8 * (n + 1):].tobytes()

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i):
        return self.data[self.offsets[i]:self.offsets[i + 1]].decode("utf-8")

    def index(self, value: Any, start: int = 0, stop: int | None = None) -> int:
        i = bisect.bisect_left(self, value)
        if i < len(self) and self[i] == value:
            return i
        raise ValueError(value)

    def __contains__(self, value: object) -> bool:
        try:
            self.index(value)
            return True
        except ValueError:
            return False


__all__ = ["Profile", "profile_of", "ProfileTable", "ProfileBuilder", "Query", "SCHEMES", "ANCESTOR_DISCOUNT"]
