"""Text forms: ``clean`` for display, ``match_key`` to compare words, ``fold_place_name`` for places.

- ``clean``: what the source wrote, tidied (NFC, spaces collapsed); shown to users and stored.
- ``match_key``: NFKC, lower case, no spaces; compares headers, titles and organisation names.
- ``fold_place_name``: the one place-name fold, used by the gazetteer's index, the 活動地域 parser
  and the region filters, so that a name found in one is found in all (曾於市 is 曽於市).
  ``nfkc_without_spaces`` is its first half (an exact spelling), ``fold_place_chars`` its second.
"""
from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")

# Variant kanji (異体字) -> the form we match in. Place names are folded on both sides (the
# text and the gazetteer), so it does not matter which form is official (曾於市 finds 曽於市,
# 龍ケ崎市 and 竜ヶ崎市 find each other). Exact spellings still win over folded ones where
# that matters: 鹿嶋市 and 鹿島市 are different cities that fold alike.
PLACE_VARIANTS = {
    "曾": "曽", "髙": "高", "﨑": "崎", "嵜": "崎", "邊": "辺", "邉": "辺", "濵": "浜",
    "濱": "浜", "嶋": "島", "嶌": "島", "澤": "沢", "龍": "竜", "檜": "桧", "鰺": "鯵",
    "舘": "館", "廣": "広", "國": "国", "德": "徳", "冨": "富", "ヶ": "ケ", "ヵ": "カ",
}
# One character to one: variant kanji, and Latin capitals (after NFKC, full-width ones too)
# so that romaji and English names match in any case.
_PLACE_CHARS = str.maketrans(PLACE_VARIANTS | {chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)})


def clean(text: str | None) -> str:
    """Display form: NFC, spaces collapsed, ends trimmed (what the source wrote, tidied)."""
    if text is None:
        return ""
    text = text.replace("\u3000", " ")
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


def match_key(text: str | None) -> str:
    """Matching key for words: NFKC, lower case, all whitespace removed.

    >>> match_key("ＮＰＯ法人　Kids Door")
    'npo法人kidsdoor'
    """
    if not text:
        return ""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text)).lower()


def nfkc_without_spaces(text: str) -> str:
    """NFKC with all whitespace removed: a name as spelled, compared exactly (no variant kanji folded).

    >>> nfkc_without_spaces("東京都 新宿区")
    '東京都新宿区'
    """
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace())


def fold_place_chars(text: str) -> str:
    """The per-character step of ``fold_place_name``: variant kanji folded, Latin letters lower-cased.

    Maps each character to exactly one, so a caller that has normalised text itself (the 活動地域
    parser keeps a map back to the original) can fold it without losing its indices.

    >>> fold_place_chars("龍ヶ崎市")
    '竜ケ崎市'
    """
    return text.translate(_PLACE_CHARS)


def fold_place_name(text: str) -> str:
    """The place-name fold: NFKC, whitespace removed, variant kanji folded, Latin letters lower-cased.

    Two spellings name the same place when their folds are equal (the gazetteer prefers an exact
    spelling where two places fold alike).

    >>> fold_place_name("曾於市"), fold_place_name("Tottori")
    ('曽於市', 'tottori')
    """
    return fold_place_chars(nfkc_without_spaces(text))
