"""The facade a notebook or the CLI uses: build a store, then list, show, query and export.

    >>> from kg import Tsunagari
    >>> kg = Tsunagari.open("tsunagari-store")          # doctest: +SKIP
    >>> [p["title"] for p in kg.projects(prefecture="鳥取県")][:2]   # doctest: +SKIP
"""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from kg.errors import NotFound, RowError
from kg.store import Store

DEFAULT_STORE = Path("tsunagari-store")
EXPORT_FORMATS = ("turtle", "jsonld", "nt", "graphml", "gexf", "csv")


def bundled_source() -> Path:
    """The FY2024 Cabinet Office list shipped with the package (see README for attribution)."""
    return Path(str(resources.files("kg").joinpath("data/r6_kodoku_koritsu_npo_model_projects.txt")))


@dataclass
class BuildReport:
    """What a build did: counts, the problems it found (located), and where it wrote."""

    store: Path
    generation: Path
    projects: int
    triples: int
    sources: list[dict[str, Any]]
    problems: list[RowError] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def skipped(self) -> list[RowError]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[RowError]:
        return [p for p in self.problems if p.level == "warning"]


class Tsunagari:
    """One store, opened: projects, the RDF and NetworkX graphs, SPARQL, exports, similarity."""

    def __init__(self, store: Path | str = DEFAULT_STORE, *, encoder=None) -> None:
        self.store = Store(Path(store))
        self._encoder = encoder          # a ready embeddings encoder for search (tests, servers)
        self._engines: dict[str, Any] = {}
        self.folder = self.store.generation()
        self.manifest: dict[str, Any] = json.loads((self.folder / "manifest.json").read_text(encoding="utf-8"))

    @classmethod
    def open(cls, store: Path | str = DEFAULT_STORE, *, encoder=None) -> "Tsunagari":
        """Open a built store (``tsunagari build`` makes one).

        ``encoder`` (optional) is used by ``search`` instead of loading the store's model.
        """
        return cls(store, encoder=encoder)

    @classmethod
    def build(cls, sources: Iterable[Path | str] | None = None, store: Path | str = DEFAULT_STORE, *,
              fiscal_year: int | None = None, programme: str | None = None,
              embed: bool = False, model: str = "default", similar_links: int = 5,
              encoder=None) -> tuple["Tsunagari", BuildReport]:
        """Read sources (default: the bundled list), build and validate the graph, write the store atomically.

        A source named "bundled" is the FY2024 list shipped with the package, so it can be merged with others.

        With ``embed``, project texts are embedded with ``model`` (or a ready ``encoder``) and the
        ``similar_links`` most similar projects of each are linked in the graph (0: none).

        Raises SourceError for an unreadable source and ValidationError if the graph breaks the SHACL
        shapes; in both cases the previous store stays as it was.
        """
        from kg.build import build_store

        paths = [bundled_source() if str(s) == "bundled" else Path(s) for s in (sources or ["bundled"])]
        report = build_store(paths, Store(Path(store)),
                             fiscal_year=fiscal_year, programme=programme, embed=embed, model=model,
                             similar_links=similar_links, encoder=encoder)
        return cls(store, encoder=encoder), report

    # -- records ---------------------------------------------------------------------------------
    @cached_property
    def _projects(self) -> list[dict[str, Any]]:
        if (self.folder / "projects.jsonl").is_file():          # kg.bulk writes JSON lines, in input order
            with open(self.folder / "projects.jsonl", encoding="utf-8") as lines:
                return sorted((json.loads(line) for line in lines), key=lambda p: p["id"])
        return json.loads(self.store.path("projects.json").read_text(encoding="utf-8"))

    def projects(self, *, prefecture: str | None = None, municipality: str | None = None,
                 block: str | None = None, target_group: str | None = None, theme: str | None = None,
                 fiscal_year: int | None = None, legal_form: str | None = None) -> list[dict[str, Any]]:
        """Projects as dicts, filtered. Region filters take a name (鳥取県, Tottori) or a code;
        concept filters take an id and include narrower concepts (children includes school-refusal)."""
        from kg.filters import ProjectFilter

        keep = ProjectFilter.make(prefecture=prefecture, municipality=municipality, block=block,
                                  target_group=target_group, theme=theme, fiscal_year=fiscal_year,
                                  legal_form=legal_form)
        return [p for p in self._projects if keep(p)]

    def project(self, project_id: str) -> dict[str, Any]:
        """One project by id; an unknown id raises NotFound with the closest ids."""
        for project in self._projects:
            if project["id"] == project_id:
                return project
        ids = [p["id"] for p in self._projects]
        close = difflib.get_close_matches(project_id, ids, n=3, cutoff=0.5)
        hint = f" — did you mean {', '.join(close)}?" if close else " — `tsunagari projects` lists the ids"
        raise NotFound(f"no project {project_id!r}{hint}")

    @property
    def problems(self) -> list[dict[str, Any]]:
        return json.loads(self.store.path("problems.json").read_text(encoding="utf-8"))

    # -- graphs ----------------------------------------------------------------------------------
    @cached_property
    def graph(self):
        """The rdflib Graph of the store."""
        from kg.rdf import new_graph

        graph = new_graph()
        graph.parse(self.store.path("graph.nt"), format="nt")
        return graph

    @cached_property
    def network(self):
        """The NetworkX MultiDiGraph view (node ids are the IRIs)."""
        from kg.network import to_networkx

        return to_networkx(self.graph)

    def sparql(self, query: str, bindings: dict[str, Any] | None = None, *, engine: str = "auto"):
        """Run a SPARQL 1.1 query; returns a kg.sparql.SparqlResult.

        ``engine``: "oxigraph" (the store's embedded database), "rdflib" (parses graph.nt; the reference)
        or "auto" (Oxigraph whenever the store has it). The same queries give the same rows on both.
        ``bindings`` fix variables to values (str, int, float, bool or rdflib terms), as rdflib's
        initBindings do, on both engines.
        """
        from kg.engines import open_engine

        if engine not in self._engines:
            self._engines[engine] = open_engine(self.folder, engine, graph=self.__dict__.get("graph"))
        return self._engines[engine].query(query, bindings)

    def validate(self):
        """SHACL validation of every node of the stored graph, on its Oxigraph database.

        Returns a kg.validate.ValidationResult (``conforms``, ``violations``, ``warnings``, ``text``).
        """
        from kg.engines import OXIGRAPH_FOLDER, OxigraphEngine
        from kg.validate import validate_store

        folder = self.folder / OXIGRAPH_FOLDER
        engine = OxigraphEngine.open(folder) if folder.is_dir() else OxigraphEngine.load(self.folder / "graph.nt")
        return validate_store(engine.store)

    # -- similarity ------------------------------------------------------------------------------
    @cached_property
    def similarity(self):
        """The kg.similar.Similarity of this store (stored vectors; the model loads only for search)."""
        from kg.similar import Similarity

        return Similarity.from_store(self, encoder=self._encoder)

    def similar(self, project_id: str, *, top: int = 10, **filters: Any) -> list[dict[str, Any]]:
        """Projects like one project, best first, each with ``why`` (shared concepts, embedding, region).

        Uses stored vectors only: no model is loaded.
        """
        return self.similarity.similar(project_id, top=top, **filters)

    def search(self, text: str, *, top: int = 10, **filters: Any) -> list[dict[str, Any]]:
        """Projects matching free text in any language, best first, each with ``why``."""
        return self.similarity.search(text, top=top, **filters)

    def families(self, k: int = 5) -> list[dict[str, Any]]:
        """Families of comparable practices (communities of the similarity graph), named by concepts."""
        from kg.families import families

        return families(self.similarity, k=k)

    # -- notebooks -------------------------------------------------------------------------------
    def projects_frame(self, **filters: Any):
        """Projects as a pandas DataFrame (see kg.frames.projects_frame for the columns and options)."""
        from kg.frames import projects_frame

        return projects_frame(self, **filters)

    def similar_frame(self, project_id: str, *, top: int = 10, **filters: Any):
        """``similar`` as a DataFrame, ``why`` flattened into columns."""
        from kg.frames import results_frame

        return results_frame(self.similar(project_id, top=top, **filters))

    def search_frame(self, text: str, *, top: int = 10, **filters: Any):
        """``search`` as a DataFrame, ``why`` flattened into columns."""
        from kg.frames import results_frame

        return results_frame(self.search(text, top=top, **filters))

    def counts_by_prefecture(self, **filters: Any):
        """All 47 prefectures with their number of projects (a DataFrame)."""
        from kg.frames import counts_by_prefecture

        return counts_by_prefecture(self, **filters)

    def map(self, *, title: str | None = None, **filters: Any):
        """A matplotlib Figure: projects per prefecture on a map of Japan."""
        from kg.pictures import map_figure

        return map_figure(self, title=title, **filters)

    def export(self, fmt: str) -> bytes:
        """Serialise the store as turtle, jsonld, nt, graphml, gexf or csv (projects table)."""
        from kg.export import export

        return export(self, fmt)
