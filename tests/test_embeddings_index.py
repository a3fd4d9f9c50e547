"""VectorIndex and HashingEncoder: fast, no model (random and hashed vectors)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

faiss = pytest.importorskip("faiss")

import embeddings.index as index_module  # noqa: E402
from embeddings import HashingEncoder, IndexCorrupt, IndexMismatch, VectorIndex  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def unit(n: int, dim: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def clustered(n: int, dim: int, seed: int = 0, clusters: int = 50) -> np.ndarray:
    """Vectors around cluster centres, like real embeddings (not uniform on the sphere)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    x = centres[rng.integers(0, clusters, n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def make_ids(n: int, seed: int = 0) -> list[str]:
    """Ids in shuffled order, so that input order differs from id order."""
    ids = [f"p{i:05d}" for i in range(n)]
    np.random.default_rng(seed + 1).shuffle(ids)
    return ids


def brute_force(vectors: np.ndarray, ids: list[str], queries: np.ndarray, k: int,
                allowed: set[str] | None = None) -> list[list[str]]:
    """Exact top-k by numpy, ties by id."""
    v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    keep = [i for i, pid in enumerate(ids) if allowed is None or pid in allowed]
    out = []
    for row in q:
        scores = v[keep] @ row
        ranked = sorted(range(len(keep)), key=lambda j: (-scores[j], ids[keep[j]]))
        out.append([ids[keep[j]] for j in ranked[:k]])
    return out


def hit_ids(results: list[list[tuple[str, float]]]) -> list[list[str]]:
    return [[pid for pid, _ in hits] for hits in results]


@pytest.fixture(scope="module")
def data():
    vectors, ids = unit(6000, 32), make_ids(6000)
    return vectors, ids, unit(12, 32, seed=7)


@pytest.fixture(scope="module")
def built(data) -> dict[str, VectorIndex]:
    vectors, ids, _ = data
    return {kind: VectorIndex.build(vectors, ids, kind=kind) for kind in ("flat", "hnsw")}


@pytest.fixture(scope="module")
def flat(built) -> VectorIndex:
    return built["flat"]


# ---- exact search ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("k", [1, 10, 100])
def test_flat_search_matches_brute_force(data, flat, k):
    vectors, ids, queries = data
    results = flat.search(queries, k)
    assert hit_ids(results) == brute_force(vectors, ids, queries, k)
    for row, hits in zip(queries, results):
        expected = [float(flat.vector(pid) @ (row / np.linalg.norm(row))) for pid, _ in hits]
        np.testing.assert_allclose([s for _, s in hits], expected, rtol=1e-5, atol=1e-6)
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_single_query_is_a_batch_of_one(data, flat):
    _, _, queries = data
    batch = flat.search(queries, 5)
    assert flat.search(queries[0], 5) == [batch[0]]
    assert flat.search(queries[:1], 5) == [batch[0]]


def test_k_larger_than_index_returns_everything():
    index = VectorIndex.build(unit(5, 8), list("edcba"))
    (hits,) = index.search(unit(1, 8, seed=3), 50)
    assert sorted(pid for pid, _ in hits) == list("abcde")


def test_empty_index_and_empty_batch():
    index = VectorIndex.build(np.zeros((0, 8), np.float32), [])
    assert len(index) == 0
    assert index.search(unit(2, 8), 3) == [[], []]
    assert VectorIndex.build(unit(3, 8), ["a", "b", "c"]).search(np.zeros((0, 8)), 3) == []


# ---- filters -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
@pytest.mark.parametrize("size", [1, 10, 300, 5000])   # numpy subset path up to 4096, FAISS selector above
def test_filtered_search_is_exact_top_k_among_allowed(data, built, kind, size):
    vectors, ids, queries = data
    index = built[kind]
    allowed = set(np.random.default_rng(size).choice(ids, size, replace=False).tolist())
    results = index.search(queries, 10, allowed=allowed | {"not-in-index"})
    assert hit_ids(results) == brute_force(vectors, ids, queries, 10, allowed)


def test_filter_edge_cases(flat, data):
    _, ids, queries = data
    assert flat.search(queries[:2], 5, allowed=set()) == [[], []]
    assert flat.search(queries[:1], 5, allowed={"nope"}) == [[]]
    (hits,) = flat.search(queries[:1], 5, allowed={ids[0], ids[1]})
    assert {pid for pid, _ in hits} == {ids[0], ids[1]}


def test_hnsw_filter_through_the_graph(monkeypatch):
    """Large allowed sets on HNSW go through the graph with a FAISS selector."""
    monkeypatch.setattr(index_module, "EXACT_SUBSET_LIMIT", 100)
    monkeypatch.setattr(index_module, "SMALL_SUBSET", 100)
    vectors, ids = clustered(4000, 32, seed=5), make_ids(4000)
    index = VectorIndex.build(vectors, ids, kind="hnsw")
    allowed = set(ids[::2])
    queries = clustered(50, 32, seed=6)
    results = index.search(queries, 10, allowed=allowed)
    truth = brute_force(vectors, ids, queries, 10, allowed)
    assert all(len(hits) == 10 and {p for p, _ in hits} <= allowed for hits in results)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(hit_ids(results), truth)])
    assert recall >= 0.95


# ---- determinism and ties -----------------------------------------------------------------------


def test_ties_are_broken_by_id():
    vectors = np.tile(unit(1, 16), (6, 1))
    index = VectorIndex.build(vectors, ["f", "b", "d", "a", "e", "c"])
    assert hit_ids(index.search(vectors[:1], 3)) == [["a", "b", "c"]]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_ties_across_the_cut_on_the_faiss_path(kind):
    """Forty copies of one vector among 6000: the top 5 are the 5 smallest ids among the copies
    (exact searches: flat, or a filter small enough for an exact scan)."""
    vectors, ids = unit(6000, 16, seed=2), make_ids(6000, seed=2)
    copies = list(range(100, 140))
    vectors[copies] = vectors[0]
    index = VectorIndex.build(vectors, ids, kind=kind)
    query = vectors[:1] + 1e-3 * unit(1, 16, seed=9)
    tied = sorted({ids[i] for i in copies} | {ids[0]})
    (top,) = hit_ids(index.search(vectors[:1], 5))
    if kind == "flat":
        assert top == tied[:5]
    else:  # approximate: five of the tied ids, in id order
        assert set(top) <= set(tied) and top == sorted(top)
    allowed = set(tied[3:]) | set(ids[:1000])
    expected = sorted(set(tied) & allowed)[:5]
    assert hit_ids(index.search(vectors[:1], 5, allowed=allowed)) == [expected]
    assert index.search(query, 5) == index.search(query, 5)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_same_vectors_give_the_same_results_whatever_the_input_order(kind):
    vectors, ids = clustered(3000, 24, seed=3), make_ids(3000, seed=3)
    perm = np.random.default_rng(4).permutation(3000)
    a = VectorIndex.build(vectors, ids, kind=kind)
    b = VectorIndex.build(vectors[perm], [ids[i] for i in perm], kind=kind)
    queries = clustered(20, 24, seed=8)
    assert a.search(queries, 10) == b.search(queries, 10)
    assert a.ids == b.ids == tuple(sorted(ids))


# ---- HNSW ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_hnsw_recall_at_10():
    vectors, ids = clustered(5000, 64, seed=11), make_ids(5000, seed=11)
    queries = clustered(200, 64, seed=12)
    index = VectorIndex.build(vectors, ids, kind="hnsw")
    truth = brute_force(vectors, ids, queries, 10)
    found = hit_ids(index.search(queries, 10))
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)])
    assert recall >= 0.95


def test_auto_kind_uses_the_threshold(monkeypatch):
    assert VectorIndex.build(unit(50, 8), make_ids(50)).kind == "flat"
    monkeypatch.setattr(index_module, "AUTO_HNSW_THRESHOLD", 40)
    assert VectorIndex.build(unit(50, 8), make_ids(50)).kind == "hnsw"


# ---- vectors and validation ------------------------------------------------------------------------


def test_vector_returns_the_normalised_input():
    raw = np.array([[3.0, 4.0], [0.0, 2.0]], dtype=np.float32)
    index = VectorIndex.build(raw, ["x", "y"])
    np.testing.assert_allclose(index.vector("x"), [0.6, 0.8], rtol=1e-6)
    assert "y" in index and "z" not in index
    with pytest.raises(KeyError, match="'z'"):
        index.vector("z")


@pytest.mark.parametrize("vectors, ids, message", [
    (np.ones((2, 4)), ["a", "a"], "duplicate ids: 'a'"),
    (np.ones((2, 4)), ["a"], "2 vectors but 1 ids"),
    (np.ones(4), ["a"], "2-D"),
    (np.array([[1.0, 0.0], [0.0, 0.0]]), ["a", "b"], "row 1 is all zeros"),
    (np.array([[1.0, np.nan]]), ["a"], "NaN"),
])
def test_build_rejects_bad_input(vectors, ids, message):
    with pytest.raises(ValueError, match=message):
        VectorIndex.build(vectors, ids)


def test_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        VectorIndex.build(unit(2, 4), ["a", "b"], kind="ivf")
    with pytest.raises(TypeError, match="not str"):
        VectorIndex.build(unit(2, 4), ["a", 2])
    index = VectorIndex.build(unit(2, 4), ["a", "b"])
    with pytest.raises(ValueError, match=r"shape \(n, 4\)"):
        index.search(unit(1, 5), 1)
    with pytest.raises(ValueError, match="non-negative"):
        index.search(unit(1, 4), -1)
    assert index.search(unit(1, 4), 0) == [[]]
    with pytest.raises(TypeError, match="set of ids"):
        index.search(unit(1, 4), 1, allowed="a")


# ---- save / load ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_save_load_roundtrip(tmp_path, data, built, kind):
    vectors, ids, queries = data
    index = built[kind]
    written = index.save(tmp_path / "v", {"model": {"name": "m", "dim": 32}, "input_hash": "abc", "count": 6000})
    assert sorted(p.name for p in (tmp_path / "v").iterdir()) == sorted(index_module.FILES)
    manifest = json.loads((tmp_path / "v" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == written
    assert manifest["model"] == {"name": "m", "dim": 32}
    assert (manifest["dim"], manifest["count"], manifest["kind"], manifest["input_hash"]) == (32, 6000, kind, "abc")
    loaded = VectorIndex.load(tmp_path / "v", expect={"input_hash": "abc", "model": {"dim": 32, "name": "m"}})
    assert loaded.kind == kind and len(loaded) == 6000 and loaded.manifest == manifest
    assert loaded.search(queries, 10) == index.search(queries, 10)
    assert loaded.search(queries, 10, allowed=set(ids[:50])) == index.search(queries, 10, allowed=set(ids[:50]))
    np.testing.assert_array_equal(loaded.vector(ids[5]), index.vector(ids[5]))
    np.testing.assert_array_equal(np.load(tmp_path / "v" / "vectors.npy")[0], index.vector(loaded.ids[0]))


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_a_loaded_index_is_mapped_not_read(tmp_path, data, built, kind):
    """Opening maps index.faiss and vectors.npy (pages read only as a query visits them) and answers
    exactly as the index in memory, filters and look-ups by id included."""
    vectors, ids, queries = data
    built[kind].save(tmp_path / kind)
    out = run_python(
        "import json, numpy as np; from embeddings import VectorIndex\n"
        f"index = VectorIndex.load({str(tmp_path / kind)!r})\n"
        "q = np.load(" + repr(str(tmp_path / kind / "vectors.npy")) + ")[:7]\n"
        "hits = index.search(q, 10) + index.search(q, 10, allowed=set(index.ids[::3]))\n"
        "maps = open('/proc/self/maps').read()\n"
        "print(json.dumps({'hits': hits, 'mapped': sorted(n for n in ('index.faiss', 'vectors.npy') if n in maps),"
        " 'rows': [index.row(i) for i in (index.ids[0], index.ids[-1], 'nowhere')], 'in': 'nowhere' in index}))")
    found = json.loads(out)
    assert found["mapped"] == ["index.faiss", "vectors.npy"]
    in_memory = built[kind]
    q = np.stack([in_memory.vector(pid) for pid in in_memory.ids[:7]])
    expected = in_memory.search(q, 10) + in_memory.search(q, 10, allowed=set(in_memory.ids[::3]))
    assert [[tuple(hit) for hit in hits] for hits in found["hits"]] == expected
    assert found["rows"] == [0, len(ids) - 1, None] and found["in"] is False


def test_save_refuses_a_contradicting_manifest(tmp_path):
    index = VectorIndex.build(unit(3, 4), ["a", "b", "c"])
    with pytest.raises(ValueError, match="count"):
        index.save(tmp_path, {"count": 4})
    with pytest.raises(ValueError, match="JSON"):
        index.save(tmp_path, {"when": object()})


@pytest.fixture
def saved(tmp_path) -> Path:
    folder = tmp_path / "vectors"
    VectorIndex.build(unit(20, 8), make_ids(20)).save(folder, {"model": "e5", "input_hash": "h1"})
    return folder


@pytest.mark.parametrize("expect, words", [
    ({"input_hash": "h2"}, ["input_hash is \"h1\", expected \"h2\""]),
    ({"model": "labse", "input_hash": "h1"}, ["model is \"e5\", expected \"labse\""]),
    ({"recipe": "title"}, ["recipe is missing"]),
])
def test_load_mismatch_says_what_differs(saved, expect, words):
    with pytest.raises(IndexMismatch) as err:
        VectorIndex.load(saved, expect=expect)
    for w in words + [str(saved), "tsunagari build"]:
        assert w in str(err.value)


@pytest.mark.parametrize("name", index_module.FILES)
def test_load_missing_file_is_corrupt(saved, name):
    (saved / name).unlink()
    with pytest.raises(IndexCorrupt, match="missing") as err:
        VectorIndex.load(saved)
    assert str(saved / name) in str(err.value)


@pytest.mark.parametrize("name, damage", [
    ("index.faiss", lambda p: p.write_bytes(p.read_bytes()[:100])),
    ("index.faiss", lambda p: p.write_bytes(b"not an index at all")),
    ("vectors.npy", lambda p: np.save(p, np.zeros((3, 8), np.float32))),
    ("vectors.npy", lambda p: p.write_bytes(b"junk")),
    ("ids.json", lambda p: p.write_text("[\"a\"]")),
    ("ids.json", lambda p: p.write_text("{not json")),
    ("manifest.json", lambda p: p.write_text("[]")),
    ("manifest.json", lambda p: p.write_text(p.read_text().replace('"count": 20', '"count": 21'))),
])
def test_load_broken_file_is_corrupt(saved, name, damage):
    damage(saved / name)
    with pytest.raises(IndexCorrupt) as err:
        VectorIndex.load(saved)
    assert str(saved) in str(err.value) and "tsunagari build" in str(err.value)


def test_load_missing_folder_is_corrupt(tmp_path):
    with pytest.raises(IndexCorrupt, match="missing"):
        VectorIndex.load(tmp_path / "nothing-here")


def run_python(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_loading_an_index_does_not_import_torch(saved):
    out = run_python(
        "import sys; from embeddings import VectorIndex\n"
        f"index = VectorIndex.load({str(saved)!r}, expect={{'model': 'e5'}})\n"
        "index.search(index.vector(index.ids[0]), 3, allowed=set(index.ids[:5]))\n"
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))")
    assert out == "[]"


def test_importing_embeddings_is_cheap():
    out = run_python("import sys, embeddings\n"
                     "from embeddings import IndexMismatch, EmbeddingsError\n"
                     "print(sorted(m for m in ('torch', 'faiss', 'sentence_transformers') if m in sys.modules))")
    assert out == "[]"


# ---- HashingEncoder ---------------------------------------------------------------------------------


TITLES = ["“メンズ・シェッド”によるシニア男性の孤独・孤立の予防", "ペット版フードバンクによる、寄り添い相談見守り事業",
          "men's shed", ""]


def test_hashing_encoder_shape_norm_and_similarity():
    enc = HashingEncoder(dim=128)
    v = enc.encode(TITLES)
    assert v.shape == (4, 128) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    near = enc.encode(["メンズ・シェッドによる孤独の予防"])[0]
    assert near @ v[0] > near @ v[1]
    assert enc.encode([]).shape == (0, 128)
    assert enc.model_info() == {"name": "hashing-128", "version": "ngrams=1,2,3", "dim": 128, "prefix": "",
                                "source": "hashing"}


def test_hashing_encoder_is_the_same_in_every_process():
    here = HashingEncoder(dim=64).encode(TITLES)
    there = run_python("import json; from embeddings import HashingEncoder\n"
                       f"print(json.dumps(HashingEncoder(dim=64).encode({TITLES!r}).tolist()))")
    np.testing.assert_array_equal(here, np.array(json.loads(there), dtype=np.float32))


def test_hashing_encoder_rejects_a_bare_string():
    with pytest.raises(TypeError, match="list of strings"):
        HashingEncoder().encode("孤独")


def test_hashing_vectors_through_the_index():
    enc = HashingEncoder()
    index = VectorIndex.build(enc.encode(TITLES[:3]), ["a", "b", "c"])
    assert index.search(enc.encode(["シニア男性の孤独"]), 1)[0][0][0] == "a"
