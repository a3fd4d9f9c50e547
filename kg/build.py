"""The build: sources -> records -> graph -> SHACL check -> a new store generation, published atomically."""
from __future__ import annotations

import hashlib
import time
from dataclasses import asdict
from datetime import datetime, timezone
from importlib import metadata, resources
from pathlib import Path

from kg.assemble import assemble
from kg.engines import OXIGRAPH_FOLDER, load_oxigraph
from kg.normalize.concepts import ConceptSchemes
from kg.normalize.regions import Gazetteer
from kg.rdf import to_graph
from kg.sources import read_source
from kg.store import FORMAT_VERSION, Store, write_json
from kg.validate import raise_for, validate_graph
from kg.views import project_view

# Package data whose change changes the graph: part of the input hash.
DATA_FILES = ("gazetteer.csv", "concepts.ttl", "concept_rules.tsv", "programmes.csv")


def sorted_ntriples(graph) -> bytes:
    """N-Triples with sorted lines: byte-identical for the same graph."""
    lines = graph.serialize(format="nt", encoding="utf-8").splitlines()
    return b"\n".join(sorted(line for line in lines if line.strip())) + b"\n"


def input_hash(sources: list[dict], options: dict) -> str:
    digest = hashlib.sha256()
    digest.update(repr((FORMAT_VERSION, sorted((s["name"], s["sha256"]) for s in sources),
                        sorted(options.items()))).encode())
    data = resources.files("kg").joinpath("data")
    for name in DATA_FILES:
        file = data.joinpath(name)
        if file.is_file():
            digest.update(file.read_bytes())
    return digest.hexdigest()


def build_store(paths: list[Path], store: Store, *, fiscal_year: int | None = None, programme: str | None = None,
                embed: bool = False, model: str = "default", similar_links: int = 5, encoder=None):
    """Build a store generation from sources; the live generation changes only if every step succeeds."""
    from kg.api import BuildReport

    start = time.perf_counter()
    reads = [read_source(path, fiscal_year=fiscal_year, programme=programme) for path in paths]
    gazetteer, concepts = Gazetteer.load(), ConceptSchemes.load()
    data = assemble(reads, gazetteer, concepts)
    graph = to_graph(data, gazetteer, concepts)
    views = [project_view(p, gazetteer, concepts) for p in data.projects]
    sources = [asdict(s) for s in data.sources]
    options = {"fiscal_year": fiscal_year, "programme": programme}
    digest = input_hash(sources, options)
    folder = store.begin()
    try:
        vectors = None
        if embed:
            vectors = _embed(views, folder, graph, model=model, encoder=encoder, input_hash=digest,
                             similar_links=similar_links)
        raise_for(validate_graph(graph))
        triples = sorted_ntriples(graph)
        (folder / "graph.nt").write_bytes(triples)
        load_oxigraph(folder / "graph.nt", folder / OXIGRAPH_FOLDER)   # every store answers SPARQL from it
        write_json(folder / "projects.json", views)
        write_json(folder / "problems.json", [asdict(p) for p in data.problems])
        manifest = {
            "format_version": FORMAT_VERSION,
            "tsunagari_version": _version(),
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "input_hash": digest,
            "graph_sha256": hashlib.sha256(triples).hexdigest(),
            "sources": sources,
            "options": options,
            "counts": {"projects": len(data.projects), "organizations": len(data.organizations),
                       "triples": len(graph), "problems": len(data.problems),
                       "skipped_rows": sum(p.level == "error" for p in data.problems)},
            "fiscal_years": sorted({p.fiscal_year for p in data.projects}),
            "programmes": sorted({p.programme for p in data.projects}),
        }
        if vectors is not None:
            manifest["vectors"] = vectors
        write_json(folder / "manifest.json", manifest)   # written last: no manifest, never published
        name = f"gen-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%f')}-{digest[:8]}"
        final = store.commit(folder, name)
    except BaseException:
        store.abort(folder)
        raise
    return BuildReport(store=store.root, generation=final, projects=len(data.projects), triples=len(graph),
                       sources=sources, problems=data.problems, seconds=time.perf_counter() - start)


def _embed(views, folder: Path, graph, *, model: str, encoder, input_hash: str, similar_links: int) -> dict:
    """Vectors and index into the generation; optionally top-k similar-to links into the graph."""
    from kg.rdf import add_similarity_links
    from kg.similar import Similarity, write_vectors

    manifest, index = write_vectors(views, folder / "vectors", model=model, input_hash=input_hash, encoder=encoder)
    if similar_links:
        similarity = Similarity(views, index, manifest["model"])
        add_similarity_links(graph, {v["id"]: similarity.similar(v["id"], top=similar_links) for v in views})
        manifest["similar_links"] = similar_links
    return manifest


def _version() -> str:
    try:
        return metadata.version("tsunagari")
    except metadata.PackageNotFoundError:
        return "0+unknown"
