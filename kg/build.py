"""The build, one pipeline at every size: sources -> projects -> triples, views and vectors -> a generation.

    >>> from kg.build import build_store
    >>> report = build_store([Path("list.csv")], Store(Path("store")), fiscal_year=2025,  # doctest: +SKIP
    ...                      programme="p")

1. each source is hashed, then streamed row by row through one ``kg.assemble.Assembler`` (numbering,
   organisations merged, problems kept);
2. each project's triples (``kg.rdf`` writers) go to an external sort, its view and filter values to
   ``projects.sqlite`` (``kg.viewdb``); organisations, regions, programmes, sources and vocabularies
   follow once every row is read;
3. with ``embed``, project texts are embedded in batches into the vector index, ranking profiles are
   saved, and each project's top-k similarity links (``kg.similar``) join the triples;
4. the sorted, deduplicated triples become ``graph.nt``; each run the sort spills is bulk-loaded into
   Oxigraph (``oxigraph/``) by a second process while the build reads on (``kg.runloader``; a graph of one
   run is loaded whole at the end), and the database is validated against every shape of
   ``kg/data/shapes.ttl``, by several processes when it is big (``kg.validate.validate_folder``; the
   rule against blank nodes is checked on the lines as they are merged, not by a scan of the database);
5. problems and the manifest are written and the generation goes live. Any failure leaves the
   previous generation live.

Memory grows with organisations and project ids, never with triples (see README "Scale").
"""
from __future__ import annotations

import hashlib
import os
import resource
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata, resources
from pathlib import Path
from typing import Any, Iterator

from kg.errors import RowError
from kg.progress import Progress
from kg.store import FORMAT_VERSION, GRAPH, PROBLEMS, PROFILES, Store

# Package data whose change changes the graph: part of the input hash.
DATA_FILES = ("gazetteer.csv", "concepts.ttl", "concept_rules.tsv", "programmes.csv")
EMBED_BATCH = 512


@dataclass
class BuildReport:
    """What a build did: counts, the problems it found (located), where it wrote, and how long each step took."""

    store: Path
    generation: Path
    projects: int
    triples: int
    sources: list[dict[str, Any]]
    problems: list[RowError] = field(default_factory=list)
    seconds: float = 0.0
    organizations: int = 0
    steps: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float = 0.0        # this process only: not the Oxigraph loader nor the validation workers
    peak_mb: dict[str, float] = field(default_factory=dict)     # peak RSS when each step ended

    @property
    def skipped(self) -> list[RowError]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[RowError]:
        return [p for p in self.problems if p.level == "warning"]


def build_store(paths: list[Path], store: Store, *, fiscal_year: int | None = None, programme: str | None = None,
                embed: bool = False, model: str = "default", similar_links: int = 5, encoder=None,
                progress: Progress | bool | None = None, run_lines: int | None = None) -> BuildReport:
    """Build a store generation from sources; the live generation changes only if every step succeeds.

    Args:
        paths: the sources (.txt document, .csv, .tsv, .xlsx), merged in this order.
        store: where the generation goes.
        fiscal_year, programme: override what the sources state (kg.sources.open_source), with a warning
            where they differ.
        embed: embed project texts with ``model`` (or a ready ``encoder``) for ``similar`` and ``search``,
            and link each project to its ``similar_links`` most similar (0: no links).
        progress: a kg.progress.Progress, or True/False/None for bars on stderr (None: if a terminal).
        run_lines: N-Triples lines sorted in memory per run of the external sort.

    Raises:
        SourceError for an unreadable source, ValidationError when the graph breaks the shapes.
    """
    from kg.assemble import Assembler
    from kg.linesort import RUN_LINES
    from kg.normalize.concepts import ConceptSchemes
    from kg.normalize.regions import Gazetteer
    from kg.runloader import RunLoader, release_memory
    from kg.sources import open_source

    start = time.perf_counter()
    progress = progress if isinstance(progress, Progress) else Progress(progress)
    steps = _Steps()
    with steps("open"):
        sources = [open_source(path, fiscal_year=fiscal_year, programme=programme) for path in paths]
        gazetteer, concepts = Gazetteer.load(), ConceptSchemes.load()
    assembler = Assembler(gazetteer, concepts)
    options = {"fiscal_year": fiscal_year, "programme": programme}
    with store.building() as draft:
        with RunLoader(draft.generation.oxigraph_folder) as loader:
            stream = _Stream(draft, gazetteer, concepts, profiles=embed, run_lines=run_lines or RUN_LINES)
            # Runs the sort spills are loaded into Oxigraph by a second process while the build reads on.
            draft.generation.oxigraph_folder.mkdir()      # with the umask (RocksDB would make it 0755)
            stream.sorter.on_run = loader.add
            with steps("read+normalise+write"), progress.bar("read+normalise+write", unit="rows") as bar:
                for source in sources:
                    for project in assembler.projects(source):
                        stream.add(project, source.sha256)
                        bar.update(1)
            assembler.forget()
            with steps("organisations+regions"):
                stream.finish(assembler, progress)
            organizations = len(assembler.organizations)
            assembler.forget(organizations=True)           # memory for the Oxigraph load
            source_infos = [asdict(s) for s in assembler.sources]
            digest = input_hash(source_infos, options)
            vectors = None
            if embed:
                with steps("embed"):
                    from kg.similar import embeddings_errors

                    with embeddings_errors():        # the model's and the index's errors as KgErrors
                        vectors = _embed(stream, draft, model=model, encoder=encoder, input_hash=digest,
                                         progress=progress)
                if similar_links and stream.views.count:
                    with steps("link"):
                        _link(stream, draft, vectors, similar_links, progress)
                    vectors["similar_links"] = similar_links
            stream.views.close()
            if not loader.started:
                stream.sorter.on_run = None                # one run: graph.nt is loaded whole, in this process
            with steps("sort"):
                if loader.started:
                    stream.sorter.spill()                  # the last run: loaded and compacted during the merge
                    loader.end()
                triples, graph_sha = stream.sorter.merge(draft.generation.folder / GRAPH, progress, stream.lines)
            release_memory()                  # what the reading used, while the loader and validation workers run
            with steps("load"), progress.stage("load"):
                from kg.engines import load_oxigraph

                if loader.started:
                    loader.finish()                           # the last runs, then compaction
                else:
                    oxigraph = load_oxigraph(draft.generation.folder / GRAPH, draft.generation.oxigraph_folder)
                    del oxigraph                  # closes RocksDB: validation reads it, the folder is renamed
            with steps("validate"), progress.stage("validate"):
                # The merge saw every loaded line: without "_:" in any, the scan for blank nodes is answered.
                check_folder(draft.generation.oxigraph_folder, no_blank_nodes=not stream.sorter.may_have_blank_nodes)
        draft.write_json(PROBLEMS, [asdict(p) for p in assembler.problems])
        manifest = {
            "tsunagari_version": _version(),
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "input_hash": digest,
            "graph_sha256": graph_sha,
            "sources": source_infos,
            "options": options,
            "counts": {"projects": stream.views.count, "organizations": organizations,
                       "triples": triples, "problems": len(assembler.problems),
                       "skipped_rows": sum(p.level == "error" for p in assembler.problems)},
            "fiscal_years": sorted(stream.years),
            "programmes": sorted(stream.programmes),
        }
        if vectors is not None:
            manifest["vectors"] = vectors
        generation = draft.commit(manifest)
    return BuildReport(store=store.root, generation=generation.folder, projects=stream.views.count,
                       triples=triples, sources=source_infos, problems=assembler.problems,
                       seconds=time.perf_counter() - start, organizations=organizations,
                       steps=steps.seconds, peak_rss_mb=peak_rss_mb(), peak_mb=steps.peak_mb)


def check_folder(folder: Path, *, no_blank_nodes: bool = False) -> None:
    """Check every node of a built Oxigraph database (a generation's ``oxigraph/``, closed) against
    kg/data/shapes.ttl, on several cores when it is big (kg.validate.validate_folder, which says what
    ``no_blank_nodes`` means); raises kg.errors.ValidationError."""
    from kg.validate import raise_for, validate_folder

    raise_for(validate_folder(folder, no_blank_nodes=no_blank_nodes))


class _Stream:
    """Where each project goes during the read: its triples to the sort, its view and facets to the views
    file, its profile (with ``profiles``) to the ranking table; the rest is written by ``finish``."""

    def __init__(self, draft, gazetteer, concepts, *, profiles: bool, run_lines: int) -> None:
        from kg.linesort import LineSorter
        from kg.profiles import ProfileBuilder
        from kg.viewdb import ViewWriter

        self.gazetteer, self.concepts = gazetteer, concepts
        self.sorter = LineSorter(draft.scratch, run_lines)
        self.views = ViewWriter(draft.generation.views_file)
        self.profiles = ProfileBuilder(concepts) if profiles else None
        self.place_keys: set[str] = set()
        self.programmes: set[str] = set()
        self.years: set[int] = set()
        self.lines = 0
        self.index: Any = None           # the vector index and ranking table, once embedded (_embed)
        self.table: Any = None

    def add(self, project, source_sha: str) -> None:
        from kg.filters import facets_of
        from kg.rdf import project_lines
        from kg.viewdb import dumps
        from kg.views import project_view

        self._lines(project_lines(project, source_sha))
        view = project_view(project, self.gazetteer, self.concepts)
        self.views.add(project.id, dumps(view), facets_of(view))
        if self.profiles is not None:
            self.profiles.add(view)
        self.place_keys.update(place.key for place in project.regions.places)
        self.programmes.add(project.programme)
        self.years.add(project.fiscal_year)

    def finish(self, assembler, progress: Progress) -> None:
        """What depends on every row: organisations with all their spellings, regions, programmes, sources."""
        from kg.rdf import organization_lines, programme_lines, region_lines, source_lines, vocabulary_lines

        self._lines(vocabulary_lines(self.concepts) + source_lines(assembler.sources)
                    + region_lines(self.gazetteer, self.place_keys) + programme_lines(self.programmes))
        organizations = assembler.organizations
        with progress.bar("organisations", total=len(organizations), unit="orgs") as bar:
            for done, (key, organization) in enumerate(organizations.items(), start=1):
                self._lines(organization_lines(organization, assembler.org_labels.get(key, ())))
                if done % 10_000 == 0:
                    bar.update(10_000)
            bar.update(len(organizations) % 10_000)
        self.views.index()

    def _lines(self, lines: list[str]) -> None:
        self.lines += len(lines)
        self.sorter.add(lines)


def _embed(stream: _Stream, draft, *, model: str, encoder, input_hash: str, progress: Progress) -> dict[str, Any]:
    """Embed every project text in batches (id order) into a memory-mapped array; index it and save the
    ranking profiles. Returns the vectors part of the manifest."""
    import numpy as np

    from embeddings import VectorIndex
    from kg.similar import DEFAULT_RECIPE, make_encoder, project_text, write_concept_vectors

    encoder = encoder or make_encoder(model)
    total = stream.views.count
    ids: list[str] = []
    matrix = None
    with progress.bar("embed", total=total, unit="texts") as bar:
        batch: list[str] = []
        for view in stream.views.in_id_order():
            ids.append(view["id"])
            batch.append(project_text(view, DEFAULT_RECIPE))
            if len(batch) >= EMBED_BATCH or len(ids) == total:
                vectors = np.asarray(encoder.encode(batch), dtype=np.float32)
                if matrix is None:
                    matrix = np.lib.format.open_memmap(draft.scratch / "vectors.f32.npy", mode="w+",
                                                       dtype=np.float32, shape=(total, vectors.shape[1]))
                matrix[len(ids) - len(batch):len(ids)] = vectors
                bar.update(len(batch))
                batch = []
    manifest = {"model": encoder.model_info(), "input_hash": input_hash, "recipe": DEFAULT_RECIPE, "count": total}
    index = VectorIndex.build(matrix if matrix is not None else np.zeros((0, 1), dtype=np.float32), ids)
    index.save(draft.generation.vectors_folder, manifest)
    # Concept vectors for queries by meaning, and concepts suggested for projects the rules left untagged.
    suggestions = write_concept_vectors(draft.generation.vectors_folder, encoder, stream.views.in_id_order(),
                                        matrix if matrix is not None else [])
    del matrix
    assert stream.profiles is not None           # made whenever embed is on
    table = stream.profiles.table(by_meaning=suggestions)
    table.save(draft.generation.folder / PROFILES)
    stream.index, stream.table = index, table
    return manifest


def _link(stream: _Stream, draft, vectors: dict[str, Any], k: int, progress: Progress) -> None:
    """Each project's top-k most similar, as triples (into the sort) and as rows of the views file."""
    from kg.rdf import similarity_lines
    from kg.similar import Similarity

    views = stream.views.reader()
    similarity = Similarity(views, stream.index, vectors["model"], profiles=stream.table)
    rows: list[tuple[str, int, str, float]] = []
    for source, hits in similarity.links(k, progress=progress):
        stream._lines(similarity_lines(source, hits))
        rows.extend((source, rank, target, score) for rank, (target, score) in enumerate(hits, start=1))
        if len(rows) >= 50_000:
            stream.views.add_links(rows)
            rows = []
    stream.views.add_links(rows)


def input_hash(sources: list[dict], options: dict) -> str:
    """What the build read, in one digest: sources (name, content), options, format and package data."""
    digest = hashlib.sha256()
    digest.update(repr((FORMAT_VERSION, sorted((s["name"], s["sha256"]) for s in sources),
                        sorted(options.items()))).encode())
    data = resources.files("kg").joinpath("data")
    for name in DATA_FILES:
        file = data.joinpath(name)
        if file.is_file():
            digest.update(file.read_bytes())
    return digest.hexdigest()


def sorted_ntriples(graph) -> bytes:
    """N-Triples of an rdflib Graph with sorted lines: byte-identical for the same graph."""
    lines = graph.serialize(format="nt", encoding="utf-8").splitlines()
    return b"\n".join(sorted(line for line in lines if line.strip())) + b"\n"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if os.uname().sysname == "Darwin" else peak / 1e3


class _Steps:
    """Wall seconds per named step of the build."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
            self.peak_mb[name] = peak_rss_mb()


def _version() -> str:
    try:
        return metadata.version("tsunagari")
    except metadata.PackageNotFoundError:
        return "0+unknown"


__all__ = ["build_store", "BuildReport", "check_folder", "input_hash", "sorted_ntriples", "peak_rss_mb"]
