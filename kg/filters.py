"""Filters over project views: regions by name or code (with their hierarchy), concepts with narrower ones."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from kg.errors import NotFound
from kg.normalize.concepts import ConceptSchemes
from kg.normalize.regions import Gazetteer
from kg.normalize.text import fold

Predicate = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class ProjectFilter:
    """A conjunction of checks on a project view; ``make`` resolves names once, up front."""

    checks: tuple[Predicate, ...] = ()

    def __call__(self, project: dict[str, Any]) -> bool:
        return all(check(project) for check in self.checks)

    @classmethod
    def make(cls, *, prefecture: str | None = None, municipality: str | None = None, block: str | None = None,
             target_group: str | None = None, theme: str | None = None, fiscal_year: int | None = None,
             legal_form: str | None = None) -> "ProjectFilter":
        checks: list[Predicate] = []
        if prefecture:
            code = resolve_region(prefecture, level="prefecture")
            checks.append(lambda p: any(r["prefecture_code"] == code for r in p["regions"]))
        if municipality:
            code = resolve_region(municipality, level="municipality")
            checks.append(lambda p: any(code in (r["code"], r.get("parent_code")) for r in p["regions"]))
        if block:
            block_id = resolve_block(block)
            checks.append(lambda p: any(r["block"] == block_id for r in p["regions"]))
        for scheme, value in (("target-group", target_group), ("theme", theme)):
            if value:
                wanted = concept_and_narrower(scheme, value)
                key = "target_groups" if scheme == "target-group" else "themes"
                checks.append(lambda p, key=key, wanted=wanted: any(t["id"] in wanted for t in p[key]))
        if fiscal_year:
            checks.append(lambda p: p["fiscal_year"] == int(fiscal_year))
        if legal_form:
            checks.append(lambda p: p["organization"]["legal_form"] == legal_form)
        return cls(tuple(checks))


def resolve_region(value: str, level: str) -> str:
    """A region code from a code, a Japanese name or a romaji/English name ('鳥取県', 'Tottori', '31')."""
    gazetteer = Gazetteer.load()
    key = fold(value)
    candidates = [r for r in gazetteer if (r.level == "prefecture") == (level == "prefecture")]
    if key.isdigit():
        for region in candidates:
            if region.code == key or (level == "prefecture" and region.code[:2] == key.zfill(2)):
                return region.code
    matches = [r for r in candidates
               if key in {fold(r.name), fold(r.romaji), fold(r.romaji.split("-")[0]), fold(r.name_en)}
               or (level == "prefecture" and key == fold(r.name)[:-1] and len(key) > 1)]
    if len(matches) == 1:
        return matches[0].code
    if len(matches) > 1:
        options = ", ".join(f"{gazetteer.get(r.prefecture_code).name}{r.name} ({r.code})" for r in matches[:5])
        raise NotFound(f"{value!r} names several places: {options} — give the 6-digit code")
    raise NotFound(f"no {level} named {value!r} — give a name as written (e.g. 鳥取県, 豊島区) or its 6-digit code")


def resolve_block(value: str) -> str:
    key = fold(value)
    for block in Gazetteer.load().blocks():
        if key in {fold(block.id), fold(block.name), fold(block.name_en), fold(block.name).removesuffix("地方")}:
            return block.id
    raise NotFound(f"no regional block {value!r} — use one of: "
                   + ", ".join(b.id for b in Gazetteer.load().blocks()))


def concept_and_narrower(scheme: str, concept_id: str) -> set[str]:
    """The concept and every concept below it in the scheme's hierarchy."""
    concepts = ConceptSchemes.load()
    known = {c.id for c in concepts.concepts(scheme)}
    if concept_id not in known:
        raise NotFound(f"no {scheme} {concept_id!r} — use one of: {', '.join(sorted(known))}")
    return {c.id for c in concepts.concepts(scheme) if concept_id == c.id or concept_id in concepts.ancestors(scheme, c.id)}
