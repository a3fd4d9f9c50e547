"""The streaming build, for lists of 10^5-10^6 projects: memory bounded by a batch, not by the input.

    >>> from kg.bulk import bulk_build                                        # doctest: +SKIP
    >>> report = bulk_build(["synth-1m.csv"], "big-store", progress=True)     # doctest: +SKIP

The same records and triples as ``kg.build.build_store`` (tests/test_bulk.py compares the sorted
N-Triples), produced differently:

1. each CSV/TSV is hashed, then read row by row (``csv.reader`` on the open file); each row is
   normalised with the functions ``kg.assemble`` uses (organisation merge, gazetteer, concept tagger);
2. every ``batch_size`` projects, ``kg.rdf``'s per-project writer (``_add_project``) fills a set of
   triples (all it needs of a Graph is ``add`` and ``in``), written as N-Triples lines by rdflib's row
   formatter; lines are sorted in runs of ``run_lines`` and spilled to disk, and the
   view of each project is appended to ``projects.jsonl`` (input order);
3. what depends on all rows (organisations with every spelling seen, regions, concepts, sources) is
   written at the end, organisations in batches too; the runs are merged (deduplicated, byte order) into
   ``graph.nt`` — byte-identical to the normal build's sorted N-Triples;
4. SHACL (kg/data/shapes.ttl) checks a deterministic sample: every k-th project (``validate_sample``
   of them) with its organisation, plus every non-project node (concepts, regions, programmes, sources);
5. ``graph.nt`` is bulk-loaded into Oxigraph (``oxigraph/``), the SPARQL engine at this size
   (``kg.engines``); optionally the titles are embedded in batches into ``vectors/``.

What stays in memory grows with the number of organisations and project ids (the merge of spellings and
the duplicate check), about 0.5 KB per project; the triples never do. Similarity links (``tg:similarTo``)
are not written by this path. XLSX and the bundled .txt document are read whole (they are small).
"""
from __future__ import annotations

import hashlib
import heapq
import json
import os
import resource
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from kg.assemble import Dataset, SourceInfo, project_from_row
from kg.errors import RowError, SourceError
from kg.normalize.concepts import ConceptSchemes
from kg.normalize.regions import Gazetteer
from kg.records import Project
from kg.sources import Source, open_source
from kg.store import FORMAT_VERSION, Store, write_json
from kg.views import project_view

BATCH_SIZE = 2_000          # projects per batch of triples
RUN_LINES = 1_000_000       # N-Triples lines sorted in memory before spilling a run (~200 MB)
VALIDATE_SAMPLE = 2_000     # projects checked with SHACL
EMBED_BATCH = 512


@dataclass
class BulkReport:
    """What a streaming build did: counts, per-step seconds, peak memory, where it wrote."""

    store: Path
    generation: Path
    projects: int
    organizations: int
    triples: int
    problems: list[RowError] = field(default_factory=list)
    validated_projects: int = 0
    steps: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    seconds: float = 0.0

    @property
    def skipped(self) -> list[RowError]:
        return [p for p in self.problems if p.level == "error"]


def bulk_build(paths: Iterable[Path | str], store: Store | Path | str, *, fiscal_year: int | None = None,
               programme: str | None = None, batch_size: int = BATCH_SIZE, run_lines: int = RUN_LINES,
               validate_sample: int = VALIDATE_SAMPLE, oxigraph: bool = True, embed: str | None = None,
               encoder=None, progress: bool = False) -> BulkReport:
    """Build a store generation from large lists without holding the graph in memory.

    Example:
        >>> report = bulk_build(["synth-100k.csv"], "store", embed="hashing")      # doctest: +SKIP
        >>> report.triples, report.steps["read+normalise+write"], report.peak_rss_mb  # doctest: +SKIP

    Args:
        paths: CSV/TSV lists (streamed); XLSX or the .txt document also work (read whole).
        store: the store folder; the new generation goes live only if every step succeeds.
        fiscal_year, programme: defaults for lists without those columns (as ``tsunagari build``).
        batch_size: projects per batch of triples; run_lines: N-Triples lines sorted in memory per run.
        validate_sample: how many projects (every k-th) SHACL checks; 0 skips validation.
        oxigraph: bulk-load ``graph.nt`` into ``oxigraph/`` (needs pyoxigraph).
        embed: None, "hashing" or a model name for ``kg.similar.make_encoder`` (or give ``encoder``).
        progress: tqdm bars on stderr (for the command line and benchmarks).

    Returns:
        A BulkReport. Raises SourceError for an unreadable source and ValidationError when the sample
        breaks the shapes; the previous generation then stays live.
    """
    from kg.build import _version, input_hash

    start = time.perf_counter()
    store = store if isinstance(store, Store) else Store(Path(store))
    paths = [Path(p) for p in paths]
    gazetteer, concepts = Gazetteer.load(), ConceptSchemes.load()
    steps: dict[str, float] = {}
    folder = store.begin()
    try:
        writer = _Writer(folder, gazetteer, concepts, batch_size=batch_size, run_lines=run_lines,
                         validate_sample=validate_sample)
        t = time.perf_counter()
        sources = [open_source(path, fiscal_year=fiscal_year, programme=programme) for path in paths]
        steps["hash"] = time.perf_counter() - t
        t = time.perf_counter()
        with _bar(progress, None, "normalise+write", "rows") as bar:
            for source in sources:
                writer.add_source(source, bar)
        writer.flush()
        steps["read+normalise+write"] = time.perf_counter() - t
        t = time.perf_counter()
        writer.write_rest(progress)
        steps["organisations+regions"] = time.perf_counter() - t
        t = time.perf_counter()
        triples, digest_nt = writer.merge(folder / "graph.nt", progress)
        steps["sort+merge"] = time.perf_counter() - t
        t = time.perf_counter()
        validated = writer.validate() if validate_sample else 0
        steps["shacl sample"] = time.perf_counter() - t
        if oxigraph:
            from kg.engines import OXIGRAPH_FOLDER, load_oxigraph

            t = time.perf_counter()
            load_oxigraph(folder / "graph.nt", folder / OXIGRAPH_FOLDER)   # store dropped: RocksDB closed
            steps["oxigraph load"] = time.perf_counter() - t
        data = writer.data
        sources = [asdict(s) for s in data.sources]
        options = {"fiscal_year": fiscal_year, "programme": programme}
        digest = input_hash(sources, options)
        vectors = None
        if embed or encoder is not None:
            t = time.perf_counter()
            vectors = embed_views(folder / "projects.jsonl", folder / "vectors", model=embed or "default",
                                  encoder=encoder, input_hash=digest, progress=progress)
            steps["embed+index"] = time.perf_counter() - t
        write_json(folder / "problems.json", [asdict(p) for p in data.problems])
        manifest = {
            "format_version": FORMAT_VERSION, "tsunagari_version": _version(),
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "input_hash": digest, "graph_sha256": digest_nt, "sources": sources, "options": options,
            "counts": {"projects": writer.count, "organizations": len(data.organizations), "triples": triples,
                       "problems": len(data.problems),
                       "skipped_rows": sum(p.level == "error" for p in data.problems)},
            "fiscal_years": sorted(writer.years), "programmes": sorted(writer.programmes),
            "bulk": {"projects_file": "projects.jsonl", "order": "input", "validated_projects": validated,
                     "oxigraph": bool(oxigraph), "batch_size": batch_size},
        }
        if vectors is not None:
            manifest["vectors"] = vectors
        write_json(folder / "manifest.json", manifest)
        name = f"gen-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%f')}-{digest[:8]}"
        final = store.commit(folder, name)
    except BaseException:
        store.abort(folder)
        raise
    return BulkReport(store=store.root, generation=final, projects=writer.count,
                      organizations=len(data.organizations), triples=triples, problems=data.problems,
                      validated_projects=validated, steps=steps, peak_rss_mb=peak_rss_mb(),
                      seconds=time.perf_counter() - start)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if os.uname().sysname == "Darwin" else peak / 1e3


# ---- writing ----------------------------------------------------------------------------------------


class _Writer:
    """Projects in, N-Triples runs and projects.jsonl out; organisations and regions kept for the end."""

    def __init__(self, folder: Path, gazetteer: Gazetteer, concepts: ConceptSchemes, *, batch_size: int,
                 run_lines: int, validate_sample: int) -> None:
        self.folder, self.gazetteer, self.concepts = folder, gazetteer, concepts
        self.batch_size, self.run_lines, self.validate_sample = batch_size, run_lines, validate_sample
        self.data = Dataset()
        self.seen: dict[str, str] = {}
        self.place_keys: set[str] = set()
        self.years: set[int] = set()
        self.programmes: set[str] = set()
        self.batch: list[tuple[Project, str]] = []
        self.lines: list[bytes] = []
        self.runs: list[Path] = []
        self.sample: list[tuple[Project, str]] = []
        self.count = 0
        self.views = open(folder / "projects.jsonl", "w", encoding="utf-8")
        (folder / "runs").mkdir()

    def add_source(self, source: Source, bar) -> None:
        """Normalise and write every row of one source (the per-source part of kg.assemble.assemble).

        The numbers the source's rows state are read (a second pass) only when a row has none.
        """
        name, sha = source.name, source.sha256
        used: set[int] | None = None
        next_number, loaded = 1, 0
        for row, problems in source.rows():
            self.data.problems.extend(problems)
            bar.update(1)
            if row is None:
                continue
            loaded += 1
            number = row.number
            if number is None:
                if used is None:     # numbers taken by other rows of the source are needed first
                    used = source.numbers()
                while next_number in used:
                    next_number += 1
                number = next_number
                used.add(number)
            project = project_from_row(row, number, name, self.data, self.seen, self.gazetteer, self.concepts)
            if project is not None:
                self._add(project, sha)
        self.data.sources.append(SourceInfo(name, sha, source.title, loaded))

    def _add(self, project: Project, sha: str) -> None:
        self.count += 1
        self.place_keys.update(p.key for p in project.regions.places)
        self.years.add(project.fiscal_year)
        self.programmes.add(project.programme)
        self.views.write(json.dumps(project_view(project, self.gazetteer, self.concepts), ensure_ascii=False,
                                    sort_keys=True) + "\n")
        if self.validate_sample and len(self.sample) < self.validate_sample and self._sampled(project.id):
            self.sample.append((project, sha))
        self.batch.append((project, sha))
        if len(self.batch) >= self.batch_size:
            self._write_batch()

    def _sampled(self, project_id: str) -> bool:
        """Deterministic ~1 in 50 by id hash (so the sample spreads over the whole input)."""
        return int(hashlib.blake2b(project_id.encode(), digest_size=4).hexdigest(), 16) % 50 == 0

    def _write_batch(self) -> None:
        from kg.rdf import _add_project

        triples = _Triples()
        for project, sha in self.batch:
            _add_project(triples, project, sha)
        self._lines(triples)
        self.batch = []

    def _lines(self, graph) -> None:
        """N-Triples lines of a Graph or _Triples, as rdflib's N-Triples serializer writes them."""
        from rdflib.plugins.serializers.nt import _nt_row

        self.lines.extend(_nt_row(triple).encode("utf-8").rstrip(b"\n") for triple in _iter_triples(graph))
        if len(self.lines) >= self.run_lines:
            self._spill()

    def _spill(self) -> None:
        if not self.lines:
            return
        run = self.folder / "runs" / f"run-{len(self.runs):05d}.nt"
        with open(run, "wb") as f:
            previous = None
            for line in sorted(self.lines):
                if line != previous:
                    f.write(line + b"\n")
                previous = line
        self.runs.append(run)
        self.lines = []

    def flush(self) -> None:
        if self.batch:
            self._write_batch()
        self.views.close()

    def write_rest(self, progress: bool = False) -> None:
        """Concepts, legal forms, sources, programmes' regions and the organisations, in batches."""
        from kg.rdf import _add_organization, _add_regions, to_graph

        static = to_graph(Dataset(sources=self.data.sources), self.gazetteer, self.concepts)
        _add_regions(static, self.gazetteer, self.place_keys)
        self.static = static
        self._lines(static)
        organizations = self.data.organizations
        with _bar(progress, len(organizations), "organisations", "orgs") as bar:
            triples = _Triples()
            for done, (key, organization) in enumerate(organizations.items(), start=1):
                _add_organization(triples, organization, self.data.org_labels.get(key, set()))
                if done % (self.batch_size * 4) == 0:
                    self._lines(triples)
                    triples = _Triples()
                bar.update(1)
            self._lines(triples)
        self._spill()

    def merge(self, out: Path, progress: bool = False) -> tuple[int, str]:
        """Merge the sorted runs into one sorted, deduplicated N-Triples file; (triples, sha256)."""
        digest = hashlib.sha256()
        count = 0
        with ExitStack() as stack, open(out, "wb") as f:
            files = [stack.enter_context(open(run, "rb")) for run in self.runs]
            previous = None
            buffer: list[bytes] = []
            with _bar(progress, None, "merge", "triples") as bar:
                for line in heapq.merge(*files):
                    if line == previous:
                        continue
                    previous = line
                    buffer.append(line)
                    count += 1
                    if len(buffer) >= 100_000:
                        chunk = b"".join(buffer)
                        f.write(chunk)
                        digest.update(chunk)
                        bar.update(len(buffer))
                        buffer = []
                chunk = b"".join(buffer)
                f.write(chunk)
                digest.update(chunk)
                bar.update(len(buffer))
        for run in self.runs:
            run.unlink()
        (self.folder / "runs").rmdir()
        return count, digest.hexdigest()

    def validate(self) -> int:
        """SHACL on the sampled projects, their organisations and every non-project node."""
        from rdflib import Graph

        from kg.rdf import _add_organization, _add_project
        from kg.validate import raise_for, validate_graph

        graph = Graph()
        graph += self.static
        for project, sha in self.sample:
            _add_project(graph, project, sha)
            key = project.organization.key
            _add_organization(graph, self.data.organizations[key], self.data.org_labels.get(key, set()))
        raise_for(validate_graph(graph))
        return len(self.sample)


class _Triples(set):
    """What kg.rdf's per-record writers use of a Graph (``add`` and ``in``), as a plain set of triples.

    Filling an rdflib Graph costs ~0.1 ms a triple for indexes nobody reads here; a set costs ~1 µs.
    The lines are then written by rdflib's own N-Triples row formatter, so they are the same bytes.
    """


def _iter_triples(graph):
    return iter(graph) if isinstance(graph, set) else graph.triples((None, None, None))


# ---- embeddings -------------------------------------------------------------------------------------


def embed_views(views_file: Path, folder: Path, *, model: str = "default", encoder=None, input_hash: str,
                batch: int = EMBED_BATCH, progress: bool = False) -> dict[str, Any]:
    """Embed the project texts of a projects.jsonl in batches into a memory-mapped array, then index it.

    The vectors go to disk as they are made (n x dim float32); ``VectorIndex.build`` then chooses flat
    or HNSW by size (embeddings/index.py). Returns the vectors manifest for the store manifest.
    """
    import numpy as np

    from embeddings import VectorIndex
    from kg.similar import DEFAULT_RECIPE, make_encoder, project_text

    encoder = encoder or make_encoder(model)
    views_file, folder = Path(views_file), Path(folder)
    with open(views_file, encoding="utf-8") as f:
        total = sum(1 for _ in f)
    folder.mkdir(parents=True, exist_ok=True)
    ids: list[str] = []
    matrix = None
    scratch = folder / "vectors.f32"
    with open(views_file, encoding="utf-8") as f, _bar(progress, total, "embed", "texts") as bar:
        texts: list[str] = []
        for line in f:
            view = json.loads(line)
            ids.append(view["id"])
            texts.append(project_text(view, DEFAULT_RECIPE))
            if len(texts) >= batch or len(ids) == total:
                vectors = np.asarray(encoder.encode(texts), dtype=np.float32)
                if matrix is None:
                    matrix = np.lib.format.open_memmap(scratch, mode="w+", dtype=np.float32,
                                                       shape=(total, vectors.shape[1]))
                matrix[len(ids) - len(texts):len(ids)] = vectors
                bar.update(len(texts))
                texts = []
    if matrix is None:
        raise SourceError(f"{views_file}: no projects to embed")
    matrix.flush()
    index = VectorIndex.build(matrix, ids)
    del matrix
    manifest = {"model": encoder.model_info(), "input_hash": input_hash, "recipe": DEFAULT_RECIPE, "count": len(ids)}
    saved = index.save(folder, manifest)
    scratch.unlink()
    return saved


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc) -> None:
        pass


def _bar(enabled: bool, total: int | None, desc: str, unit: str):
    """A tqdm progress bar on stderr when enabled and tqdm is installed, else a no-op."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, mininterval=1.0, smoothing=0.1)


__all__ = ["bulk_build", "BulkReport", "embed_views", "peak_rss_mb"]
