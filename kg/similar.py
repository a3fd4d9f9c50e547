"""Projects like this one, by stored vectors and concepts: the kg module that calls `embeddings`, lazily.

It is the seam with the ``embeddings`` package: its errors become KgErrors here (``embeddings_errors``).

``similar`` uses the stored vectors (no model, no torch); ``search`` encodes the query text with the
model the store was built with (the default model through onnxruntime, without torch), adds the
concepts the query means (kg.meaning) to those its words name, and both re-rank a shortlist with
kg.ranking and say why. ``links`` gives every project's top-k in batches: the build stores them as
tg:similarTo links, families group them.

    >>> similarity = Similarity.open(Store(Path("store")).generation())     # doctest: +SKIP
    >>> similarity.similar("cao-kodoku-npo-model-fy2024-035", top=5, prefecture="大阪府")   # doctest: +SKIP
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
import numbers
import re
import unicodedata
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from kg.errors import KgError, ModelError, NotFound, VectorsError, quoted
from kg.filters import ProjectFilter
from kg.profiles import ProfileTable
from kg.progress import Progress
from kg.ranking import Profile, Ranker, Weights
from kg.shapes import Result
from kg.store import PROFILES, Generation
from kg.viewdb import ViewTable, unknown_project

# What text of a project is embedded. scripts/evaluate.py compares them; see README.
TEXT_RECIPES = ("title", "title+description", "title+alt", "title+description+organization")
# The organisation's name says whom it serves or what it runs (おきなわ長寿会, みんなの食堂) where the title
# does not; embedded only (a name never gives a tag). Chosen on scripts/eval/judgments.toml (README, Evaluation).
DEFAULT_RECIPE = "title+description+organization"
MIN_CANDIDATES = 200
LINK_BATCH = 256
# Longer search text is refused: the encoder reads its first 512 tokens (a few hundred to two thousand
# characters), while label and rule matching costs grow with the whole text (a megabyte took seconds).
SEARCH_TEXT_MAX = 4_000
# A text too short to mean anything ("x", "abc") still has a concept that stands out among the rest;
# matching by meaning starts at four letters, or two kanji/kana (which carry more each); labels and rules
# still match shorter texts.
MEANING_MIN_WEIGHT = 4


class NoVectors(KgError):
    """The store was built without embeddings."""


@contextmanager
def embeddings_errors(*, running_model: bool = False) -> Iterator[None]:
    """The seam with ``embeddings``: its errors become KgErrors (ModelError, VectorsError) with the same message.

    With ``running_model``, any error of the block is the model failing to run (onnxruntime and torch raise
    their own untyped errors), so wrap only the encoder call in that case.
    """
    from embeddings.errors import EmbeddingsError, IndexCorrupt, IndexMismatch

    try:
        yield
    except (IndexMismatch, IndexCorrupt) as error:
        raise VectorsError(str(error)) from error
    except EmbeddingsError as error:
        raise ModelError(str(error)) from error
    except KgError:
        raise
    except Exception as error:
        if not running_model:
            raise
        raise ModelError(f"the embedding model failed: {error}") from error


def project_text(view: dict[str, Any], recipe: str = DEFAULT_RECIPE) -> str:
    """The text embedded for a project under a recipe."""
    parts = [view["title"]]
    if recipe != "title":
        parts += view.get("alt_titles", [])
    if recipe in ("title+description", "title+description+organization") and view.get("description"):
        parts.append(view["description"])
    if recipe == "title+description+organization" and (view.get("organization") or {}).get("name"):
        parts.append(view["organization"]["name"])
    return " ".join(parts)


def make_encoder(model: str = "default", dim: int | None = None, *, runtime: str = "onnx"):
    """The encoder for a model name.

    "default": the bundled multilingual-e5-small; with ``runtime="onnx"`` (the default) through
    onnxruntime without torch (queries and builds), with ``runtime="torch"`` through
    sentence-transformers (same vectors, verified at export). "hashing": no model, lexical only
    (tests and quick builds). Anything else: a local sentence-transformers path or name (torch).
    """
    if model == "hashing":
        from embeddings import HashingEncoder

        return HashingEncoder(dim=dim or 256)
    if model == "default" and runtime == "onnx":
        from embeddings import OnnxEncoder

        return OnnxEncoder()
    from embeddings import SentenceTransformerEncoder

    return SentenceTransformerEncoder(model)


def write_concept_vectors(folder: Path, encoder, views: Iterable[dict[str, Any]],
                          vectors) -> dict[str, tuple[tuple[str, str, float], ...]]:
    """Embed the concepts' labels and definitions into ``folder`` (a store's vectors folder) for
    matching queries by meaning, and save the concepts suggested for projects whose rules found none
    (kg.meaning); returns those suggestions as (scheme, concept, score) per project id. Nothing for the
    lexical hashing encoder. ``views`` and ``vectors`` are in the same order (views may be streamed)."""
    from kg.meaning import ConceptMeanings, save_suggestions
    from kg.normalize.concepts import ConceptSchemes

    if encoder.model_info().get("source") == "hashing":
        return {}
    meanings = ConceptMeanings.build(ConceptSchemes.load(), encoder)
    meanings.save(folder)
    suggestions = meanings.suggest(views, vectors)
    save_suggestions(folder, suggestions)
    return _by_meaning(suggestions)


def _by_meaning(suggestions) -> dict[str, tuple[tuple[str, str, float], ...]]:
    return {pid: tuple((m.scheme, m.concept, m.score) for m in found) for pid, found in suggestions.items()}


def candidates(index_size: int, top: int) -> int:
    """How many nearest neighbours by embedding the hybrid ranker re-ranks for ``top`` results."""
    return min(max(MIN_CANDIDATES, top * 10), index_size)


def text_weight(text: str) -> int:
    """How much a text can mean, roughly: its letters and digits, a kanji or kana counting two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text if char.isalnum())


def check_top(top: object) -> None:
    """A KgError unless ``top`` is a whole number of results, 1 or more."""
    if isinstance(top, bool) or not isinstance(top, numbers.Integral) or top < 1:
        raise KgError(f"top={top!r}: give the number of results as a whole number, 1 or more (e.g. top=10)")


class Similarity:
    """Similarity search over project views, their vector index and their ranking profiles.

    Make one with ``Similarity.open(generation)`` (a built store) or ``Similarity(views, index, model)``
    (views in memory, e.g. to compare recipes in scripts/evaluate.py).
    """

    def __init__(self, views: list[dict[str, Any]] | Mapping[str, dict[str, Any]], index, model: dict[str, Any], *,
                 weights: Weights | None = None, encoder=None, meanings=None, profiles: ProfileTable | None = None,
                 stored_links: int = 0) -> None:
        from kg.meaning import QUERY_THRESHOLD
        from kg.normalize.concepts import ConceptSchemes

        self.views: Mapping[str, dict[str, Any]] = views if isinstance(views, Mapping) else {v["id"]: v for v in views}
        self.index = index
        self.model = model
        # The folder of the concept vectors and of the suggestions by meaning, if any (see ``suggestions``).
        self._folder = meanings if isinstance(meanings, Path) else None
        # A store's profiles already hold the suggestions: they are read only to profile views here.
        by_meaning = _by_meaning(self.suggestions) if profiles is None else None
        self.ranker = Ranker(self.views, ConceptSchemes.load(), weights or Weights(),
                             by_meaning=by_meaning, table=profiles)
        self._encoder = encoder
        self.stored_links = stored_links      # top-k links the store holds per project (0: none)
        self.query_coverage = True   # text queries: share of the query's concepts (see README evaluation)
        # Concepts found by meaning for text queries (kg.meaning): ready ConceptMeanings, the folder
        # they were saved in, or None (made from the encoder on first search). Off for hashing vectors.
        self.meanings = meanings
        self.meaning_threshold: float | None = None if model.get("source") == "hashing" else QUERY_THRESHOLD

    @classmethod
    def open(cls, generation: Generation, *, weights: Weights | None = None, encoder=None) -> "Similarity":
        """Open the vectors, profiles and views of a store generation; refuses vectors built from other input."""
        manifest = generation.manifest()
        if "vectors" not in manifest:
            raise NoVectors(f"{generation.folder.parent}: the store has no vectors — rebuild with "
                            "`tsunagari build --embed`")
        with embeddings_errors():
            from embeddings import VectorIndex

            index = VectorIndex.load(generation.vectors_folder, expect={"input_hash": manifest["input_hash"]})
        profiles = ProfileTable.load(generation.path(PROFILES), index.ids)
        return cls(ViewTable(generation.views_file), index, manifest["vectors"]["model"], weights=weights,
                   encoder=encoder, meanings=generation.vectors_folder, profiles=profiles,
                   stored_links=int(manifest["vectors"].get("similar_links") or 0))

    @cached_property
    def suggestions(self) -> dict[str, list[Any]]:
        """Concepts suggested by meaning for projects whose rules found none (kg.meaning.MeaningMatch
        lists by project id), as saved at build; empty for a store without them."""
        from kg.meaning import load_suggestions

        return load_suggestions(self._folder) if self._folder is not None else {}

    @property
    def profiles(self) -> ProfileTable:
        """The ranking profiles of every project (the ranker's)."""
        return self.ranker.table

    @property
    def encoder(self):
        if self._encoder is None:
            with embeddings_errors():
                self._encoder = make_encoder(self.model.get("source", "default"), self.model.get("dim"))
        return self._encoder

    def similar(self, project_id: str, *, top: int = 10, **filters: Any) -> list[Result]:
        """Projects most like ``project_id`` among those passing the filters, each with its reasons."""
        check_top(top)
        row = self.profiles.row(project_id)
        if row is None:
            raise unknown_project(project_id, self.views)
        allowed = self._allowed(filters)
        with embeddings_errors():
            vector = self.index.vector(project_id)
            hits = self._hits(vector, top, allowed, exclude=project_id)
        query = self.profiles.query(self.profiles.profile(row), row)
        return self.ranker.rank(query, hits, top=top, exclude=project_id)

    def search(self, text: str, *, top: int = 10, **filters: Any) -> list[Result]:
        """Projects matching free text in any language, each with its reasons."""
        check_top(top)
        text = text.strip()
        if not text:
            raise KgError("empty search text — type what you are looking for, e.g. \"men's shed\" or 不登校")
        if len(text) > SEARCH_TEXT_MAX:
            raise KgError(f"search text of {len(text):,} characters — the limit is {SEARCH_TEXT_MAX:,}: search "
                          "with a shorter text, e.g. a project's title or its first paragraph")
        self._check_model()
        with embeddings_errors(running_model=True):
            vector = self.encoder.encode([text])[0]
        with embeddings_errors():
            hits = self._hits(vector, top, self._allowed(filters))
            profile = self.profile(text, vector)
        return self.ranker.rank(profile, hits, top=top, coverage=self.query_coverage, text=True)

    def profile(self, text: str, vector) -> Profile:
        """A text query's profile: concepts by label and rule (these win), then by meaning, and places."""
        import dataclasses

        profile = query_profile(text)
        if self.meaning_threshold is None or text_weight(text) < MEANING_MIN_WEIGHT:
            return profile
        found = self.concept_meanings().match(vector, threshold=self.meaning_threshold)
        extra = tuple((m.scheme, m.concept, m.score) for m in found if (m.scheme, m.concept) not in profile.concepts)
        return dataclasses.replace(profile, by_meaning=extra)

    def concept_meanings(self):
        """The concept vectors for matching by meaning (kg.meaning.ConceptMeanings): read from the store,
        or made with the encoder when the store has none."""
        from kg.meaning import ConceptMeanings, ConceptVectorsError
        from kg.normalize.concepts import ConceptSchemes

        if not isinstance(self.meanings, ConceptMeanings):
            schemes = ConceptSchemes.load()
            try:
                if self.meanings is None:
                    raise ConceptVectorsError("none stored")
                self.meanings = ConceptMeanings.load(self.meanings, schemes, self.model)
            except ConceptVectorsError:
                # A store built before concept vectors existed (or by the bulk build): make them now.
                with embeddings_errors():
                    self.meanings = ConceptMeanings.build(schemes, self.encoder)
        return self.meanings

    def _check_model(self) -> None:
        stored, current = self.model, self.encoder.model_info()
        differing = sorted(k for k in ("name", "version", "dim", "prefix") if stored.get(k) != current.get(k))
        if differing:
            raise VectorsError(f"the store was embedded with {stored.get('name')!r} but the query model is "
                                f"{current.get('name')!r} ({', '.join(differing)} differ) — rebuild with "
                                f"`tsunagari build --model ...` or search with the store's model")

    def _allowed(self, filters: dict[str, Any]) -> set[str] | None:
        keep = ProjectFilter.make(**{k: v for k, v in filters.items() if v})
        if not keep:
            return None
        if isinstance(self.views, ViewTable):
            return set(self.views.ids(keep.conditions))
        return {pid for pid, view in self.views.items() if keep(view)}

    def _hits(self, vector, top: int, allowed: set[str] | None, exclude: str | None = None) -> dict[str, float]:
        k = candidates(len(self.index), top)
        if allowed is not None:
            allowed = allowed - {exclude} if exclude else allowed
            if not allowed:
                return {}
        (found,) = self.index.search(vector[None, :], k, allowed=allowed)
        return {pid: score for pid, score in found if pid != exclude}

    def links(self, k: int, *, progress=None) -> Iterator[tuple[str, list[tuple[str, float]]]]:
        """Every project's ``k`` most similar (id, score), by project id: stored links when the store holds
        at least ``k`` per project, else ranked in batches (the same results as ``similar(id, top=k)``)."""
        if 0 < k <= self.stored_links and isinstance(self.views, ViewTable) and self.ranker.weights == Weights():
            yield from _grouped(self.views.links(k))
            return
        table, index = self.profiles, self.index
        table.expand_all()
        ids = table.ids
        # The table and the index both hold their rows in id order: one row number for both.
        same_rows = len(ids) == len(index) and all(a == b for a, b in zip(ids, index.ids))
        to_table = None if same_rows else table.rows_of(index.ids)
        kk = candidates(len(index), k)
        with (progress or Progress(False)).bar("link", total=len(ids), unit="projects") as bar:
            for start in range(0, len(ids), LINK_BATCH):
                chunk = range(start, min(start + LINK_BATCH, len(ids)))
                queries = index.vectors[start:chunk.stop] if same_rows else \
                    np.stack([index.vector(ids[row]) for row in chunk])
                for row, (near, cosines) in zip(chunk, index.search_rows(queries, kk)):
                    if to_table is not None:
                        near = to_table[near]
                        near, cosines = near[near >= 0], cosines[near >= 0]
                    best = self.ranker.scored_rows(table.query(None, row), near, cosines, top=k, exclude=row)
                    yield ids[row], [(ids[target], score) for score, target, *_ in best]
                bar.update(len(chunk))


def _grouped(rows) -> Iterator[tuple[str, list[tuple[str, float]]]]:
    source: str | None = None
    hits: list[tuple[str, float]] = []
    for pid, _, target, score in rows:
        if pid != source:
            if source is not None:
                yield source, hits
            source, hits = pid, []
        hits.append((target, score))
    if source is not None:
        yield source, hits


def query_profile(text: str) -> Profile:
    """Concepts and places named in a free-text query (labels in any language, Japanese tagging rules)."""
    from kg.normalize.concepts import ConceptSchemes
    from kg.normalize.regions import Gazetteer

    schemes = ConceptSchemes.load()
    concepts = {(scheme, cid) for scheme, cid, _ in schemes.match_labels(text)}
    # The tagging rules and place names are Japanese: kana tells Japanese from Chinese (工作 = crafts/work).
    japanese = any("\u3040" <= c <= "\u30ff" for c in text)
    if japanese:
        concepts |= {(t.scheme, t.concept) for t in schemes.tag(text)}
    gazetteer = Gazetteer.load()
    places = gazetteer.parse(text).places if japanese or any("\u4e00" <= c <= "\u9fff" for c in text) else ()
    prefectures = {p.key for p in places if p.kind == "prefecture"}
    codes = {p.key for p in places if p.kind in ("municipality", "ward")}
    latin_prefectures, latin_codes = latin_places(gazetteer, text)
    prefectures |= latin_prefectures
    codes |= latin_codes
    prefectures |= {gazetteer.get(code).prefecture_code for code in codes}
    return Profile(frozenset(concepts), frozenset(codes), frozenset(prefectures),
                   frozenset(gazetteer.get(code).block for code in prefectures))


# A city or ward written in Latin letters counts with its suffix ("Naha City", "Toyota-shi", "Setagaya
# ward"); bare, only a designated city (Sapporo, Yokohama, Kobe...) or a prefecture, so that "date" or
# "kita" name no place.
_LATIN_SUFFIX = r"(?:[ -]?(?:shi|ku|machi|cho|mura|son|ken|fu)|\s+(?:city|ward|town|village|prefecture))"
_WORD_START = re.compile(r"(?<![a-z])[a-z]")


def latin_places(gazetteer, text: str) -> tuple[set[str], set[str]]:
    """Prefectures and municipalities a text names in Latin letters, as (prefecture codes,
    municipality codes): whole words, accents and macrons folded (Kōchi = Kochi), case ignored."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    words, longest = _latin_index(gazetteer)
    # A name starts where a word starts: look up the few strings starting there rather than test all 1,500
    # names (a search reads them just after the model has pushed them out of the CPU caches).
    found = {piece for start in (m.start() for m in _WORD_START.finditer(folded))
             for end in range(start + 1, min(len(folded), start + longest) + 1)
             if (piece := folded[start:end]) in words}
    prefectures: set[str] = set()
    codes: set[str] = set()
    for name in sorted(found):
        kind, code, needs_suffix = words[name]
        pattern = rf"(?<![a-z]){re.escape(name)}" + (_LATIN_SUFFIX if needs_suffix else rf"(?:{_LATIN_SUFFIX})?") \
            + r"(?![a-z])"
        if re.search(pattern, folded):
            (prefectures if kind == "prefecture" else codes).add(code)
    return prefectures, codes


@lru_cache(maxsize=2)
def _latin_index(gazetteer) -> tuple[dict[str, tuple[str, str, bool]], int]:
    """Latin name (lower case, without -shi/-ken) -> (kind, code, needs a suffix), and the longest name's
    length; names of several municipalities are left out unless one is a designated city, and a prefecture
    wins over the city of the same name (Osaka)."""
    names: dict[str, list] = {}
    for region in gazetteer:
        if region.level == "ward":
            continue
        name = region.romaji.lower().rsplit("-", 1)[0] if "-" in region.romaji else region.romaji.lower()
        names.setdefault(name, []).append(region)
    index: dict[str, tuple[str, str, bool]] = {}
    for name, regions in names.items():
        prefecture = next((r for r in regions if r.level == "prefecture"), None)
        if prefecture is not None:
            index[name] = ("prefecture", prefecture.code, len(name) <= 3)      # "Mie" only as "Mie-ken"
        elif len(name) > 2:
            # A designated city wins over a town of the same name (横浜市, not Aomori's 横浜町).
            designated = [r for r in regions if any(c.level == "ward" for c in gazetteer.children(r.code))]
            if len(designated) == 1:
                index[name] = ("municipality", designated[0].code, False)
            elif len(regions) == 1:
                index[name] = ("municipality", regions[0].code, True)
    return index, max(map(len, index), default=0)
