"""Make the README's pictures, docs/map.png and docs/network.png, with kg's public picture API.

    python scripts/pictures.py                          # the bundled list, built in a temporary folder
    python scripts/pictures.py --store tsunagari-store  # an existing store
    python scripts/pictures.py --out docs --dpi 100

The PNGs are reduced to a 256-colour palette (Pillow, which matplotlib already needs) to stay small; the same
store gives byte-identical files.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from kg import Tsunagari
from kg.pictures import map_figure, network_figure, save_figure

ROOT = Path(__file__).resolve().parents[1]


def shrink(path: Path, colours: int = 256) -> None:
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=colours, method=Image.Quantize.FASTOCTREE,
                                              dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="a built store (default: build the bundled list, no embeddings)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for map.png and network.png")
    parser.add_argument("--dpi", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        if args.store:
            kg = Tsunagari.open(args.store)
        else:
            kg, _ = Tsunagari.build(None, Path(scratch) / "store", embed=False)
        args.out.mkdir(parents=True, exist_ok=True)
        for name, figure in (("map.png", map_figure(kg)), ("network.png", network_figure(kg))):
            path = save_figure(figure, args.out / name, dpi=args.dpi)
            shrink(path)
            print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
