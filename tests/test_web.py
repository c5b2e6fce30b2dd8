"""The web pages in real headless Chromium (Debian's package), driven by Playwright.

Screenshots of each page go to test-artifacts/ (or $STORYLINK_ARTIFACTS). Without
/usr/bin/chromium the tests skip, unless STORYLINK_REQUIRE_BROWSER is set (CI sets it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .test_serve import example

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(
    os.environ.get("STORYLINK_ARTIFACTS", Path(__file__).parents[1] / "test-artifacts")
)
# as root, offline: no sandbox, and no background connections the closed network would refuse
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("STORYLINK_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        tab = browser.new_page(viewport={"width": 1200, "height": 900})
        yield tab
        browser.close()


def test_story_list_and_story_page(page: Any, served: str) -> None:
    page.goto(f"{served}/")
    items = page.locator("li.story")
    assert items.count() >= 5
    assert "Marseille" in page.inner_text("ol.stories")
    page.screenshot(path=str(ARTIFACTS / "stories.png"), full_page=True)

    page.fill("input[name=language]", "ar")
    page.click("button[type=submit]")
    assert page.locator("li.story").count() == 2
    quake = page.locator("a.headline", has_text="Izmir")
    quake.first.click()
    page.wait_for_url("**/story/*")
    assert "Izmir" in page.inner_text("h1")
    arabic = page.locator('td[lang="ar"]').first
    assert arabic.get_attribute("dir") == "auto"
    assert arabic.evaluate("e => getComputedStyle(e).direction") == "rtl"  # rendered right-to-left
    assert "İzmir" in page.inner_text("table.entities") or "Izmir" in page.inner_text(
        "table.entities"
    )
    assert page.locator("section.language").count() == 6
    beyond = page.locator('section.beyond[lang="ar"] li').first  # what the headline lacks
    assert beyond.evaluate("e => getComputedStyle(e).direction") == "rtl"
    page.screenshot(path=str(ARTIFACTS / "story.png"), full_page=True)


def test_compare_form_english_and_arabic(page: Any, served: str) -> None:
    english, arabic = example("izmir-quake-en"), example("izmir-quake-ar")
    page.goto(f"{served}/compare")
    page.fill("input[name=a_title]", english["title"])
    page.fill("textarea[name=a_text]", english["text"])
    page.fill("input[name=b_title]", arabic["title"])
    page.fill("textarea[name=b_text]", arabic["text"])
    page.click("button[type=submit]")
    page.wait_for_selector("p.verdict", timeout=120_000)
    assert page.inner_text("p.verdict") == "SAME STORY"
    assert page.locator("table.scores td").count() == 7
    shared = page.inner_text("table.shared")
    assert "Izmir" in shared or "İzmir" in shared
    aligned = page.locator("table.aligned tr")
    assert aligned.count() >= 3  # header + sentence pairs
    cell = page.locator('table.aligned td[lang="ar"]').first
    assert cell.evaluate("e => getComputedStyle(e).direction") == "rtl"
    only_in_english = page.inner_text("#only-in-a")
    assert "Only in A" in only_in_english and "without a counterpart" in only_in_english
    assert page.locator("#only-in-a li").count() >= 1
    only_arabic = page.locator('#only-in-b li[lang="ar"]').first  # a café owner's quote
    assert only_arabic.evaluate("e => getComputedStyle(e).direction") == "rtl"
    page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)

    page.goto(f"{served}/compare")
    page.click("button[type=submit]")  # nothing given: the error speaks of the form's fields
    assert page.inner_text("p.error") == "Article A: give a stored article id, or paste its text"


def test_api_docs_render_offline(page: Any, served: str) -> None:
    """/docs (Swagger UI) and /redoc load their scripts from the server, not from a CDN."""
    elsewhere: list[str] = []

    def only_local(route: Any) -> None:
        if route.request.url.startswith(served):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    try:
        page.goto(f"{served}/docs")
        page.wait_for_selector(".opblock", timeout=30_000)
        summaries = page.locator(".opblock-summary-path").all_inner_texts()
        assert {"/stories", "/stories/{story_id}", "/articles", "/compare"} <= {
            s.replace("\u200b", "") for s in summaries
        }
        page.locator(".opblock-summary-path", has_text="/health").first.click()
        page.wait_for_selector(".responses-wrapper", timeout=10_000)
        assert "articles" in page.inner_text(".responses-wrapper")  # HealthOut's fields
        page.screenshot(path=str(ARTIFACTS / "docs.png"), full_page=False)
        page.goto(f"{served}/redoc")
        page.wait_for_selector("text=Score two articles", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "redoc.png"), full_page=False)
    finally:
        page.unroute("**/*")
    assert elsewhere == []
