"""Labels found in a query in another inflected form, for languages written with spaces.

A query says "famílias estrangeiras" where the label is *estrangeiros*, "personas que viven
solas" where it is *viven solos*. Words are compared by their Snowball stem
(snowballstemmer: the stemmers search engines use, maintained, pure Python), accents folded on
both sides (people often type without them). Labels match as whole runs of words: a label of n
words matches n consecutive query words with the same stems, in order.

Only Portuguese and Spanish labels are stemmed: nouns and adjectives there change for gender and
number (estrangeiros / estrangeiras, solo / solas), and both have a Snowball stemmer. English
labels already match with a plural -s/-es, and the English stemmer also conflates derivations a
reader would not ("train station" would find *training*); on the development queries stemming
English changed nothing. Vietnamese does not inflect; Tagalog inflects by infixes, which Snowball
does not cover. Exact labels are matched first (kg.normalize.concepts): this only adds concepts
they did not find.

    >>> finder = InflectedLabels([("pt", "target-group", "foreign-residents", "estrangeiros")])
    >>> finder.find("apoio a famílias estrangeiras")
    [(17, 29, 'target-group', 'foreign-residents', 'estrangeiros')]
"""
from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

STEMMERS = {"pt": "portuguese", "es": "spanish"}
MIN_STEM = 4
_WORD = re.compile(r"[^\W_]+")
_STEMMING = threading.Lock()


def fold_accents(text: str) -> str:
    """``text`` without combining accents: "famílias" -> "familias", "niño" -> "nino"."""
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))


@lru_cache(maxsize=None)
def _stemmer(language: str):
    from snowballstemmer import stemmer       # lazy: only queries with Latin words need it

    return stemmer(STEMMERS[language])


@lru_cache(maxsize=65536)
def stem(word: str, language: str) -> str:
    """The accent-folded Snowball stem of one lower-case word in ``language`` (pt or es); thread-safe."""
    folded = fold_accents(word)
    if not folded.isascii():
        return ""
    with _STEMMING:         # a Snowball stemmer keeps its word in itself: two threads would mix theirs
        return fold_accents(_stemmer(language).stemWord(folded))


def words(text: str) -> list[tuple[int, int, str]]:
    """(start, end, word) of each run of letters or digits in ``text``."""
    return [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]


class InflectedLabels:
    """Labels indexed by the stems of their words, per language.

    Args:
        labels: (language, scheme, concept id, label) for labels already in matching form
            (NFKC, case-folded); languages without a stemmer are ignored.
    """

    def __init__(self, labels: Iterable[tuple[str, str, str, str]]) -> None:
        self._labels = [(lang, scheme, cid, label) for lang, scheme, cid, label in labels if lang in STEMMERS]
        self._index: dict[str, dict[tuple[str, ...], list[tuple[str, str, str]]]] | None = None

    def _built(self) -> dict[str, dict[tuple[str, ...], list[tuple[str, str, str]]]]:
        # Built on the first query that has Latin words: stemming ~1,500 label words costs tens of ms,
        # which a Japanese query (and `import kg`) should not pay.
        if self._index is None:
            index: dict[str, dict[tuple[str, ...], list[tuple[str, str, str]]]] = {lang: {} for lang in STEMMERS}
            for lang, scheme, cid, label in self._labels:
                stems = tuple(stem(w, lang) for _, _, w in words(label))
                # A one-word label with a short stem would match function words ("parados" -> par <- "para").
                if stems and all(stems) and (len(stems) > 1 or len(stems[0]) >= MIN_STEM):
                    hits = index[lang].setdefault(stems, [])
                    if (scheme, cid, label) not in hits:
                        hits.append((scheme, cid, label))
            self._index = index
        return self._index

    def find(self, text: str) -> list[tuple[int, int, str, str, str]]:
        """(start, end, scheme, id, label) for every label found by stems in folded ``text``."""
        tokens = [t for t in words(text) if fold_accents(t[2]).isascii()]
        if not tokens:
            return []
        found: list[tuple[int, int, str, str, str]] = []
        for lang, index in self._built().items():
            longest = max((len(k) for k in index), default=0)
            stems = [stem(w, lang) for _, _, w in tokens]
            for i in range(len(tokens)):
                for n in range(1, min(longest, len(tokens) - i) + 1):
                    # Consecutive in the text too: "foreign, residents" is not "foreign residents".
                    if n > 1 and text[tokens[i + n - 2][1]:tokens[i + n - 1][0]].strip(" '"):
                        break
                    for scheme, cid, label in index.get(tuple(stems[i:i + n]), ()):
                        found.append((tokens[i][0], tokens[i + n - 1][1], scheme, cid, label))
        return sorted(set(found))
