"""Read a 活動地域 text ("東京都豊島区、北区", "鳥取県全市町村") into places.

How a text is read, left to right:

1. Normalise each character (NFKC; spaces dropped, line breaks become 、) keeping a map
   back to the original, so every surface, qualifier and unresolved piece is verbatim.
2. Scan for the longest gazetteer name at each position, in the place-name fold
   (``kg.normalize.text.fold_place_name``: variant kanji folded, as the filters do): prefectures
   (also without 都府県), municipalities, wards, blocks ("関東"), and a district ("小豆郡")
   right after a prefecture.
3. Resolve each name in the context of what came before: the current designated city,
   then the current prefecture, then the whole country. The first scope with a match
   decides; two matches there means ambiguous (大阪府 + 北区), and ambiguous names go to
   ``unresolved``. So "東京都豊島区、北区" is Tokyo's 北区, a bare "北区" is unresolved, a
   bare "横浜市" is Yokohama (the only one).
4. Names written together ("東京都新宿区", "大阪府大阪市北区") are one place, the most
   specific one; the surface is the whole run.
5. Text between places is split on separators (、,・/ ...). A piece containing a qualifier
   word (を中心として, など, 全域, 各都県, 周辺 ...) qualifies the place before it, or
   all places of a ・-group ("徳島県・高知県の..."); before the first place only 主に,
   特に, 主として qualify; anything else is ``unresolved``. A connective (及び, と ...)
   right before a place and a の right after one are dropped.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterator

from kg.normalize.gazetteer import Block, Gazetteer, NameEntry, Region
from kg.normalize.text import fold_place_chars
from kg.records import PlaceRef, RegionParse

__all__ = ["Gazetteer", "Region", "Block", "parse_regions",
           "SEPARATORS", "BRACKETS", "CONNECTIVES", "LINK", "QUALIFIER_MARKERS",
           "LEADING_QUALIFIERS"]

# After NFKC: ，→,  ；→;  ／→/  ･→・  ＆→&
SEPARATORS = "、,・;/|&。"
BRACKETS = "()[]{}「」『』【】〈〉《》〔〕"
# Dropped when they stand right before a place ("全域及び関東", "宇都宮市と那須塩原市").
CONNECTIVES = ("ならびに", "および", "並びに", "または", "及び", "又は", "と", "や")
LINK = "の"  # "香川県の遍路道沿いの各市区町村"
# A piece of text is a qualifier if it contains one of these; otherwise it is unresolved.
QUALIFIER_MARKERS = (
    "中心", "など", "等", "ほか", "他", "主に", "主として", "特に", "全域", "全体", "全県",
    "全市", "全町", "全村", "一円", "一帯", "各", "近隣", "周辺", "近郊", "沿い", "沿線",
    "圏", "域", "内", "エリア", "一部", "含む", "以外", "方面", "地区", "地方",
)
# Before the first place only these qualify it ("主に東京都"); "全国（特に東京都）" does not.
LEADING_QUALIFIERS = ("主に", "主として", "特に")
_DISTRICT = re.compile(r"[\u3400-\u9fff\uf900-\ufaff々〆ケ]{1,4}郡")

Span = tuple[int, int]  # [start, end) in the normalised text


@dataclass(frozen=True)
class _Token:
    """A name found in the normalised text: [start, end) and what it may name."""

    start: int
    end: int
    entries: tuple[NameEntry, ...] = ()
    district: bool = False


@dataclass(frozen=True)
class _Item:
    """A resolved place (target set) or an unresolved name (target None), [start, end)."""

    start: int
    end: int
    target: Region | Block | str | None   # str: a district key


@dataclass(frozen=True)
class _Context:
    prefecture: str | None = None
    city: str | None = None


def parse_regions(gazetteer: Gazetteer, text: str) -> RegionParse:
    """Read a 活動地域 text; never raises on odd input, reports what it cannot read.

    >>> gaz = Gazetteer.load()
    >>> r = parse_regions(gaz, "横浜市を中心とし神奈川県全域及び関東各都県")
    >>> [(p.key, p.qualifier) for p in r.places]
    [('141003', 'を中心とし'), ('140007', '全域'), ('block:kanto', '各都県')]

    Args:
        gazetteer: the names to find (``Gazetteer.load()``).
        text: the field as written.
    Returns:
        ``RegionParse`` with places in order of appearance (no duplicates), qualifiers
        verbatim (also on the place they qualify) and unresolved pieces verbatim.
    """
    return _parse(gazetteer, text)[0]


def _parse(gazetteer: Gazetteer, text: str) -> tuple[RegionParse, list[tuple[int, int, str]]]:
    """``parse_regions`` plus what accounts for each stretch of the original text.

    The second value lists (start, end, what) in original indices, ``what`` being a place
    key, "qualifier" or "unresolved"; text outside them is separators and connectives.
    (The tests use it to check that nothing is silently dropped, duplicates included.)
    """
    norm, origin = _normalise(text)
    folded = fold_place_chars(norm)   # the place-name fold, one character to one
    items = _resolve(gazetteer, norm, _scan(gazetteer, folded))
    qualifiers, unresolved, attached = _read_gaps(norm, items)

    def span(start: int, end: int) -> tuple[int, int]:
        return origin[start], origin[end - 1] + 1

    def original(start: int, end: int) -> str:
        a, b = span(start, end)
        return text[a:b]

    places: dict[str, PlaceRef] = {}
    accounts = [(*span(s, e), "qualifier") for s, e in qualifiers]
    for index, item in enumerate(items):
        if item.target is None:
            unresolved.append((item.start, item.end))
            continue
        key, kind = _key_kind(item.target)
        accounts.append((*span(item.start, item.end), key))
        runs = attached.get(index, [])
        qualifier = "、".join(original(s, e) for s, e in runs) if runs else None
        if key not in places:
            places[key] = PlaceRef(key, kind, original(item.start, item.end), qualifier)
    accounts += [(*span(s, e), "unresolved") for s, e in unresolved]
    result = RegionParse(
        text=text,
        places=tuple(places.values()),
        qualifiers=tuple(dict.fromkeys(original(s, e) for s, e in qualifiers)),
        unresolved=tuple(original(s, e) for s, e in sorted(unresolved)),
    )
    return result, sorted(accounts)


def _normalise(text: str) -> tuple[str, list[int]]:
    """NFKC per character, spaces dropped, line breaks as 、; with the original index of each."""
    chars: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        for out in unicodedata.normalize("NFKC", ch):
            if out in "\r\n\u2028\u2029\x85\x0b\x0c":
                out = "、"
            elif out.isspace():
                continue
            chars.append(out)
            origin.append(index)
    return "".join(chars), origin


def _scan(gazetteer: Gazetteer, folded: str) -> list[_Token]:
    """Longest gazetteer name at each position, left to right."""
    tokens: list[_Token] = []
    i = 0
    while i < len(folded):
        token = None
        for length in range(min(gazetteer.max_name_length, len(folded) - i), 0, -1):
            entries = gazetteer.name_entries(folded[i: i + length])
            if entries:
                token = _Token(i, i + length, entries)
                break
        after_prefecture = (
            tokens and tokens[-1].end == i and tokens[-1].entries
            and all(isinstance(e.target, Region) and e.target.level == "prefecture"
                    for e in tokens[-1].entries)
        )
        if after_prefecture:
            district = _DISTRICT.match(folded, i)
            if district and (token is None or district.end() > token.end):
                token = _Token(i, district.end(), district=True)
        if token is None:
            i += 1
        else:
            tokens.append(token)
            i = token.end
    return tokens


def _resolve(gazetteer: Gazetteer, norm: str, tokens: list[_Token]) -> list[_Item]:
    """Tokens -> places, in context; names written together collapse to the innermost."""
    items: list[_Item] = []
    context = _Context()
    for token in tokens:
        previous = items[-1] if items and items[-1].end == token.start else None
        if token.district:
            # Only scanned right after a prefecture: "香川県小豆郡" is the district.
            pref = previous.target if previous is not None else None
            if previous is None or not isinstance(pref, Region) or pref.level != "prefecture":
                items.append(_Item(token.start, token.end, None))
                continue
            key = f"district:{pref.code}:{fold_place_chars(norm[token.start: token.end])}"
            items[-1] = _Item(previous.start, token.end, key)
            context = _Context(pref.code)
            continue
        target = _pick(token, norm[token.start: token.end], context)
        if target is None:
            items.append(_Item(token.start, token.end, None))
            continue
        if previous is not None and _within(target, previous.target):
            items[-1] = _Item(previous.start, token.end, target)
        else:
            items.append(_Item(token.start, token.end, target))
        context = _context_of(gazetteer, target, context)
    return items


def _pick(token: _Token, exact: str, context: _Context) -> Region | Block | None:
    """The one place a token names in this context, or None (unknown or ambiguous)."""
    for entry in token.entries:
        if isinstance(entry.target, Block) or entry.target.level == "prefecture":
            return entry.target  # prefecture and block names are unique
    scopes = []
    if context.city:
        scopes.append(lambda r: r.parent_code == context.city)
    if context.prefecture:
        scopes.append(lambda r: r.prefecture_code == context.prefecture)
    scopes.append(lambda r: True)
    for in_scope in scopes:
        entries = [e for e in token.entries if in_scope(e.target)]
        if entries:
            exact_hits = {e.target for e in entries if e.exact == exact}
            found = exact_hits or {e.target for e in entries}
            return found.pop() if len(found) == 1 else None
    return None


def _within(inner: Region | Block, outer: Region | Block | str | None) -> bool:
    """True if ``inner`` sits directly under ``outer`` as written ("東京都" + "新宿区")."""
    if not isinstance(inner, Region) or inner.level == "prefecture":
        return False
    if isinstance(outer, str):  # a district: its towns are in its prefecture
        return inner.level == "municipality" and outer.split(":")[1] == inner.prefecture_code
    if not isinstance(outer, Region):
        return False
    if outer.level == "prefecture":
        return inner.prefecture_code == outer.code
    return inner.parent_code == outer.code


def _context_of(gazetteer: Gazetteer, target: Region | Block, before: _Context) -> _Context:
    if isinstance(target, Block):
        return before
    if target.level == "prefecture":
        return _Context(target.code)
    if target.level == "ward":
        return _Context(target.prefecture_code, target.parent_code)
    designated = bool(gazetteer.children(target.code))
    return _Context(target.prefecture_code, target.code if designated else None)


def _read_gaps(norm: str, items: list[_Item]) -> tuple[list[Span], list[Span], dict[int, list[Span]]]:
    """Text between items -> qualifier runs, unresolved pieces and which item each run qualifies.

    Returns (qualifier spans, unresolved spans, {item index: [qualifier spans]}).
    """
    qualifiers: list[Span] = []
    unresolved: list[Span] = []
    attached: dict[int, list[Span]] = {}
    groups = _dot_groups(norm, items)
    bounds = [(items[k - 1].end if k else 0, items[k].start if k < len(items) else len(norm), k)
              for k in range(len(items) + 1)]
    for start, end, k in bounds:
        before = k - 1 if k and items[k - 1].target is not None else None
        after = k if k < len(items) and items[k].target is not None else None
        owner = before if before is not None else (after if k == 0 else None)
        run: list[Span] = []
        for s, e in _pieces(norm, start, end, glued_after_place=before is not None,
                            before_place=k < len(items)):
            piece = norm[s:e]
            if before is not None:
                qualifies = any(marker in piece for marker in QUALIFIER_MARKERS)
            else:
                qualifies = owner is not None and piece.strip(BRACKETS) in LEADING_QUALIFIERS
            if qualifies:
                run.append((s, e))
                continue
            _close(run, owner, groups, qualifiers, attached)
            run = []
            unresolved.append((s, e))
        _close(run, owner, groups, qualifiers, attached)
    return qualifiers, unresolved, attached


def _pieces(norm: str, start: int, end: int, glued_after_place: bool,
            before_place: bool) -> Iterator[Span]:
    """Non-empty pieces of norm[start:end] between separators, connectives trimmed."""
    spans = []
    s = start
    for i in range(start, end + 1):
        if i == end or norm[i] in SEPARATORS:
            if i > s:
                spans.append([s, i])
            s = i + 1
    if spans and glued_after_place and spans[0][0] == start and norm[start] == LINK:
        spans[0][0] += 1
    if spans and before_place and spans[-1][1] == end:
        s, e = spans[-1]
        for word in CONNECTIVES:
            if norm.endswith(word, s, e):
                spans[-1][1] = e - len(word)
                break
    for s, e in spans:
        if e > s and not all(ch in BRACKETS for ch in norm[s:e]):
            yield s, e


def _close(run: list[Span], owner: int | None, groups: dict[int, list[int]],
           qualifiers: list[Span], attached: dict[int, list[Span]]) -> None:
    """Record a run of qualifier pieces as one verbatim qualifier of owner's ・-group."""
    if not run or owner is None:
        return
    span = (run[0][0], run[-1][1])
    qualifiers.append(span)
    for index in groups[owner]:
        attached.setdefault(index, []).append(span)


def _dot_groups(norm: str, items: list[_Item]) -> dict[int, list[int]]:
    """Places joined only by ・ ("徳島県・高知県") share their qualifiers."""
    groups: dict[int, list[int]] = {}
    current: list[int] = []
    for k, item in enumerate(items):
        joined = (current and item.target is not None and items[k - 1].target is not None
                  and set(norm[items[k - 1].end: item.start]) == {"・"})
        if not joined:
            current = []
        current.append(k)
        groups[k] = current
    return groups


def _key_kind(target: Region | Block | str) -> tuple[str, str]:
    if isinstance(target, str):
        return target, "district"
    if isinstance(target, Block):
        return target.key, "block"
    return target.code, target.level
