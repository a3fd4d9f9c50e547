"""The on-disk store: a folder of generations and a CURRENT pointer, swapped atomically.

    store/
      CURRENT                 name of the live generation (replaced with os.replace)
      gen-<time>-<hash>/      one finished build:
        manifest.json         what was built from what (written last; ``format_version``)
        graph.nt              the graph, sorted N-Triples (``graph_sha256`` in the manifest)
        oxigraph/             the same graph bulk-loaded into Oxigraph (SPARQL, validation, the server)
        projects.sqlite       the project views by id, filter tables, similarity links (kg.viewdb)
        problems.json         rows skipped or warned about, located
        vectors/              the embeddings index (with ``--embed``)
        profiles.npz          what the ranker needs of every project (with ``--embed``; kg.ranking)

A build writes a new generation beside the live one (``with store.building() as draft: ...
draft.commit(manifest)``) and only then replaces CURRENT, so a build that fails or is killed midway
leaves the previous generation in use. Every file name lives here: other modules ask the store.

Opening a store reads only CURRENT and the manifest, so it costs the same at 77 and at a million
projects. ``graph.nt`` is checked against the manifest's ``graph_sha256`` whenever it is read whole
(``Generation.graph_file(verify=True)``: the rdflib graph, exports, push), not on every open.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kg.errors import StoreError

FORMAT_VERSION = 2
KEEP_GENERATIONS = 2

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
GRAPH = "graph.nt"
OXIGRAPH = "oxigraph"
VIEWS = "projects.sqlite"
PROBLEMS = "problems.json"
VECTORS = "vectors"
PROFILES = "profiles.npz"
SCRATCH = "scratch"                # a draft's temporary files (sort runs), removed before commit

REBUILD = "rebuild it with `tsunagari build`"
_GENERATION_NAME = re.compile(r"gen-[A-Za-z0-9._-]+")
_REQUIRED = {"format_version": int, "input_hash": str, "graph_sha256": str, "counts": dict, "sources": list}


def write_json(path: Path, value: Any) -> None:
    """JSON as the store writes it: UTF-8, keys sorted, Japanese kept readable."""
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def read_json(path: Path) -> Any:
    """A JSON file of a generation, or a StoreError naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StoreError(f"{path}: missing from the store — {REBUILD}") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise StoreError(f"{path}: damaged ({_first_line(error)}) — {REBUILD}") from None


@dataclass(frozen=True)
class Generation:
    """One generation folder: its files by name, its manifest, its views."""

    folder: Path

    def __truediv__(self, name: str) -> Path:
        """``generation / "graph.nt"``: a path in the folder, as with a Path (existing or not)."""
        return self.folder / name

    def __fspath__(self) -> str:
        return str(self.folder)

    def path(self, name: str) -> Path:
        """A file of the generation, or a clear error if it is missing."""
        path = self.folder / name
        if not path.exists():
            raise StoreError(f"{path}: missing from the store — {REBUILD}")
        return path

    def manifest(self) -> dict[str, Any]:
        """The manifest, checked: a JSON object of this format version with the keys every reader needs."""
        path = self.folder / MANIFEST
        manifest = read_json(path)
        if not isinstance(manifest, dict):
            raise StoreError(f"{path}: damaged (not a JSON object) — {REBUILD}")
        version = manifest.get("format_version")
        if version != FORMAT_VERSION:
            raise StoreError(f"{path}: store format {version!r}, this version of tsunagari reads format "
                             f"{FORMAT_VERSION} — {REBUILD}")
        for key, kind in _REQUIRED.items():
            if not isinstance(manifest.get(key), kind):
                raise StoreError(f"{path}: damaged (no valid {key!r}) — {REBUILD}")
        if not isinstance(manifest["counts"].get("projects"), int):
            raise StoreError(f"{path}: damaged (no valid counts.projects) — {REBUILD}")
        return manifest

    def graph_file(self, *, verify: bool = False) -> Path:
        """``graph.nt``; with ``verify``, its SHA-256 is checked against the manifest first."""
        path = self.path(GRAPH)
        if verify:
            expected = self.manifest()["graph_sha256"]
            if file_sha256(path) != expected:
                raise StoreError(f"{path}: changed or damaged since the build (SHA-256 differs from "
                                 f"the manifest's graph_sha256) — {REBUILD}")
        return path

    @property
    def oxigraph_folder(self) -> Path:
        return self.folder / OXIGRAPH

    @property
    def vectors_folder(self) -> Path:
        return self.folder / VECTORS

    @property
    def views_file(self) -> Path:
        return self.folder / VIEWS

    def problems(self) -> list[dict[str, Any]]:
        """The located problems of the build (as dicts with the fields of kg.errors.RowError)."""
        path = self.folder / PROBLEMS
        found = read_json(path)
        if not isinstance(found, list) or not all(isinstance(p, dict) for p in found):
            raise StoreError(f"{path}: damaged (not a list of problems) — {REBUILD}")
        return found


class Draft:
    """A generation being written (``Store.building``): not live until ``commit``."""

    def __init__(self, folder: Path, store: "Store") -> None:
        self.folder = folder
        self.store = store
        self.generation = Generation(folder)      # where each file goes (the same names once live)
        self.committed: Generation | None = None

    @property
    def scratch(self) -> Path:
        """A folder for temporary files (sort runs); removed before the generation goes live."""
        path = self.folder / SCRATCH
        path.mkdir(exist_ok=True)
        return path

    def write_json(self, name: str, value: Any) -> Path:
        """Write one JSON file of the generation (see ``write_json``)."""
        path = self.folder / name
        write_json(path, value)
        return path

    def commit(self, manifest: dict[str, Any]) -> Generation:
        """Write the manifest (with this format version), then publish the generation atomically."""
        manifest = {**manifest, "format_version": FORMAT_VERSION}
        shutil.rmtree(self.folder / SCRATCH, ignore_errors=True)
        (self.folder / "pid").unlink(missing_ok=True)
        write_json(self.folder / MANIFEST, manifest)     # written last: no manifest, never published
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        self.committed = self.store.publish(self.folder, f"gen-{stamp}-{str(manifest.get('input_hash', ''))[:8]}")
        return self.committed


@dataclass(frozen=True)
class Store:
    """A store folder; ``generation()`` is the live generation."""

    root: Path

    def generation(self) -> Generation:
        """The live generation; a clear StoreError when there is none or CURRENT is not to be trusted."""
        pointer = self.root / CURRENT
        if not pointer.is_file():
            raise StoreError(f"{self.root}: no store here — run `tsunagari build --store {self.root}` first")
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise StoreError(f"{pointer}: unreadable ({_first_line(error)}) — {REBUILD}") from None
        folder = self.root / name
        inside = folder.resolve().parent == self.root.resolve()
        if not _GENERATION_NAME.fullmatch(name) or not inside or folder.is_symlink():
            raise StoreError(f"{pointer}: names {name[:80]!r}, which is not a generation inside {self.root} "
                             f"— {REBUILD}")
        if not (folder / MANIFEST).is_file():
            raise StoreError(f"{folder}: the store is incomplete (no {MANIFEST}) — {REBUILD}")
        return Generation(folder)

    def path(self, name: str) -> Path:
        """A file of the live generation, or a clear error if it is missing."""
        return self.generation().path(name)

    def building(self) -> "_Building":
        """A context manager giving a fresh Draft; it is removed unless ``draft.commit`` ran.

        >>> with Store(Path("store")).building() as draft:       # doctest: +SKIP
        ...     write_json(draft.folder / "problems.json", [])
        ...     generation = draft.commit({"input_hash": "...", ...})
        """
        return _Building(self)

    def begin(self) -> Draft:
        """A fresh, empty folder for a new generation (not yet live), made with the user's umask."""
        self.root.mkdir(parents=True, exist_ok=True)
        while True:
            folder = self.root / f"building-{os.getpid()}-{secrets.token_hex(4)}"
            try:
                folder.mkdir()        # mode 0o777 minus the umask (mkdtemp would force 0o700)
                break
            except FileExistsError:
                continue
        (folder / "pid").write_text(str(os.getpid()))
        return Draft(folder, self)

    def publish(self, folder: Path, name: str) -> Generation:
        """Make a finished folder live: rename it, then swap CURRENT atomically."""
        if not (folder / MANIFEST).is_file():
            raise StoreError(f"{folder}: refusing to publish a generation without a manifest")
        final = self.root / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(folder, final)
        _fsync_dir(final)
        pointer = self.root / (CURRENT + ".tmp")
        pointer.write_text(name + "\n", encoding="utf-8")
        os.replace(pointer, self.root / CURRENT)
        _fsync_dir(self.root)
        self._collect(keep=name)
        return Generation(final)

    def abort(self, folder: Path) -> None:
        """Remove an unfinished generation."""
        shutil.rmtree(folder, ignore_errors=True)

    def _collect(self, keep: str) -> None:
        """Remove unfinished builds and all but the newest generations."""
        generations = sorted((p for p in self.root.glob("gen-*") if p.is_dir() and p.name != keep),
                             key=lambda p: p.stat().st_mtime, reverse=True)
        for old in generations[KEEP_GENERATIONS - 1:]:
            shutil.rmtree(old, ignore_errors=True)
        for stale in self.root.glob("building-*"):
            if stale.is_dir() and not _owned_by_live_process(stale):
                shutil.rmtree(stale, ignore_errors=True)


class _Building:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.draft: Draft | None = None

    def __enter__(self) -> Draft:
        self.draft = self.store.begin()
        return self.draft

    def __exit__(self, kind, error, traceback) -> None:
        draft = self.draft
        if draft is not None and draft.committed is None:
            self.store.abort(draft.folder)
            if kind is None:
                raise StoreError(f"{draft.folder}: the build ended without committing a generation")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in chunks (constant memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


def _owned_by_live_process(folder: Path) -> bool:
    """A build in progress marks its folder with its pid; others may be removed."""
    marker = folder / "pid"
    try:
        pid = int(marker.read_text())
        os.kill(pid, 0)
        return pid != os.getpid()
    except (OSError, ValueError):
        return False


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
