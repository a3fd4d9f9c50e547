"""Projects like this one: the kg module that calls `embeddings` (with kg.meaning), only when needed.

``similar`` uses the stored vectors (no model, no torch); ``search`` encodes the query text with the
model the store was built with (the default model through onnxruntime, without torch), adds the
concepts the query means (kg.meaning) to those its words name, and both re-rank with kg.ranking and say why.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kg.errors import KgError, NotFound
from kg.ranking import Profile, Ranker, Weights

if TYPE_CHECKING:
    from kg.api import Tsunagari

# What text of a project is embedded. scripts/evaluate.py compares them; see README.
TEXT_RECIPES = ("title", "title+description", "title+alt")
DEFAULT_RECIPE = "title+description"
MIN_CANDIDATES = 200


class NoVectors(KgError):
    """The store was built without embeddings."""


def project_text(view: dict[str, Any], recipe: str = DEFAULT_RECIPE) -> str:
    """The text embedded for a project under a recipe."""
    parts = [view["title"]]
    if recipe in ("title+alt", "title+description"):
        parts += view.get("alt_titles", [])
    if recipe == "title+description" and view.get("description"):
        parts.append(view["description"])
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


def write_vectors(views: list[dict[str, Any]], folder: Path, *, model: str = "default", input_hash: str,
                  recipe: str = DEFAULT_RECIPE, encoder=None) -> tuple[dict[str, Any], Any]:
    """Embed every project and save vectors + index in ``folder``; returns the manifest and the index."""
    from embeddings import VectorIndex

    encoder = encoder or make_encoder(model)
    vectors = encoder.encode([project_text(v, recipe) for v in views])
    manifest = {"model": encoder.model_info(), "input_hash": input_hash, "recipe": recipe, "count": len(views)}
    index = VectorIndex.build(vectors, [v["id"] for v in views])
    index.save(folder, manifest)
    write_concept_vectors(folder, encoder, views, vectors)
    return manifest, index


def write_concept_vectors(folder: Path, encoder, views: list[dict[str, Any]], vectors) -> None:
    """Embed the concepts' labels and definitions into ``folder`` (a store's vectors folder) for
    matching queries by meaning, and save the concepts suggested for projects whose rules found none
    (kg.meaning). Nothing for the lexical hashing encoder."""
    from kg.meaning import ConceptMeanings, save_suggestions
    from kg.normalize.concepts import ConceptSchemes

    if encoder.model_info().get("source") == "hashing":
        return
    meanings = ConceptMeanings.build(ConceptSchemes.load(), encoder)
    meanings.save(folder)
    save_suggestions(folder, meanings.suggest(views, vectors))


class Similarity:
    """Similarity search over a set of project views and their vector index."""

    def __init__(self, views: list[dict[str, Any]], index, model: dict[str, Any], *,
                 weights: Weights | None = None, encoder=None, meanings=None) -> None:
        from kg.meaning import QUERY_THRESHOLD, load_suggestions
        from kg.normalize.concepts import ConceptSchemes

        self.views = {v["id"]: v for v in views}
        self.index = index
        self.model = model
        # Concepts suggested by meaning for projects whose rules found none (saved at build).
        self.suggestions = load_suggestions(meanings) if isinstance(meanings, Path) else {}
        self.ranker = Ranker(views, ConceptSchemes.load(), weights or Weights(),
                             by_meaning={pid: tuple((m.scheme, m.concept, m.score) for m in found)
                                         for pid, found in self.suggestions.items()})
        self._encoder = encoder
        self._filter = None
        self.query_coverage = True   # text queries: share of the query's concepts (see README evaluation)
        # Concepts found by meaning for text queries (kg.meaning): ready ConceptMeanings, the folder
        # they were saved in, or None (made from the encoder on first search). Off for hashing vectors.
        self.meanings = meanings
        self.meaning_threshold: float | None = None if model.get("source") == "hashing" else QUERY_THRESHOLD

    @classmethod
    def from_store(cls, kg: "Tsunagari", *, weights: Weights | None = None, encoder=None) -> "Similarity":
        """Open the vectors of a store; refuses vectors built from other input."""
        from embeddings import VectorIndex

        if "vectors" not in kg.manifest:
            raise NoVectors(f"{kg.store.root}: the store has no vectors — rebuild with `tsunagari build --embed`")
        index = VectorIndex.load(kg.folder / "vectors", expect={"input_hash": kg.manifest["input_hash"]})
        similarity = cls(kg.projects(), index, kg.manifest["vectors"]["model"], weights=weights, encoder=encoder,
                         meanings=kg.folder / "vectors")
        similarity._filter = kg.projects
        return similarity

    @property
    def encoder(self):
        if self._encoder is None:
            self._encoder = make_encoder(self.model.get("source", "default"), self.model.get("dim"))
        return self._encoder

    def similar(self, project_id: str, *, top: int = 10, **filters: Any) -> list[dict[str, Any]]:
        """Projects most like ``project_id`` among those passing the filters, each with its reasons."""
        view = self.views.get(project_id)
        if view is None:
            import difflib

            close = difflib.get_close_matches(project_id, list(self.views), n=3, cutoff=0.5)
            raise NotFound(f"no project {project_id!r}" + (f" — did you mean {', '.join(close)}?" if close else ""))
        allowed = self._allowed(filters)
        vector = self.index.vector(project_id)
        hits = self._hits(vector, top, allowed, exclude=project_id)
        return self.ranker.rank(self.ranker.profiles[project_id], hits, top=top, exclude=project_id)

    def search(self, text: str, *, top: int = 10, **filters: Any) -> list[dict[str, Any]]:
        """Projects matching free text in any language, each with its reasons."""
        text = text.strip()
        if not text:
            raise KgError("empty search text — type what you are looking for, e.g. \"men's shed\" or 不登校")
        self._check_model()
        vector = self.encoder.encode([text])[0]
        hits = self._hits(vector, top, self._allowed(filters))
        return self.ranker.rank(self.profile(text, vector), hits, top=top, coverage=self.query_coverage)

    def profile(self, text: str, vector) -> Profile:
        """A text query's profile: concepts by label and rule (these win), then by meaning, and places."""
        import dataclasses

        profile = query_profile(text)
        if self.meaning_threshold is None:
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
                self.meanings = ConceptMeanings.build(schemes, self.encoder)
        return self.meanings

    def _check_model(self) -> None:
        from embeddings import IndexMismatch

        stored, current = self.model, self.encoder.model_info()
        differing = sorted(k for k in ("name", "version", "dim", "prefix") if stored.get(k) != current.get(k))
        if differing:
            raise IndexMismatch(f"the store was embedded with {stored.get('name')!r} but the query model is "
                                f"{current.get('name')!r} ({', '.join(differing)} differ) — rebuild with "
                                f"`tsunagari build --model ...` or search with the store's model")

    def _allowed(self, filters: dict[str, Any]) -> set[str] | None:
        used = {k: v for k, v in filters.items() if v}
        if not used:
            return None
        if self._filter is None:
            raise KgError("filters need a store: use Similarity.from_store")
        return {p["id"] for p in self._filter(**used)}

    def _hits(self, vector, top: int, allowed: set[str] | None, exclude: str | None = None) -> dict[str, float]:
        k = min(max(MIN_CANDIDATES, top * 10), len(self.index))
        if allowed is not None:
            allowed = allowed - {exclude} if exclude else allowed
            if not allowed:
                return {}
        (found,) = self.index.search(vector[None, :], k, allowed=allowed)
        return {pid: score for pid, score in found if pid != exclude}


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
    lowered = text.lower()
    for prefecture in gazetteer.prefectures():
        name = prefecture.romaji.lower().split("-")[0]
        if len(name) > 3 and name in lowered:
            prefectures.add(prefecture.code)
    prefectures |= {gazetteer.get(code).prefecture_code for code in codes}
    return Profile(frozenset(concepts), frozenset(codes), frozenset(prefectures),
                   frozenset(gazetteer.get(code).block for code in prefectures))
