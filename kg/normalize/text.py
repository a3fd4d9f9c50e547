"""Text normalisation shared by every matcher: NFKC and spacing, never for display."""
from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def clean(text: str | None) -> str:
    """Display form: NFC, spaces collapsed, ends trimmed (what the source wrote, tidied)."""
    if text is None:
        return ""
    text = text.replace("\u3000", " ")
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


def fold(text: str | None) -> str:
    """Matching form: NFKC, lower case, all whitespace removed."""
    if not text:
        return ""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text)).lower()
