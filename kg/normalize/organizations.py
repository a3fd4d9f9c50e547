"""Organisations: split off the legal form, keep trade names and departments, key for matching."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from kg.normalize.text import clean, match_key
from kg.records import Organization


@dataclass(frozen=True)
class LegalForm:
    id: str
    ja: str
    en: str


LEGAL_FORMS: dict[str, LegalForm] = {f.id: f for f in (
    LegalForm("npo", "特定非営利活動法人", "Specified nonprofit corporation (NPO)"),
    LegalForm("certified-npo", "認定特定非営利活動法人", "Certified specified nonprofit corporation (certified NPO)"),
    LegalForm("general-association", "一般社団法人", "General incorporated association"),
    LegalForm("general-foundation", "一般財団法人", "General incorporated foundation"),
    LegalForm("public-interest-association", "公益社団法人", "Public interest incorporated association"),
    LegalForm("public-interest-foundation", "公益財団法人", "Public interest incorporated foundation"),
    LegalForm("social-welfare-corporation", "社会福祉法人", "Social welfare corporation"),
    LegalForm("consumer-cooperative", "生活協同組合", "Consumers' cooperative"),
    LegalForm("stock-company", "株式会社", "Stock company (kabushiki kaisha)"),
    LegalForm("llc", "合同会社", "Limited liability company (godo kaisha)"),
)}

# Written prefixes, longest first so 認定NPO法人 wins over NPO法人. Matched on NFKC text.
_PREFIXES: list[tuple[str, str]] = sorted([
    ("認定特定非営利活動法人", "certified-npo"), ("認定NPO法人", "certified-npo"),
    ("特定非営利活動法人", "npo"), ("NPO法人", "npo"),
    ("一般社団法人", "general-association"), ("一般財団法人", "general-foundation"),
    ("公益社団法人", "public-interest-association"), ("公益財団法人", "public-interest-foundation"),
    ("社会福祉法人", "social-welfare-corporation"),
    ("株式会社", "stock-company"), ("(株)", "stock-company"), ("合同会社", "llc"),
], key=lambda p: -len(p[0]))

# A cooperative carries its legal form inside its name (鳥取医療生活協同組合), so the name keeps it.
_INNER_FORMS = [("生活協同組合", "consumer-cooperative")]


def legal_form_id(value: str) -> str | None:
    """The legal form a filter names: its id, its Japanese or English name, or a written prefix
    ("npo", "NPO法人", "一般社団法人", "General incorporated association"); None when none matches."""
    key = match_key(value)
    for form in LEGAL_FORMS.values():
        if key in (match_key(form.id), match_key(form.ja), match_key(form.en)):
            return form.id
    return next((form_id for written, form_id in _PREFIXES + _INNER_FORMS if match_key(written) == key), None)

_TRADE_NAME = re.compile(r"\s*屋号\s*[「『](?P<trade>[^」』]+)[」』]\s*")
_DEPARTMENT = re.compile(r"^(?P<name>.+?)\s+(?P<dept>\S+(?:部|課|室|支部))$")


def parse_organization(written: str) -> Organization:
    """Split an organisation as written into legal form, name, trade name and department.
    >>> parse_organization("一般社団法人 Pay for World 屋号「えがおの駄菓子屋」").trade_name
    'えがおの駄菓子屋'
    """

    shown = clean(written)
    rest = shown
    legal_form = legal_text = None
    nfkc = unicodedata.normalize("NFKC", rest)
    for prefix, form in _PREFIXES:
        if nfkc.startswith(prefix):
            legal_form, legal_text = form, rest[: _prefix_len(rest, prefix)]
            rest = rest[len(legal_text):].strip()
            break
    trade_name = None
    match = _TRADE_NAME.search(rest)
    if match:
        trade_name = match.group("trade").strip()
        rest = (rest[: match.start()] + " " + rest[match.end():]).strip()
    department = None
    match = _DEPARTMENT.match(rest)
    if match:
        rest, department = match.group("name"), match.group("dept")
    if legal_form is None:
        for inner, form in _INNER_FORMS:
            if inner in rest:
                legal_form, legal_text = form, inner
    return Organization(
        key=match_key(rest), name=rest, legal_form=legal_form, legal_form_text=legal_text,
        trade_name=trade_name, department=department, written=shown,
    )


def _prefix_len(text: str, prefix: str) -> int:
    """Length in the original text of a prefix matched on its NFKC form (ＮＰＯ法人 is 5 chars either way)."""

    for end in range(1, len(text) + 1):
        if unicodedata.normalize("NFKC", text[:end]) == prefix:
            return end
    return len(prefix)
