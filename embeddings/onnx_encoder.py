"""The torch-free encoder: the rebuilt model exported to ONNX, run with onnxruntime and numpy.

``OnnxEncoder()`` gives the same vectors as ``SentenceTransformerEncoder()`` (verified at export, see
``embeddings.onnx_model``) without importing torch: about 0.5 s to start instead of 6 s, and a few
milliseconds a query. The tokenizer is ``embeddings.unigram`` (plain Python, same ids).

>>> enc = OnnxEncoder()                                   # doctest: +SKIP
>>> enc.encode(["men's shed for older men"]).shape         # doctest: +SKIP
(1, 384)
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.encoder import check_texts, available_cores
from embeddings.errors import ONNX_HINT, ModelBuildError, ModelUnavailable

RECORD_FILE = "tsunagari-onnx.json"
ONNX_FORMAT = 2                 # bump when the onnx/ folder layout or the export changes


def read_onnx_record(folder: Path) -> dict[str, Any] | None:
    """The export record of a complete ``onnx/`` folder, or None if absent, incomplete or outdated."""
    try:
        record = json.loads((Path(folder) / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != ONNX_FORMAT:
        return None
    if not (Path(folder) / record.get("file", "model.onnx")).is_file():
        return None
    return record


class OnnxEncoder:
    """multilingual-e5-small through onnxruntime: strings in, L2-normalised float32 vectors out.

    Args:
        model: "default" (rebuilt and exported into the user cache on first use, see
            ``ensure_onnx_model``) or an ``onnx/`` folder written by ``export_onnx``.
        prefix: prepended to every text ("query: " as the stored project vectors use).
        batch_size: texts per run; texts are sorted by length first so little padding is run.
        threads: onnxruntime intra-op threads. None: every available core, for a query as for a batch
            (one session, and one copy of the weights, per process). Measured on 2 cores, a query of
            15 tokens took 8.0 ms on two threads against 12.6 ms on one, and 12.2 against 13.4 ms
            with two busy processes alongside (p95 16 against 31 ms); the vectors are the same.
        cache_dir: cache root for the "default" model.

    Raises:
        ModelUnavailable: onnxruntime is missing or the folder is not a complete export.
    """

    def __init__(self, model: str | Path = "default", prefix: str = "query: ", batch_size: int = 32,
                 threads: int | None = None, cache_dir: Path | None = None) -> None:
        try:
            import onnxruntime  # noqa: F401  (fail early, with the hint)
        except ImportError as e:
            raise ModelUnavailable(f"the torch-free encoder needs onnxruntime ({ONNX_HINT})") from e
        if str(model) == "default":
            from embeddings.onnx_model import ensure_onnx_model

            folder = ensure_onnx_model(cache_dir)
        else:
            folder = Path(model).expanduser()
        record = read_onnx_record(folder)
        if record is None:
            raise ModelUnavailable(f"{folder} is not a complete ONNX export of the model — delete it; the "
                                   f"default model is rebuilt on next use ({ONNX_HINT})")
        from embeddings.unigram import UnigramTokenizer

        self.folder = folder
        self.record = record
        self.prefix = prefix
        self.batch_size = batch_size
        self.threads = threads
        self.name = record["model"]["name"]
        self.dim = int(record["model"]["dim"])
        self.tokenizer = UnigramTokenizer.load(folder)
        self._sessions: dict[int, Any] = {}

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts (each prefixed): float32, L2-normalised, shape (len(texts), dim)."""
        texts = check_texts(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        session = self._session(self.threads or available_cores())
        ids = [self.tokenizer.encode(self.prefix + t) for t in texts]
        order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), i))
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            width = max(len(ids[i]) for i in rows)
            input_ids = np.full((len(rows), width), self.tokenizer.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                input_ids[r, :len(ids[i])] = ids[i]
                mask[r, :len(ids[i])] = 1
            (hidden,) = session.run(["last_hidden_state"], {"input_ids": input_ids, "attention_mask": mask})
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out

    def token_counts(self, texts: list[str]) -> list[int]:
        """Tokens each (prefixed) text becomes, specials included (at most 512)."""
        return [len(self.tokenizer.encode(self.prefix + t)) for t in check_texts(texts)]

    def model_info(self) -> dict[str, Any]:
        """name, version, dim, prefix and source as the torch encoder gives them (the same weights,
        so stores built with either answer queries from either), plus the runtime."""
        model = self.record["model"]
        return {"name": self.name, "version": model["version"], "dim": self.dim, "prefix": self.prefix,
                "source": "default", "runtime": {"engine": "onnxruntime", "variant": self.record["variant"],
                                                 "min_cosine_vs_torch": self.record["verify"]["min_cosine"]}}

    def _session(self, threads: int):
        session = self._sessions.get(threads)
        if session is None:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            # Spinning threads steal the CPU from each other when the machine is busy.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            try:
                session = ort.InferenceSession(str(self.folder / self.record["file"]), options,
                                               providers=["CPUExecutionProvider"])
            except Exception as e:  # onnxruntime raises its own untyped errors
                raise ModelBuildError(f"{self.folder}: onnxruntime cannot load the model ({e}) — delete the "
                                      f"folder; it is exported again on next use") from e
            self._sessions[threads] = session
        return session

    def __repr__(self) -> str:
        return f"OnnxEncoder({str(self.folder)!r}, variant={self.record['variant']!r}, dim={self.dim})"
