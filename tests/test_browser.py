"""The search pages in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

CI installs the browser with `apt-get install -y chromium`; without it these tests fail (they never
skip). Never `playwright install`: it downloads browsers.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from kg import Tsunagari
from kg.server import create_app
from kg.server.background import serve_in_thread

pytestmark = pytest.mark.slow      # Chromium

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCHOOL_REFUSAL = "cao-kodoku-npo-model-fy2024-007"   # 石巻地域の不登校中高生 応援ホットスペースプロジェクト


@pytest.fixture(scope="module")
def kg(tmp_path_factory) -> Tsunagari:
    kg, _ = Tsunagari.build(None, tmp_path_factory.mktemp("browser") / "store", embed=True, model="hashing")
    return kg


@pytest.fixture(scope="module")
def url(kg) -> str:
    with serve_in_thread(create_app(kg, timeout=10, max_rows=10_000, processes=1)) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing — install Debian's Chromium: apt-get install -y chromium "
                    "(do not run `playwright install`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def problems() -> list[str]:
    """Console errors of the page (a test that expects one removes it)."""
    return []


@pytest.fixture
def page(browser, problems):
    context = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844})   # a phone
    page = context.new_page()
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    context.close()
    assert not problems, problems      # no CSP violations, no script errors (there are no scripts)


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_search_then_click_through_to_similar_projects(page, url, kg):
    from playwright.sync_api import expect

    page.goto(url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    page.fill("input[name=q]", "不登校の中学生の居場所")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/\?q="))
    results = page.locator("ol.results > li.result")
    expect(results.first).to_be_visible()
    assert results.count() >= 3
    target = page.locator(f'li.result:has(a[href="/project/{SCHOOL_REFUSAL}"])')
    expect(target.locator("ul.why")).to_contain_text("共通の対象者")          # reasons are shown
    expect(target.locator("ul.why")).to_contain_text("School non-attendance")
    assert fits_the_screen(page)

    target.locator("h3 a").click()
    page.wait_for_url(f"**/project/{SCHOOL_REFUSAL}")
    expect(page.locator("h1")).to_have_text(kg.project(SCHOOL_REFUSAL)["title"])
    expect(page.locator("table")).to_contain_text("石巻市")
    assert fits_the_screen(page)

    similar = page.locator("ol.results li.result h3 a").first
    href = similar.get_attribute("href")
    similar.click()
    page.wait_for_url(f"**{href}")
    expect(page.locator("h1")).to_have_text(kg.project(href.rsplit("/", 1)[1])["title"])


def test_filters_work_without_javascript(page, url, kg):
    from playwright.sync_api import expect

    page.goto(url + "/")
    page.click("summary")                                   # <details>: opens without scripts
    page.select_option("select[name=target_group]", "older-men")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"target_group=older-men"))
    expected = kg.projects(target_group="older-men")
    expect(page.locator("ol.results > li.result")).to_have_count(len(expected))


def test_unknown_project_page_suggests(page, url, problems):
    response = page.goto(url + "/project/cao-kodoku-npo-model-fy2024-35")
    assert response.status == 404
    problems[:] = [p for p in problems if "404" not in p]     # the page itself, as expected
    page.locator("ul a").first.click()
    page.wait_for_url("**/project/cao-kodoku-npo-model-fy2024-035")
