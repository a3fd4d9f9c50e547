"""The project views of a generation in one SQLite file: by id, by filter value, and their similarity links.

    >>> from kg.viewdb import ViewTable
    >>> views = ViewTable(generation.views_file)                  # doctest: +SKIP
    >>> views["cao-kodoku-npo-model-fy2024-035"]["title"]          # doctest: +SKIP
    >>> views.select([("prefecture", {"310000"})])                 # doctest: +SKIP

Tables (the file is written once by the build, then opened read-only and immutable):

- ``projects(seq, id, view)``: the JSON view of each project (kg.views.project_view), ``id`` unique;
- ``facets(kind, value, seq)``: the values a filter looks at (kg.filters.facets_of), indexed by
  (kind, value) so a filter reads only the projects it keeps;
- ``links(source, rank, target, score)``: the top-K similar projects of each project, as in the graph.

So a project by id, a filtered list or a page of it costs milliseconds at a million projects and
nothing is held in memory. The store owns where the file lies; this module owns what is in it.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from kg.errors import NotFound, StoreError, quoted

Conditions = Iterable[tuple[str, Iterable[str]]]
SCHEMA = """
CREATE TABLE projects (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, view TEXT NOT NULL);
CREATE TABLE facets (kind TEXT NOT NULL, value TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE links (source TEXT NOT NULL, rank INTEGER NOT NULL, target TEXT NOT NULL, score REAL NOT NULL);
"""
INDEXES_VIEWS = """
CREATE UNIQUE INDEX projects_by_id ON projects(id);
CREATE INDEX facets_by_value ON facets(kind, value, seq);
"""
INDEXES_LINKS = "CREATE UNIQUE INDEX links_by_source ON links(source, rank);"
BATCH = 5_000
CLOSE_SCAN = 20_000      # ids compared for a "did you mean" suggestion
REBUILD = "rebuild it with `tsunagari build`"


def dumps(view: Mapping[str, Any]) -> str:
    """A view as stored: compact JSON, Japanese kept as is."""
    return json.dumps(view, ensure_ascii=False, separators=(",", ":"))


class ViewWriter:
    """Fills a new views file during a build; ``close()`` indexes it (the build calls it once)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if self.path.exists():
            raise StoreError(f"{self.path}: already exists — a views file is written once")
        self.path.touch()               # SQLite would create it 0644 whatever the umask; touch follows it
        self.db = sqlite3.connect(self.path)
        # A draft generation is thrown away on failure: no journal, no fsync until the end.
        self.db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-64000;"
                              + SCHEMA)
        self.count = 0
        self.indexed = False
        self._views: list[tuple[int, str, str]] = []
        self._facets: list[tuple[str, str, int]] = []

    def add(self, project_id: str, view_json: str, facets: Iterable[tuple[str, str]]) -> None:
        """One project: its id, its view as JSON (``dumps``) and its (kind, value) facets."""
        seq = self.count
        self.count += 1
        self._views.append((seq, project_id, view_json))
        self._facets.extend((kind, value, seq) for kind, value in facets)
        if len(self._views) >= BATCH:
            self._flush()

    def index(self) -> None:
        """Index the views and facets (a duplicate id fails here); links may still be added."""
        self._flush()
        try:
            self.db.executescript(INDEXES_VIEWS)
        except sqlite3.IntegrityError as error:
            raise StoreError(f"{self.path}: {error} — two projects share an id") from None
        self.db.commit()
        self.indexed = True

    def in_id_order(self) -> Iterator[dict[str, Any]]:
        """The views written so far, in id order (after ``index``)."""
        cursor = self.db.execute("SELECT view FROM projects ORDER BY id")
        while batch := cursor.fetchmany(1000):
            yield from (json.loads(row[0]) for row in batch)

    def reader(self) -> "ViewTable":
        """A read-only table over the views written so far (after ``index``)."""
        return ViewTable(self.path, immutable=False)

    def add_links(self, rows: Iterable[tuple[str, int, str, float]]) -> None:
        """Similarity links as (source id, rank from 1, target id, score)."""
        self.db.executemany("INSERT INTO links VALUES (?, ?, ?, ?)", rows)
        self.db.commit()

    def close(self) -> None:
        """Index everything and close the file."""
        if not self.indexed:
            self.index()
        self.db.executescript(INDEXES_LINKS + "ANALYZE;")
        self.db.commit()
        self.db.close()

    def _flush(self) -> None:
        self.db.executemany("INSERT INTO projects VALUES (?, ?, ?)", self._views)
        self.db.executemany("INSERT INTO facets VALUES (?, ?, ?)", self._facets)
        self._views, self._facets = [], []


class ViewTable(Mapping):
    """The views of a generation, read-only: a Mapping from project id to view, plus filtered lists.

    Any SQLite error (a damaged or foreign file) becomes a StoreError naming the file.
    """

    def __init__(self, path: Path, *, immutable: bool = True) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise StoreError(f"{self.path}: missing from the store — {REBUILD}")
        try:
            mode = "ro&immutable=1" if immutable else "ro"
            self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode={mode}", uri=True,
                                      check_same_thread=False)
            self._length = self._one("SELECT count(*) FROM projects")[0]
        except sqlite3.Error as error:
            raise self._damaged(error) from None

    # -- Mapping ----------------------------------------------------------------------------------
    def __getitem__(self, project_id: str) -> dict[str, Any]:
        row = self._one("SELECT view FROM projects WHERE id = ?", (project_id,))
        if row is None:
            raise KeyError(project_id)
        return self._load(row[0])

    def __contains__(self, project_id: object) -> bool:
        return isinstance(project_id, str) and self._one("SELECT 1 FROM projects WHERE id = ?",
                                                         (project_id,)) is not None

    def __iter__(self) -> Iterator[str]:
        return (row[0] for row in self._rows("SELECT id FROM projects ORDER BY id"))

    def __len__(self) -> int:
        return self._length

    def many(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The views of several ids at once (missing ids are left out)."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for pid, text in self._rows(f"SELECT id, view FROM projects WHERE id IN ({marks})", chunk):
                found[pid] = self._load(text)
        return found

    # -- filters ----------------------------------------------------------------------------------
    def select(self, conditions: Conditions = (), *, limit: int | None = None,
               offset: int = 0) -> list[dict[str, Any]]:
        """Views passing every condition (kind, accepted values), in id order; a page with limit/offset."""
        where, args = self._where(conditions)
        page = f" LIMIT {int(limit)} OFFSET {int(offset)}" if limit is not None else (
            f" LIMIT -1 OFFSET {int(offset)}" if offset else "")
        sql = f"SELECT view FROM projects{where} ORDER BY id{page}"
        return [self._load(row[0]) for row in self._rows(sql, args)]

    def ids(self, conditions: Conditions = ()) -> list[str]:
        """Ids passing every condition, in id order."""
        where, args = self._where(conditions)
        return [row[0] for row in self._rows(f"SELECT id FROM projects{where} ORDER BY id", args)]

    def count(self, conditions: Conditions = ()) -> int:
        """How many projects pass every condition."""
        where, args = self._where(conditions)
        return self._one(f"SELECT count(*) FROM projects{where}", tuple(args))[0]

    def titles(self) -> dict[str, str]:
        """Every project's title by id (without decoding whole views)."""
        return dict(self._rows("SELECT id, json_extract(view, '$.title') FROM projects"))

    def ids_between(self, low: str, high: str, limit: int) -> list[str]:
        """Ids in [low, high) in order, at most ``limit`` (close-match suggestions on large stores)."""
        return [row[0] for row in self._rows("SELECT id FROM projects WHERE id >= ? AND id < ? ORDER BY id "
                                             "LIMIT ?", (low, high, limit))]

    def ids_around(self, text: str, k: int) -> list[str]:
        """The ``k`` ids before ``text`` and the ``k`` from it on, in order (by the id index)."""
        before = [row[0] for row in self._rows("SELECT id FROM projects WHERE id < ? ORDER BY id DESC LIMIT ?",
                                               (text, k))]
        return before[::-1] + [row[0] for row in self._rows("SELECT id FROM projects WHERE id >= ? ORDER BY id "
                                                            "LIMIT ?", (text, k))]

    # -- links ------------------------------------------------------------------------------------
    def links(self, k: int | None = None) -> Iterator[tuple[str, int, str, float]]:
        """Stored similarity links (source, rank, target, score), by source then rank; ranks up to ``k``."""
        if k is None:
            return self._rows("SELECT source, rank, target, score FROM links ORDER BY source, rank")
        return self._rows("SELECT source, rank, target, score FROM links WHERE rank <= ? ORDER BY source, rank",
                          (k,))

    # -- plumbing ---------------------------------------------------------------------------------
    def _where(self, conditions: Conditions) -> tuple[str, list[Any]]:
        parts, args = [], []
        for kind, values in conditions:
            values = sorted(set(values))
            if not values:
                return " WHERE 0", []
            parts.append(f"SELECT seq FROM facets WHERE kind = ? AND value IN ({','.join('?' * len(values))})")
            args += [kind, *values]
        if not parts:
            return "", []
        return f" WHERE seq IN ({' INTERSECT '.join(parts)})", args

    def _rows(self, sql: str, args: Iterable[Any] = ()) -> Iterator[tuple]:
        try:
            cursor = self.db.execute(sql, tuple(args))
            while batch := cursor.fetchmany(1000):
                yield from batch
        except sqlite3.Error as error:
            raise self._damaged(error) from None

    def _one(self, sql: str, args: tuple = ()) -> Any:
        try:
            return self.db.execute(sql, args).fetchone()
        except sqlite3.Error as error:
            raise self._damaged(error) from None

    def _load(self, text: str) -> dict[str, Any]:
        try:
            view = json.loads(text)
        except ValueError:
            view = None
        if not isinstance(view, dict) or "id" not in view:
            raise StoreError(f"{self.path}: damaged (a project view is not a JSON object) — {REBUILD}")
        return view

    def _damaged(self, error: sqlite3.Error) -> StoreError:
        return StoreError(f"{self.path}: damaged or not a tsunagari views file ({error}) — {REBUILD}")


def close_ids(project_id: str, views: Mapping, n: int = 3) -> list[str]:
    """Ids close to one that does not exist (for "did you mean"): all ids of a small store are compared;
    in a large one, those sharing its prefix up to the last "-" (programme and year). A bare number
    ("35", "035") finds the ids ending in that number."""
    import difflib

    large = len(views) > CLOSE_SCAN and isinstance(views, ViewTable)
    if project_id.strip().isdecimal() and project_id.strip().isascii() and not large:
        number = int(project_id)
        found = [pid for pid in views if pid.rsplit("-", 1)[-1].isdecimal() and int(pid.rsplit("-", 1)[-1]) == number]
        if found:
            return sorted(found)[:n]
    if large and isinstance(views, ViewTable):
        prefix = project_id.rsplit("-", 1)[0]
        ids = views.ids_between(prefix, prefix + "\U0010ffff", CLOSE_SCAN)
    else:
        ids = list(views)
    return difflib.get_close_matches(project_id, ids, n=n, cutoff=0.5)


def unknown_project(project_id: str, views: Mapping) -> NotFound:
    """The error for an id no project has, with the close ids or where to find the ids."""
    close = close_ids(project_id, views)
    hint = (f" — did you mean {', '.join(close)}?" if close
            else " — the ids are listed by `tsunagari projects` (in Python: .projects())")
    return NotFound(f"no project {quoted(project_id)}{hint}")


__all__ = ["ViewTable", "ViewWriter", "dumps", "close_ids", "unknown_project"]
