"""The facade a notebook or the CLI uses: build a store, then list, show, query and export.

    >>> from kg import Tsunagari
    >>> kg = Tsunagari.open("tsunagari-store")          # doctest: +SKIP
    >>> [p["title"] for p in kg.projects(prefecture="鳥取県")][:2]   # doctest: +SKIP
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, cast

from kg.build import BuildReport
from kg.errors import NotFound, StoreError, quoted
from kg.shapes import ProjectView, Result
from kg.sources import bundled_source
from kg.store import Store

DEFAULT_STORE = Path("tsunagari-store")
EXPORT_FORMATS = ("turtle", "jsonld", "nt", "graphml", "gexf", "csv")

__all__ = ["Tsunagari", "BuildReport", "bundled_source", "DEFAULT_STORE", "EXPORT_FORMATS"]


class Tsunagari:
    """One store, opened: projects, the RDF and NetworkX graphs, SPARQL, exports, similarity.

    Opening reads only the manifest; project views come from the store's views file one query at a
    time, and the rdflib graph is parsed only when ``graph`` is first used.
    """

    def __init__(self, store: Path | str = DEFAULT_STORE, *, encoder=None) -> None:
        self.store = Store(Path(store))
        self._encoder = encoder          # a ready embeddings encoder for search (tests, servers)
        self._engines: dict[str, Any] = {}
        self.generation = self.store.generation()
        self.folder = self.generation.folder
        self.manifest: dict[str, Any] = self.generation.manifest()

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
              encoder=None, progress: bool | None = False) -> tuple["Tsunagari", BuildReport]:
        """Read sources (default: the bundled list), build and validate the graph, write the store atomically.

        A source named "bundled" is the FY2024 list shipped with the package, so it can be merged with others.
        ``fiscal_year`` and ``programme`` override what the sources state (not the bundled list's); where a
        source states another, the report's warnings say so.

        With ``embed``, project texts are embedded with ``model`` (or a ready ``encoder``) and the
        ``similar_links`` most similar projects of each are linked in the graph (0: none).
        ``progress``: bars on stderr (None: only when stderr is a terminal).

        Raises SourceError for an unreadable source and ValidationError if the graph breaks the SHACL
        shapes; in both cases the previous store stays as it was.
        """
        from kg.build import build_store

        paths = [bundled_source() if str(s) == "bundled" else Path(s) for s in (sources or ["bundled"])]
        report = build_store(paths, Store(Path(store)),
                             fiscal_year=fiscal_year, programme=programme, embed=embed, model=model,
                             similar_links=similar_links, encoder=encoder, progress=progress)
        return cls(store, encoder=encoder), report

    # -- records ---------------------------------------------------------------------------------
    @cached_property
    def views(self):
        """The project views by id (a read-only Mapping over the store's views file, kg.viewdb.ViewTable)."""
        from kg.viewdb import ViewTable

        return ViewTable(self.generation.views_file)

    def projects(self, *, prefecture: str | None = None, municipality: str | None = None,
                 block: str | None = None, target_group: str | None = None, theme: str | None = None,
                 fiscal_year: int | None = None, legal_form: str | None = None,
                 limit: int | None = None, offset: int = 0) -> list[ProjectView]:
        """Projects as dicts in id order, filtered. Region filters take a name (鳥取県, Tottori) or a code;
        concept filters take an id and include narrower concepts (children includes school-refusal).
        ``limit`` and ``offset`` give one page of the list."""
        keep = self._filter(prefecture=prefecture, municipality=municipality, block=block,
                            target_group=target_group, theme=theme, fiscal_year=fiscal_year, legal_form=legal_form)
        return cast("list[ProjectView]", self.views.select(keep.conditions, limit=limit, offset=offset))

    def count(self, **filters: Any) -> int:
        """How many projects pass the filters (the same as ``len(projects(**filters))``, without reading them)."""
        return self.views.count(self._filter(**filters).conditions)

    def project(self, project_id: str) -> ProjectView:
        """One project by id; an unknown id raises NotFound with the closest ids."""
        from kg.viewdb import unknown_project

        try:
            return cast(ProjectView, self.views[project_id])
        except KeyError:
            pass
        raise unknown_project(project_id, self.views)

    @property
    def problems(self) -> list[dict[str, Any]]:
        return self.generation.problems()

    @staticmethod
    def _filter(**filters: Any):
        from kg.filters import ProjectFilter

        return ProjectFilter.make(**filters)

    # -- graphs ----------------------------------------------------------------------------------
    @cached_property
    def graph(self):
        """The rdflib Graph of the store, parsed from graph.nt when first used (checked against the
        manifest's graph_sha256 first; about 1.5 KB of memory per triple)."""
        from kg.rdf import new_graph

        path = self.generation.graph_file(verify=True)
        graph = new_graph()
        try:
            graph.parse(str(path), format="nt")
        except Exception as error:      # rdflib raises several types for a damaged file
            raise StoreError(f"{path}: damaged ({str(error).splitlines()[0][:200]}) — rebuild it with "
                             "`tsunagari build`") from None
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
        initBindings do, on both engines; a name the query never mentions is a QueryError.
        """
        from kg.engines import open_engine
        from kg.parameters import check_bindings

        if bindings:
            check_bindings(query, bindings)
        if engine not in self._engines:
            self._engines[engine] = open_engine(self.folder, engine, graph=self.__dict__.get("graph"))
        return self._engines[engine].query(query, bindings)

    def validate(self):
        """SHACL validation of every node of the stored graph, on its Oxigraph database.

        Returns a kg.validate.ValidationResult (``conforms``, ``violations``, ``warnings``, ``text``).
        """
        from kg.engines import OxigraphEngine
        from kg.validate import validate_folder, validate_store

        folder = self.generation.oxigraph_folder
        if folder.is_dir():
            return validate_folder(folder)
        return validate_store(OxigraphEngine.load(self.generation.graph_file()).store)

    # -- similarity ------------------------------------------------------------------------------
    @cached_property
    def similarity(self):
        """The kg.similar.Similarity of this store (stored vectors; the model loads only for search)."""
        from kg.similar import Similarity

        return Similarity.open(self.generation, encoder=self._encoder)

    def similar(self, project_id: str, *, top: int = 10, **filters: Any) -> list[Result]:
        """Projects like one project, best first, each with ``why`` (shared concepts, embedding, region).

        Uses stored vectors only: no model is loaded.
        """
        return self.similarity.similar(project_id, top=top, **filters)

    def search(self, text: str, *, top: int = 10, **filters: Any) -> list[Result]:
        """Projects matching free text in any language, best first, each with ``why``.

        The text may hold up to 4,000 characters (kg.similar.SEARCH_TEXT_MAX); longer, or empty, is a KgError.
        """
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
