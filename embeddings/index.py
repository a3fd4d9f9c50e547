"""A FAISS inner-product index over string ids, saved as a folder with a manifest.

Vectors are L2-normalised on the way in, so scores are cosines. Rows are kept in id order and
scores of hits are recomputed the same way for every row, so results are deterministic and equal
scores are ordered by id; exact searches (flat, small filters) also pick tied ids at the cut by id.
Loading needs numpy and faiss only: no torch, no model.

>>> import numpy as np
>>> index = VectorIndex.build(np.eye(3, dtype=np.float32), ["c", "a", "b"])
>>> index.search(np.array([[0.0, 1.0, 1.0]]), k=2)
[[('a', 0.7071067690849304), ('b', 0.7071067690849304)]]
"""
from __future__ import annotations

import bisect
import itertools
import json
import mmap
import operator
import os
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np

from embeddings.errors import EmbeddingsError, IndexCorrupt, IndexMismatch

FORMAT = "tsunagari-vectors/1"
AUTO_HNSW_THRESHOLD = 50_000   # "auto": exact below, HNSW from here on (see scripts/bench_embeddings.py)
DEFAULT_HNSW_M = 32
DEFAULT_EF_SEARCH = 256       # recall@10 0.986 at 1M e5-like vectors, p50 2.4 ms (bench)
DEFAULT_EF_CONSTRUCTION = 40
SMALL_SUBSET = 4096            # filtered search: up to this many allowed ids, exact numpy over them
EXACT_SUBSET_LIMIT = AUTO_HNSW_THRESHOLD  # HNSW filtered: up to this many allowed, exact FAISS scan
BISECT_COST = 8                # an id looked up by binary search costs about 8 dict inserts
TIE_EPS = 1e-6                 # float32 scores closer than this may be misordered (measured error <2e-7): re-checked
FILES = ("index.faiss", "vectors.npy", "ids.json", "manifest.json")
REBUILD = "rebuild with `tsunagari build`"

Kind = Literal["flat", "hnsw", "auto"]
Hit = tuple[str, float]


def _faiss():
    try:
        import faiss
    except ImportError as e:
        raise EmbeddingsError("the vector index needs faiss: pip install faiss-cpu==1.15.1") from e
    return faiss


class VectorIndex:
    """Nearest neighbours by cosine over vectors with string ids (FAISS flat or HNSW).

    Make one with ``VectorIndex.build(vectors, ids)`` or ``VectorIndex.load(folder)``.
    """

    def __init__(self, index: Any, ids: tuple[str, ...], kind: str, *, hnsw_m: int, ef_search: int,
                 manifest: dict[str, Any] | None = None, vectors: np.ndarray | None = None) -> None:
        self._index = index
        self._ids = ids
        self._rows: dict[str, int] | None = None    # id -> row, made only for look-ups of many ids
        self.kind = kind
        self.dim = int(index.d)
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        self.manifest: dict[str, Any] = dict(manifest or {})
        self._flat = _faiss().downcast_index(index.storage) if kind == "hnsw" else index
        # numpy reads the vectors from vectors.npy when loaded (mapped and aligned; the FAISS file's are
        # not aligned, and numpy copies unaligned arrays whole before some operations), else from FAISS.
        self._vectors = _view(self._flat) if vectors is None else vectors

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def build(cls, vectors: np.ndarray, ids: list[str], kind: Kind = "auto", hnsw_m: int = DEFAULT_HNSW_M,
              ef_search: int = DEFAULT_EF_SEARCH,
              ef_construction: int = DEFAULT_EF_CONSTRUCTION) -> "VectorIndex":
        """Index ``vectors`` (n, dim) under ``ids``; rows are L2-normalised (cosine scores).

        >>> VectorIndex.build(np.eye(2, dtype=np.float32), ["x", "y"]).kind
        'flat'

        Args:
            vectors: float array, one row per id, no zero rows.
            ids: unique strings, same length as ``vectors``.
            kind: "flat" (exact), "hnsw" (approximate, fast on large sets) or "auto": flat below
                ``AUTO_HNSW_THRESHOLD`` vectors, HNSW from there on.
            hnsw_m: HNSW graph degree; ef_search / ef_construction: HNSW search / build breadth.
        """
        faiss = _faiss()
        matrix = np.asarray(vectors)
        if matrix.ndim != 2 or matrix.shape[1] < 1:
            raise ValueError(f"vectors must be a 2-D array (n, dim), not shape {matrix.shape}")
        ids = list(ids)
        if len(ids) != matrix.shape[0]:
            raise ValueError(f"{matrix.shape[0]} vectors but {len(ids)} ids")
        bad = next((i for i, pid in enumerate(ids) if not isinstance(pid, str)), None)
        if bad is not None:
            raise TypeError(f"id {bad} is {type(ids[bad]).__name__}, not str")
        if len(set(ids)) != len(ids):
            seen: set[str] = set()
            dup = sorted({pid for pid in ids if pid in seen or _added(seen, pid)})
            raise ValueError(f"duplicate ids: {', '.join(map(repr, dup[:5]))}")
        if kind == "auto":
            kind = "hnsw" if len(ids) >= AUTO_HNSW_THRESHOLD else "flat"
        if kind not in ("flat", "hnsw"):
            raise ValueError(f"kind must be 'flat', 'hnsw' or 'auto', not {kind!r}")
        order = sorted(range(len(ids)), key=ids.__getitem__)
        rows = _normalised(matrix[np.asarray(order, dtype=np.int64)], "vector", copy=False)  # indexing copied
        dim = rows.shape[1]
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
            index.hnsw.efSearch = ef_search
        else:
            index = faiss.IndexFlatIP(dim)
        if len(rows):
            index.add(rows)
        del rows
        return cls(index, tuple(ids[i] for i in order), kind, hnsw_m=hnsw_m, ef_search=ef_search)

    # ---- queries --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, pid: object) -> bool:
        return isinstance(pid, str) and self.row(pid) is not None

    def row(self, pid: str) -> int | None:
        """The row of ``pid`` (its position in ``ids``), or None; a binary search of the sorted ids."""
        if self._rows is not None:
            return self._rows.get(pid)
        i = bisect.bisect_left(self._ids, pid)
        return i if i < len(self._ids) and self._ids[i] == pid else None

    @property
    def ids(self) -> tuple[str, ...]:
        """All ids, sorted."""
        return self._ids

    @property
    def faiss_index(self) -> Any:
        """The FAISS index itself (row i is ``ids[i]``), for benchmarks that call FAISS directly."""
        return self._index

    def vector(self, pid: str) -> np.ndarray:
        """The stored (normalised) vector of ``pid``; KeyError if absent."""
        row = self.row(pid)
        if row is None:
            raise KeyError(f"no vector for id {pid!r}")
        return np.array(self._vectors[row], dtype=np.float32)

    def search(self, queries: np.ndarray, k: int, allowed: set[str] | None = None) -> list[list[Hit]]:
        """The ``k`` nearest ids of each query, best first: ``[[(id, cosine), ...], ...]``.

        One code path for one and many: a single query is a batch of one (a 1-D array is
        accepted as one query). Ties are broken by id.

        >>> index = VectorIndex.build(np.eye(3, dtype=np.float32), ["a", "b", "c"])
        >>> index.search(np.eye(3)[:1], k=2, allowed={"b", "c"})
        [[('b', 0.0), ('c', 0.0)]]

        Args:
            queries: (n, dim) or (dim,) floats; normalised here.
            k: results per query (fewer only if fewer ids are allowed; 0 gives empty lists).
            allowed: if given, only these ids are returned (ids not in the index are ignored);
                exactly the top-k among them for a flat index, and for HNSW whenever the allowed
                set has up to ``EXACT_SUBSET_LIMIT`` ids.
        """
        return [self._hits(rows, scores) for rows, scores in self.search_rows(queries, k, allowed)]

    def search_rows(self, queries: np.ndarray, k: int,
                    allowed: set[str] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """``search`` as arrays, for callers that work on rows (a row is a position in ``ids``):
        per query, the hit rows (int64) and their cosines (float32), best first, ties by id.

        >>> index = VectorIndex.build(np.eye(3, dtype=np.float32), ["a", "b", "c"])
        >>> rows, scores = index.search_rows(np.eye(3)[:1], k=1)[0]
        >>> rows.tolist(), scores.tolist()
        ([0], [1.0])
        """
        q = _normalised(_as_queries(queries, self.dim), "query")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ValueError(f"k must be a non-negative integer, not {k!r}")
        rows = None if allowed is None else self._rows_of(allowed)
        n_cand = len(self) if rows is None else len(rows)
        if n_cand == 0 or len(q) == 0 or k == 0:
            return [(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)) for _ in range(len(q))]
        kk = min(int(k), n_cand)
        if (rows is not None and len(rows) <= SMALL_SUBSET) or (rows is None and self.kind == "flat"):
            return self._exact(q, rows, kk)   # what a FAISS flat search and the tie check would give, faster
        exact = self.kind == "flat" or (rows is not None and len(rows) <= EXACT_SUBSET_LIMIT)
        fetch = min(n_cand, kk + 1) if exact else kk   # one extra reveals a tie at the cut
        _, found = self._faiss_search(q, fetch, rows)
        out: list[tuple[np.ndarray, np.ndarray] | None] = []
        again = []                     # queries answered by an exact scan, all in one matrix product
        for j in range(len(q)):
            hit_rows, scores = self._rescore(q[j], found[j][found[j] >= 0])
            tie_at_cut = exact and len(hit_rows) == fetch > kk and scores[fetch - 1] >= scores[kk - 1] - TIE_EPS
            if len(hit_rows) < kk or tie_at_cut:
                again.append(j)
                out.append(None)
            else:
                out.append((hit_rows[:kk], scores[:kk]))
        if again:
            for j, hits in zip(again, self._exact(q[again], rows, kk)):
                out[j] = hits
        return cast("list[tuple[np.ndarray, np.ndarray]]", out)      # every None was filled in above

    @property
    def vectors(self) -> np.ndarray:
        """The stored (normalised) vectors, one row per id in ``ids`` order; read-only, valid while the
        index lives."""
        view = self._vectors.view()
        view.flags.writeable = False
        return view

    def _rows_of(self, allowed: set[str]) -> np.ndarray:
        if isinstance(allowed, str):
            raise TypeError("allowed must be a set of ids, not a string")
        if self._rows is None and len(allowed) * BISECT_COST > len(self):
            self._rows = {pid: row for row, pid in enumerate(self._ids)}   # cheaper than that many searches
        found = (self.row(pid) for pid in allowed if isinstance(pid, str))
        return np.unique(np.fromiter((row for row in found if row is not None), dtype=np.int64))

    def _faiss_search(self, q: np.ndarray, fetch: int, rows: np.ndarray | None):
        faiss = _faiss()
        if rows is None:
            if self.kind == "hnsw":
                params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, fetch))
                return self._index.search(q, fetch, params=params)
            return self._index.search(q, fetch)
        bits = np.zeros(len(self), dtype=bool)
        bits[rows] = True
        bitmap = np.packbits(bits, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(self), faiss.swig_ptr(bitmap))
        if self.kind == "flat" or len(rows) <= EXACT_SUBSET_LIMIT:
            return self._flat.search(q, fetch, params=faiss.SearchParameters(sel=selector))
        widen = min(int(np.ceil(len(self) / len(rows))), 8)
        params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(self.ef_search, fetch) * widen)
        return self._index.search(q, fetch, params=params)  # bitmap stays alive until here

    def _rescore(self, q: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores of ``rows`` recomputed the same way for every row (float64 sum, then float32),
        so equal vectors score exactly equal; sorted by (-score, row), i.e. ties by id."""
        products = np.multiply(self._vectors.take(rows, axis=0), q.astype(np.float64), dtype=np.float64)
        scores = products.sum(axis=1).astype(np.float32)
        order = np.lexsort((rows, -scores))
        return rows[order], scores[order]

    def _exact(self, q: np.ndarray, rows: np.ndarray | None, kk: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Exact top-kk of each query over all rows or a subset, ties by id: (rows, scores) each."""
        small = rows is not None and len(rows) <= SMALL_SUBSET
        scores = q @ (self._vectors[rows] if small else self._vectors).T     # (queries, candidates)
        if rows is not None and not small:
            scores = scores[:, rows]
        out = []
        for j in range(len(q)):
            s = scores[j]
            if kk < len(s):  # candidates: everything that float32 rounding could place in the top kk
                cut = np.partition(s, len(s) - kk)[len(s) - kk]
                pick = np.flatnonzero(s >= cut - TIE_EPS)
            else:
                pick = np.arange(len(s))
            hit_rows, hit_scores = self._rescore(q[j], pick if rows is None else rows[pick])
            out.append((hit_rows[:kk], hit_scores[:kk]))
        return out

    def _hits(self, rows: np.ndarray, scores: np.ndarray) -> list[Hit]:
        return [(self._ids[r], float(s)) for r, s in zip(rows.tolist(), scores.tolist())]

    # ---- persistence ----------------------------------------------------------------------------

    def save(self, folder: Path, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write index.faiss, vectors.npy, ids.json and manifest.json (last) into ``folder``.

        ``manifest`` adds the caller's facts (model, input_hash, ...); ours (format, dim, count,
        kind, ...) win and must agree with any the caller also gives. Each file is written to a
        temp name and renamed. Returns the manifest written.
        """
        faiss = _faiss()
        folder = Path(folder)
        ours = {"format": FORMAT, "dim": self.dim, "count": len(self), "kind": self.kind,
                "metric": "cosine", "hnsw_m": self.hnsw_m, "ef_search": self.ef_search}
        extra = dict(manifest or {})
        clash = sorted(k for k in ours if k in extra and _canon(extra[k]) != _canon(ours[k]))
        if clash:
            raise ValueError("manifest disagrees with the index on " +
                             ", ".join(f"{k} ({extra[k]!r} vs {ours[k]!r})" for k in clash))
        full = {**ours, **{k: v for k, v in extra.items() if k not in ours}}
        try:
            manifest_text = json.dumps(full, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        except (TypeError, ValueError) as e:
            raise ValueError(f"manifest must be JSON-serialisable: {e}") from e
        folder.mkdir(parents=True, exist_ok=True)
        _atomic(folder / "index.faiss", lambda tmp: faiss.write_index(self._index, str(tmp)))
        _atomic(folder / "vectors.npy", lambda tmp: _save_npy(tmp, self._vectors))
        _atomic(folder / "ids.json", lambda tmp: tmp.write_text(json.dumps(list(self._ids), ensure_ascii=False),
                                                                encoding="utf-8"))
        _atomic(folder / "manifest.json", lambda tmp: tmp.write_text(manifest_text, encoding="utf-8"))
        self.manifest = full
        return full

    @classmethod
    def load(cls, folder: Path, expect: dict[str, Any] | None = None) -> "VectorIndex":
        """Open a saved index; no model and no torch needed.

        >>> VectorIndex.load(store / "vectors", expect={"input_hash": digest})   # doctest: +SKIP

        Raises:
            IndexMismatch: a key of ``expect`` differs from the manifest (other input or model).
            IndexCorrupt: a file is missing, unreadable or inconsistent with the others.
        """
        folder = Path(folder)
        manifest = _read_json(folder / "manifest.json")
        if not isinstance(manifest, dict):
            raise IndexCorrupt(f"{folder / 'manifest.json'}: not a JSON object — {REBUILD}")
        if manifest.get("format") != FORMAT:
            raise IndexMismatch(f"{folder}: index format {manifest.get('format')!r}, this version reads "
                                f"{FORMAT!r} — {REBUILD}")
        _check_expect(folder, manifest, expect or {})
        try:
            count, dim, kind = int(manifest["count"]), int(manifest["dim"]), manifest["kind"]
            hnsw_m, ef_search = int(manifest["hnsw_m"]), int(manifest["ef_search"])
        except (KeyError, TypeError, ValueError) as e:
            raise IndexCorrupt(f"{folder / 'manifest.json'}: missing or bad field {e} — {REBUILD}") from e
        ids = _read_json(folder / "ids.json")
        if not isinstance(ids, list) or len(ids) != count or not _sorted_unique_strings(ids):
            raise IndexCorrupt(f"{folder / 'ids.json'}: expected {count} sorted unique string ids — {REBUILD}")
        if kind == "hnsw":
            _preread(folder / "index.faiss", skip_tail=count * dim * 4)
        index = _read_index(folder / "index.faiss", kind)
        if index.ntotal != count or index.d != dim:
            raise IndexCorrupt(f"{folder / 'index.faiss'}: holds {index.ntotal} vectors of dim {index.d}, "
                               f"manifest says {count} of dim {dim} — {REBUILD}")
        vectors = _read_npy(folder / "vectors.npy", count, dim, scattered=kind == "hnsw")
        if kind == "hnsw":
            index.hnsw.efSearch = ef_search
        return cls(index, tuple(ids), kind, hnsw_m=hnsw_m, ef_search=ef_search, manifest=manifest, vectors=vectors)

    def __repr__(self) -> str:
        return f"VectorIndex(kind={self.kind!r}, count={len(self)}, dim={self.dim})"


# ---- helpers ------------------------------------------------------------------------------------


def _view(flat: Any) -> np.ndarray:
    """The vectors inside a FAISS flat storage, without a copy (valid while the index lives)."""
    n, d = flat.ntotal, flat.d
    if n == 0:
        return np.zeros((0, d), dtype=np.float32)
    return _faiss().rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d)


def _as_queries(queries: np.ndarray, dim: int) -> np.ndarray:
    q = np.asarray(queries, dtype=np.float32)
    if q.ndim == 1:
        q = q[None, :]
    if q.ndim != 2 or q.shape[1] != dim:
        raise ValueError(f"queries must have shape (n, {dim}) or ({dim},), not {np.shape(queries)}")
    return q


def _normalised(matrix: np.ndarray, what: str, copy: bool = True) -> np.ndarray:
    """Float32, C-contiguous, unit rows; ValueError on zero or non-finite rows.

    ``copy=False``: the caller owns ``matrix`` and it may be normalised in place."""
    if copy:
        out = np.array(matrix, dtype=np.float32, order="C", copy=True)
    else:
        out = np.ascontiguousarray(matrix, dtype=np.float32)
    if not np.isfinite(out).all():
        raise ValueError(f"a {what} contains NaN or infinity")
    norms = np.linalg.norm(out, axis=1)
    zero = np.flatnonzero(norms == 0)
    if len(zero):
        raise ValueError(f"{what} row {int(zero[0])} is all zeros: it has no direction")
    out /= norms[:, None]
    return out


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _check_expect(folder: Path, manifest: dict[str, Any], expect: dict[str, Any]) -> None:
    diffs = []
    for key, want in expect.items():
        if key not in manifest:
            diffs.append(f"{key} is missing (expected {_short(want)})")
        elif _canon(manifest[key]) != _canon(want):
            diffs.append(f"{key} is {_short(manifest[key])}, expected {_short(want)}")
    if diffs:
        raise IndexMismatch(f"the vector index at {folder} was built from other input or with another "
                            f"model: {'; '.join(diffs)} — it is stale: {REBUILD}")


def _short(value: Any, limit: int = 80) -> str:
    text = _canon(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise IndexCorrupt(f"{path}: missing — {REBUILD}") from e
    except (OSError, ValueError) as e:
        raise IndexCorrupt(f"{path}: unreadable ({e}) — {REBUILD}") from e


def _read_index(path: Path, kind: str) -> Any:
    faiss = _faiss()
    if not path.is_file():
        raise IndexCorrupt(f"{path}: missing — {REBUILD}")
    try:
        # Mapped, not read (faiss-cpu 1.15 maps the vectors and the HNSW graph): vectors are read only as
        # queries visit them, and the pages stay in the page cache for the next process.
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
    except (RuntimeError, MemoryError) as e:
        raise IndexCorrupt(f"{path}: unreadable FAISS index ({str(e).splitlines()[0] if str(e) else e}) "
                           f"— {REBUILD}") from e
    expected = faiss.IndexHNSWFlat if kind == "hnsw" else faiss.IndexFlat  # read_index downcasts
    if not isinstance(index, expected) or index.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise IndexCorrupt(f"{path}: a {type(index).__name__}, not the {kind} inner-product index "
                           f"the manifest names — {REBUILD}")
    return index


def _sorted_unique_strings(ids: list[Any]) -> bool:
    """Every id a string, each greater than the one before (C loops: a million ids in about 50 ms)."""
    return set(map(type, ids)) <= {str} and all(map(operator.lt, ids, itertools.islice(ids, 1, None)))


def _read_npy(path: Path, count: int, dim: int, *, scattered: bool = False) -> np.ndarray:
    """The stored vectors, mapped read-only (a million 256-d vectors: nothing read until used).

    ``scattered``: the rows will be read a few at a time (HNSW candidates), so the kernel is told not to
    read around each one (its read-around can be megabytes a row: the whole file for 200 candidates)."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
            if shape != (count, dim) or dtype != np.float32 or fortran:
                raise IndexCorrupt(f"{path}: {dtype} {shape}, manifest says float32 ({count}, {dim}) — {REBUILD}")
            start = f.tell()
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        if scattered and hasattr(mapped, "madvise") and hasattr(mmap, "MADV_RANDOM"):
            mapped.madvise(mmap.MADV_RANDOM)
        return np.frombuffer(mapped, dtype=np.float32, count=count * dim, offset=start).reshape(count, dim)
    except FileNotFoundError as e:
        raise IndexCorrupt(f"{path}: missing — {REBUILD}") from e
    except (OSError, ValueError) as e:
        raise IndexCorrupt(f"{path}: unreadable ({e}) — {REBUILD}") from e


def _preread(path: Path, skip_tail: int) -> None:
    """Bring a file but its last ``skip_tail`` bytes (an HNSW file's vectors) into the page cache in large
    reads. FAISS touches the whole mapped graph, page by page, when it opens it: from a cold disk that took 5.8 s
    for a million vectors, against 1.0 s after these reads; on a warm cache they cost a few milliseconds."""
    buffer = bytearray(8 << 20)
    try:
        with open(path, "rb", buffering=0) as f:
            todo = os.fstat(f.fileno()).st_size - skip_tail
            while todo > 0 and (got := f.readinto(buffer)):
                todo -= got
    except OSError:
        return          # only a hint: _read_index says what is wrong with the file


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _added(seen: set[str], item: str) -> bool:
    """Add ``item`` to ``seen``; False, so that a comprehension can record what it has met."""
    seen.add(item)
    return False
