"""The on-disk store: a folder of generations and a CURRENT pointer, swapped atomically.

    store/
      CURRENT                 name of the live generation (replaced with os.replace)
      gen-<hash>/             graph.nt, projects.json, problems.json, manifest.json, vectors/

A build writes a new generation beside the live one and only then replaces CURRENT, so a build
that fails or is killed midway leaves the previous generation in use.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kg.errors import StoreError

FORMAT_VERSION = 1
KEEP_GENERATIONS = 2


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Store:
    """A store folder; ``generation()`` is the live generation's folder."""

    root: Path

    def generation(self) -> Path:
        pointer = self.root / "CURRENT"
        if not pointer.is_file():
            raise StoreError(f"{self.root}: no store here — run `tsunagari build --store {self.root}` first")
        folder = self.root / pointer.read_text(encoding="utf-8").strip()
        if not (folder / "manifest.json").is_file():
            raise StoreError(f"{folder}: the store is incomplete (no manifest.json) — rebuild it with `tsunagari build`")
        return folder

    def manifest(self) -> dict:
        return json.loads((self.generation() / "manifest.json").read_text(encoding="utf-8"))

    def path(self, name: str) -> Path:
        """A file of the live generation, or a clear error if it is missing."""
        path = self.generation() / name
        if not path.exists():
            raise StoreError(f"{path}: missing from the store — rebuild it with `tsunagari build`")
        return path

    def begin(self) -> Path:
        """A fresh, empty folder for a new generation (not yet live)."""
        self.root.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="building-", dir=self.root))
        (folder / "pid").write_text(str(os.getpid()))
        return folder

    def commit(self, folder: Path, name: str) -> Path:
        """Make a finished generation live: rename it, then swap CURRENT atomically."""
        if not (folder / "manifest.json").is_file():
            raise StoreError(f"{folder}: refusing to publish a generation without a manifest")
        final = self.root / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(folder, final)
        _fsync_dir(final)
        pointer = self.root / "CURRENT.tmp"
        pointer.write_text(name + "\n", encoding="utf-8")
        os.replace(pointer, self.root / "CURRENT")
        _fsync_dir(self.root)
        self._collect(keep=name)
        return final

    def abort(self, folder: Path) -> None:
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
