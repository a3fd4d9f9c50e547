"""Screenshot of the search page for the README: docs/search-page.png.

Starts `tsunagari serve` in-process on a free loopback port over a built store, opens a search in
Debian's headless Chromium (Playwright, /usr/bin/chromium: `apt-get install -y chromium
fonts-noto-cjk`; never `playwright install`), and saves a PNG of the first results.

    python scripts/screenshot.py --store tsunagari-store --query "men's shed for retired men"
"""
from __future__ import annotations

import argparse
import io
from pathlib import Path
from urllib.parse import urlencode

from kg import Tsunagari
from kg.server import create_app
from kg.server.background import serve_in_thread

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MAX_BYTES = 200_000


def shoot(url: str, out: Path, width: int, height: int) -> int:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": width, "height": height}, locale="ja-JP")
        page.goto(url)
        page.wait_for_selector("ol.results")
        png = page.screenshot(full_page=True)
        browser.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(_shrink(png))
    return out.stat().st_size


def _shrink(png: bytes) -> bytes:
    """A 256-colour PNG when the screenshot is over MAX_BYTES (text stays sharp)."""
    if len(png) <= MAX_BYTES:
        return png
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="tsunagari-store", help="a built store (tsunagari build)")
    parser.add_argument("--query", default="men's shed for retired men")
    parser.add_argument("--top", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "docs" / "search-page.png")
    parser.add_argument("--width", type=int, default=820)
    parser.add_argument("--height", type=int, default=600, help="viewport height; the PNG is the whole page")
    args = parser.parse_args()
    app = create_app(Tsunagari.open(args.store), timeout=10, max_rows=10_000, processes=1)
    with serve_in_thread(app) as base:
        size = shoot(f"{base}/?{urlencode({'q': args.query, 'top': args.top})}", args.out, args.width, args.height)
    print(f"wrote {args.out} ({size} bytes)")


if __name__ == "__main__":
    main()
