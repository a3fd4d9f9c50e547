"""The torch-free path without the real model (fast): the plain tokenizer against the ``tokenizers``
library on a small Unigram model of the same shape, the export record, the vector cache.

The real export (ONNX against sentence-transformers) is tested in tests/test_embeddings_model.py.
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embeddings import ModelUnavailable, OnnxEncoder
from embeddings.memo import encode_cached
from embeddings.onnx_encoder import read_onnx_record
from embeddings.unigram import UnigramTokenizer, write_tokenizer_files

PIECES = ["<s>", "<pad>", "</s>", "<unk>", "\u2581", "\u2581a", "a", "b", "ab", "\u2581ab", "abc", "c", "\u2581b",
          "孤", "独", "孤独", "\u2581孤独", "・", "x", "\u2581x", "xx", "<mask>"]


def tiny_tokenizer_json(folder: Path) -> Path:
    """A Unigram tokenizer.json shaped like the rebuilt model's: deletion class, per-character
    replacements (one chained: Ａ -> A -> a), collapse of spaces, Metaspace, <s> $A </s>."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors

    rng = random.Random(3)
    vocab = [(p, 0.0 if p.startswith("<") else -rng.uniform(1, 12)) for p in PIECES]
    tok = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex("[\\u0001\\u007f]"), ""),
        normalizers.Replace("\t", " "), normalizers.Replace("Ａ", "A"), normalizers.Replace("A", "a"),
        normalizers.Replace("①", "1"), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                                       special_tokens=[("<s>", 0), ("</s>", 2)])
    tok.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    path = folder / "tokenizer.json"
    tok.save(str(path))
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tok")
    path = tiny_tokenizer_json(folder)
    record = write_tokenizer_files(path, folder)
    return path, folder, record


def test_plain_tokenizer_gives_the_library_ids(tiny):
    from tokenizers import Tokenizer

    path, folder, record = tiny
    reference = Tokenizer.from_file(str(path))
    reference.enable_truncation(512)
    ours = UnigramTokenizer.load(folder)
    rng = random.Random(7)
    alphabet = "aabbcx孤独・ ①Ａ\tq\u0001é" + "<s>"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(2000)]
    texts += ["<mask>ab", "a<s>b", "  ", "", "孤独" * 400, "qqq", "ＡＡ ab"]
    for text in texts:
        assert ours.encode(text) == reference.encode(text).ids, repr(text)
    assert record["checked_texts"] > 10 and record["table"] == 6     # 2 deletions, 4 replacements


def test_unknown_characters_are_fused_and_long_texts_truncated(tiny):
    _, folder, _ = tiny
    ours = UnigramTokenizer.load(folder)
    assert ours.encode("qq") == [0, 4, 3, 2]                     # ▁ then one <unk> for "qq"
    assert ours.normalize("Ａ①\t\u0001  b") == "a1 b"           # chained replacement, deletion, collapse
    ids = ours.encode("孤独" * 1000)
    assert len(ids) == 512 and ids[0] == 0 and ids[-1] == 2


def test_a_tokenizer_of_another_shape_is_refused(tmp_path):
    from embeddings import ModelBuildError
    from tokenizers import Tokenizer, models

    path = tmp_path / "tokenizer.json"
    Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]")).save(str(path))
    with pytest.raises(ModelBuildError, match="only Unigram"):
        write_tokenizer_files(path, tmp_path)


def test_incomplete_export_is_not_used(tmp_path):
    assert read_onnx_record(tmp_path) is None
    (tmp_path / "tsunagari-onnx.json").write_text(json.dumps({"format": 1, "file": "model.onnx"}))
    assert read_onnx_record(tmp_path) is None                    # the model file is missing
    with pytest.raises(ModelUnavailable, match="not a complete ONNX export.*delete it"):
        OnnxEncoder(tmp_path)


class CountingEncoder:
    def __init__(self, version: str = "v1") -> None:
        self.calls, self.version = 0, version

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        return np.full((len(texts), 4), 0.5, dtype=np.float32)

    def model_info(self) -> dict:
        return {"name": "fake", "version": self.version, "dim": 4, "prefix": "query: "}


def test_vectors_are_encoded_once_per_model_and_texts(tmp_path):
    encoder = CountingEncoder()
    first = encode_cached(encoder, ["a", "b"], tmp_path)
    again = encode_cached(encoder, ["a", "b"], tmp_path)
    assert encoder.calls == 1 and np.array_equal(first, again) and again.shape == (2, 4)
    encode_cached(encoder, ["a", "c"], tmp_path)
    encode_cached(CountingEncoder("v2"), ["a", "b"], tmp_path)
    assert encoder.calls == 2 and len(list(tmp_path.glob("*.npy"))) == 3


def test_importing_the_onnx_encoder_does_not_import_torch():
    code = ("import sys; from embeddings import OnnxEncoder, ensure_onnx_model; import embeddings.onnx_model\n"
            "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
