"""Projects like this one: the only kg module that imports `embeddings`, and only when needed.

``similar`` uses the stored vectors (no model, no torch); ``search`` encodes the query text with the
model the store was built with. Both re-rank with kg.ranking and say why.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kg.errors import KgError, NotFound
from kg.ranking import Profile, Ranker, Weights, profile_of

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


def make_encoder(model: str = "default", dim: int | None = None):
    """The encoder for a model name: "default" (bundled e5), "hashing" (no torch; tests and quick
    builds, lexical only), or a local sentence-transformers path or name."""
    if model == "hashing":
        from embeddings import HashingEncoder

        return HashingEncoder(dim=dim or 256)
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
    return manifest, index


class Similarity:
    """Similarity search over a set of project views and their vector index."""

    def __init__(self, views: list[dict[str, Any]], index, model: dict[str, Any], *,
                 weights: Weights | None = None, encoder=None) -> None:
        from kg.normalize.concepts import ConceptSchemes

        self.views = {v["id"]: v for v in views}
        self.index = index
        self.model = model
        self.ranker = Ranker(views, ConceptSchemes.load(), weights or Weights())
        self._encoder = encoder
        self._filter = None
        self.query_coverage = True   # text queries: share of the query's concepts (see README evaluation)

    @classmethod
    def from_store(cls, kg: "Tsunagari", *, weights: Weights | None = None, encoder=None) -> "Similarity":
        """Open the vectors of a store; refuses vectors built from other input."""
        from embeddings import VectorIndex

        if "vectors" not in kg.manifest:
            raise NoVectors(f"{kg.store.root}: the store has no vectors — rebuild with `tsunagari build --embed`")
        index = VectorIndex.load(kg.folder / "vectors", expect={"input_hash": kg.manifest["input_hash"]})
        similarity = cls(kg.projects(), index, kg.manifest["vectors"]["model"], weights=weights, encoder=encoder)
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
        return self.ranker.rank(profile_of(view), hits, top=top, exclude=project_id)

    def search(self, text: str, *, top: int = 10, **filters: Any) -> list[dict[str, Any]]:
        """Projects matching free text in any language, each with its reasons."""
        text = text.strip()
        if not text:
            raise KgError("empty search text — type what you are looking for, e.g. \"men's shed\" or 不登校")
        self._check_model()
        vector = self.encoder.encode([text])[0]
        hits = self._hits(vector, top, self._allowed(filters))
        return self.ranker.rank(query_profile(text), hits, top=top, coverage=self.query_coverage)

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
