"""Filters over project views: regions by name or code (with their hierarchy), concepts with narrower ones."""
from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from typing import Any, Mapping

from kg.errors import NotFound, quoted
from kg.normalize.concepts import ConceptSchemes
from kg.normalize.organizations import LEGAL_FORMS, legal_form_id
from kg.normalize.regions import Gazetteer, Region
from kg.normalize.text import fold_place_name, nfkc_without_spaces


def facets_of(view: Mapping[str, Any]) -> set[tuple[str, str]]:
    """The (kind, value) pairs a filter can select a project view by.

    A municipality filter keeps a ward's project too (the ward's parent is the city), and a region
    filter keeps a project when any of its places matches.
    """
    found: set[tuple[str, str]] = set()
    for region in view["regions"]:
        for kind, value in (("prefecture", region["prefecture_code"]), ("municipality", region["code"]),
                            ("municipality", region.get("parent_code")), ("block", region["block"])):
            if value:
                found.add((kind, value))
    found.update(("target_group", t["id"]) for t in view["target_groups"])
    found.update(("theme", t["id"]) for t in view["themes"])
    found.add(("fiscal_year", str(view["fiscal_year"])))
    if view["organization"]["legal_form"]:
        found.add(("legal_form", view["organization"]["legal_form"]))
    return found


@dataclass(frozen=True)
class ProjectFilter:
    """A conjunction of conditions on a project: each one a facet kind and the values it accepts.

    ``make`` resolves names once, up front; the same filter checks a view in memory (calling it) or
    selects from a store's views file (``conditions``).
    """

    conditions: tuple[tuple[str, frozenset[str]], ...] = ()

    def __call__(self, project: dict[str, Any]) -> bool:
        facets = facets_of(project)
        return all(any((kind, value) in facets for value in values) for kind, values in self.conditions)

    def __bool__(self) -> bool:
        return bool(self.conditions)

    @classmethod
    def make(cls, *, prefecture: str | None = None, municipality: str | None = None, block: str | None = None,
             target_group: str | None = None, theme: str | None = None, fiscal_year: int | None = None,
             legal_form: str | None = None) -> "ProjectFilter":
        """A filter from the options of `tsunagari projects` (names or codes; None or "" leaves one out)."""
        conditions: list[tuple[str, frozenset[str]]] = []
        if prefecture:
            conditions.append(("prefecture", frozenset({resolve_region(prefecture, level="prefecture")})))
        if municipality:
            conditions.append(("municipality", frozenset({resolve_region(municipality, level="municipality")})))
        if block:
            conditions.append(("block", frozenset({resolve_block(block)})))
        for kind, scheme, value in (("target_group", "target-group", target_group), ("theme", "theme", theme)):
            if value:
                conditions.append((kind, frozenset(concept_and_narrower(scheme, value))))
        if fiscal_year:
            conditions.append(("fiscal_year", frozenset({str(int(fiscal_year))})))
        if legal_form:
            conditions.append(("legal_form", frozenset({resolve_legal_form(legal_form)})))
        return cls(tuple(conditions))


def resolve_region(value: str, level: str) -> str:
    """A region code from a code or a name: '31', '鳥取県', 'Tottori', '曾於市', '東京都北区'.

    Names are compared in the place-name fold (``kg.normalize.text.fold_place_name``), the one the
    活動地域 parser reads with, so variant kanji find each other (曾於市 is 曽於市); where two places
    fold alike the exact spelling wins (鹿嶋市 is not 鹿島市). A name with what contains it in front
    ("東京都北区", "鹿児島県曾於市") is read by the parser. ``level`` is "prefecture" or "municipality"
    (which takes designated-city wards too). Raises ``NotFound`` naming the choices when ambiguous.
    """
    gazetteer = Gazetteer.load()
    key = fold_place_name(value)
    if key.isdigit():
        for region in gazetteer:
            if (region.level == "prefecture") != (level == "prefecture"):
                continue
            if region.code == key or (level == "prefecture" and region.code[:2] == key.zfill(2)):
                return region.code
    matches = list(_names(gazetteer, level == "prefecture").get(key, ()))
    exact = [r for r in matches if nfkc_without_spaces(r.name) == nfkc_without_spaces(value)]
    matches = exact or matches or _parsed(gazetteer, value, level)
    if len(matches) == 1:
        return matches[0].code
    if len(matches) > 1:
        options = ", ".join(f"{gazetteer.get(r.parent_code).name if r.parent_code else ''}{r.name} ({r.code})"
                            for r in matches[:5])
        raise NotFound(f"{value!r} names several places: {options} — write it as listed or give the 6-digit code")
    close = difflib.get_close_matches(key, _names(gazetteer, level == "prefecture"), n=3, cutoff=0.75)
    hint = f"did you mean {', '.join(_names(gazetteer, level == 'prefecture')[k][0].name for k in close)}? " \
        if close else ""
    example = "鳥取県, Tottori or 31" if level == "prefecture" else "豊島区, 鳥取市, Tottori-shi or 312011"
    raise NotFound(f"no {level} named {quoted(value)} — {hint}give a name as written (e.g. {example}) or its code")


@functools.lru_cache(maxsize=4)
def _names(gazetteer: Gazetteer, prefectures: bool) -> dict[str, tuple[Region, ...]]:
    """Prefectures (or municipalities and wards) by the fold of each name they go by, in code order.

    The names: as written, romaji with and without its type ("Tottori-shi", "Tottori"), English, and
    for a prefecture its name without the last character ("鳥取").
    """
    index: dict[str, list[Region]] = {}
    for region in gazetteer:
        if (region.level == "prefecture") != prefectures:
            continue
        forms = (region.name, region.romaji, region.romaji.split("-")[0], region.name_en)
        keys = {fold_place_name(form) for form in forms}
        stem = fold_place_name(region.name)[:-1]
        if prefectures and len(stem) > 1:
            keys.add(stem)
        for key in keys:
            index.setdefault(key, []).append(region)
    return {key: tuple(regions) for key, regions in index.items()}


def _parsed(gazetteer: Gazetteer, value: str, level: str) -> list[Region]:
    """The one region of this level the 活動地域 parser reads in ``value``, with nothing left over."""
    parse = gazetteer.parse(value)
    if len(parse.places) != 1 or parse.unresolved or parse.qualifiers:
        return []
    if parse.places[0].key not in gazetteer:       # a block or a district
        return []
    region = gazetteer.get(parse.places[0].key)
    return [region] if (region.level == "prefecture") == (level == "prefecture") else []


def resolve_block(value: str) -> str:
    """A block id from its id, Japanese or English name, or a part of a joined name ('kanto', '関東',
    '関東地方', 'Kanto', '九州' for 九州・沖縄)."""
    key = fold_place_name(value)
    for block in Gazetteer.load().blocks():
        names = {fold_place_name(block.id), fold_place_name(block.name), fold_place_name(block.name_en)}
        names |= {fold_place_name(part) for part in block.name.split("・")}
        if {key, key.removesuffix("地方")} & names:
            return block.id
    raise NotFound(f"no regional block {quoted(value)} — use one of: "
                   + ", ".join(f"{b.id} ({b.name})" for b in Gazetteer.load().blocks()))


def resolve_legal_form(value: str) -> str:
    """A legal form id from its id or its name ('npo', 'NPO法人', '一般社団法人')."""
    found = legal_form_id(value)
    if found is None:
        raise NotFound(f"no legal form {quoted(value)} — use one of: {', '.join(LEGAL_FORMS)} (or the Japanese "
                       "name, e.g. 特定非営利活動法人)")
    return found


def concept_and_narrower(scheme: str, concept_id: str) -> set[str]:
    """The concept and every concept below it in the scheme's hierarchy."""
    concepts = ConceptSchemes.load()
    known = {c.id for c in concepts.concepts(scheme)}
    if concept_id not in known:
        raise NotFound(f"no {scheme} {concept_id!r} — use one of: {', '.join(sorted(known))}")
    return {c.id for c in concepts.concepts(scheme) if concept_id == c.id or concept_id in concepts.ancestors(scheme, c.id)}
