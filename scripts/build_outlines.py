"""Regenerate kg/data/prefecture_outlines.json from the PyPI package japanmap (Apache-2.0).

Usage::

    pip install -e '.[outlines]'           # japanmap 0.6 (it pulls in opencv-python, ~190 MB; tsunagari does not)
    python scripts/build_outlines.py       # rewrites the outlines and their licence file
    python scripts/build_outlines.py --check   # exit 1 if the vendored file differs from what japanmap gives

What it writes (UTF-8, "\\n" line ends, one prefecture per line, so a rebuild diffs cleanly):

- ``kg/data/prefecture_outlines.json``: ``{"<6-digit code>": [[longitude, latitude], ...], ...}``, the
  outline of each prefecture's main area exactly as ``japanmap.pref_points(japanmap.get_data())`` gives it
  (small islands are not in japanmap's data), keyed by 全国地方公共団体コード instead of list position. The
  numbers are written as Python's shortest round-trip form, so the map pictures stay byte for byte the same.
- ``kg/data/prefecture_outlines.LICENSE``: japanmap's Apache-2.0 licence with attribution and what was changed.
"""
from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata
from pathlib import Path

from kg.normalize.gazetteer import Gazetteer

ROOT = Path(__file__).resolve().parent.parent
OUTLINES = ROOT / "kg" / "data" / "prefecture_outlines.json"
LICENSE = ROOT / "kg" / "data" / "prefecture_outlines.LICENSE"


def outlines() -> dict[str, list[list[float]]]:
    """japanmap's outlines keyed by prefecture code; japanmap's order is checked against the gazetteer."""
    try:
        import japanmap
    except ImportError:
        sys.exit("japanmap is not installed — pip install -e '.[outlines]'")
    points = japanmap.pref_points(japanmap.get_data())
    prefectures = Gazetteer.load().prefectures()
    if len(points) != len(prefectures):
        sys.exit(f"japanmap has {len(points)} outlines, the gazetteer {len(prefectures)} prefectures")
    shapes = {}
    for number, pref in enumerate(prefectures, start=1):
        if japanmap.pref_names[number] != pref.name or int(pref.code[:2]) != number:
            sys.exit(f"japanmap's prefecture {number} is {japanmap.pref_names[number]}, the gazetteer's {pref.name}")
        shapes[pref.code] = [[float(x), float(y)] for x, y in points[number - 1]]
    return shapes


def outlines_json(shapes: dict[str, list[list[float]]]) -> str:
    lines = [f"{json.dumps(code)}: {json.dumps(points)}" for code, points in shapes.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def license_text() -> str:
    version = metadata.version("japanmap")
    files = metadata.files("japanmap") or []
    licence = next((f for f in files if f.name == "LICENSE"), None)
    if licence is None:
        sys.exit("japanmap's LICENSE file is not installed with it")
    header = f"""\
kg/data/prefecture_outlines.json is derived from the PyPI package japanmap {version}
by Saito Tsutomu (https://github.com/SaitoTsutomu/japanmap), file japanmap/japan.json,
which is distributed under the Apache License 2.0 reproduced below. japanmap ships no
NOTICE file.

Changes made by tsunagari: only the outline of each prefecture's main area is kept,
as japanmap.pref_points(japanmap.get_data()) returns it, and keyed by the prefecture's
6-digit 全国地方公共団体コード instead of its position in a list; the coordinates are unchanged.

To regenerate: pip install -e '.[outlines]' && python scripts/build_outlines.py

----

"""
    return header + Path(licence.locate()).read_text(encoding="utf-8").rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the vendored file, write nothing")
    args = parser.parse_args()
    text = outlines_json(outlines())
    if args.check:
        same = OUTLINES.read_text(encoding="utf-8") == text
        print(f"{OUTLINES.relative_to(ROOT)}: {'up to date' if same else 'differs from japanmap'}")
        sys.exit(0 if same else 1)
    OUTLINES.write_text(text, encoding="utf-8", newline="\n")
    LICENSE.write_text(license_text(), encoding="utf-8", newline="\n")
    print(f"wrote {OUTLINES.relative_to(ROOT)} ({OUTLINES.stat().st_size // 1024} KiB) and {LICENSE.name}")


if __name__ == "__main__":
    main()
