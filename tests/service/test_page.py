"""The chat page in a real browser: ask, read the answer, open a citation in its chapter."""
from __future__ import annotations

import os

import pytest

from docqa.service.api import create_app

from .conftest import live_server, make_settings

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                 reason=f"{CHROMIUM} is absent: install Debian's chromium (apt-get install chromium)")]


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def _offline_guard(page, base: str, seen: list[str]) -> None:
    """The page must work offline: any request to another host is recorded and refused."""
    def route(r):
        if r.request.url.startswith(base):
            r.continue_()
        else:
            seen.append(r.request.url)
            r.abort()

    page.route("**/*", route)


def open_page(browser, base: str):
    """A desktop-sized page of the chat UI in a Chinese browser, offline, recording script errors
    and outside requests."""
    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    errors: list[str] = []
    outside: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _offline_guard(page, base, outside)
    page.goto(base + "/")
    return page, errors, outside


def test_ask_and_open_citation_in_its_chapter(browser, settings, searcher):
    app = create_app(settings, searcher)
    with live_server(app) as base:
        page, errors, outside = open_page(browser, base)
        page.wait_for_function("document.getElementById('book-title').textContent.includes('一带一路')")

        page.fill("#question", "中国的外汇储备有多少？")
        page.press("#question", "Enter")
        answer = page.locator(".msg.assistant .answer").first
        answer.wait_for(timeout=30_000)
        assert "4 万亿美元" in answer.inner_text()
        cites = page.locator(".msg.assistant .cite")
        assert cites.count() >= 1
        assert "第一章" in cites.first.inner_text()

        source = page.locator(".msg.assistant .cite.answer-source").first
        pid = source.get_attribute("data-passage-id")
        source.click()
        current = page.locator(".reader .passage.current")
        current.wait_for(timeout=15_000)
        assert current.get_attribute("data-passage-id") == pid
        assert "产能合作的背景与意义" in page.locator("#reader-title").inner_text()
        # The whole chapter is there, with the cited passage among its neighbours, highlighted.
        chapter_ids = [p.passage_id for p in searcher.passages if p.chapter == 1]
        shown = page.locator(".reader .passage").evaluate_all("ns => ns.map(n => n.dataset.passageId)")
        assert shown == chapter_ids
        assert "4 万亿美元" in current.locator("mark").inner_text()
        page.wait_for_function(
            """() => { const n = document.querySelector('.passage.current').getBoundingClientRect();
                       const b = document.getElementById('reader-body').getBoundingClientRect();
                       return n.top >= b.top - 1 && n.top < b.bottom; }""")

        next_id = chapter_ids[chapter_ids.index(pid) + 1] if pid != chapter_ids[-1] else None
        if next_id:
            page.click("#next-passage")
            page.wait_for_function(
                f"document.querySelector('.passage.current')?.dataset.passageId === {next_id!r}")

        # A follow-up keeps the conversation's context.
        page.fill("#question", "习近平在哪里提出了“丝绸之路经济带”？")
        page.press("#question", "Enter")
        page.locator(".msg.assistant .answer").nth(1).wait_for(timeout=30_000)
        page.fill("#question", "那是哪一年？")
        page.press("#question", "Enter")
        third = page.locator(".msg.assistant .answer").nth(2)
        third.wait_for(timeout=30_000)
        assert "2013" in third.inner_text()
        assert errors == [] and outside == []


def test_page_asks_for_the_api_key_and_remembers_it(browser, book_index, cache_dir, searcher):
    app = create_app(make_settings(book_index, cache_dir, api_key="page-key"), searcher)
    with live_server(app) as base:
        context = browser.new_context(locale="zh-CN")
        page = context.new_page()
        page.goto(base + "/")
        page.fill("#question", "中国的外汇储备有多少？")
        page.press("#question", "Enter")
        page.locator(".msg.assistant.error").wait_for(timeout=15_000)
        assert "API 密钥" in page.locator(".msg.assistant.error").inner_text()
        assert "Bearer" not in page.locator("body").inner_text()
        assert page.locator("#key-bar").is_visible()
        page.fill("#api-key", "page-key")
        page.click("#key-bar button[type=submit]")
        page.fill("#question", "中国的外汇储备有多少？")
        page.press("#question", "Enter")
        page.locator(".msg.assistant .answer").first.wait_for(timeout=30_000)
        assert "4 万亿美元" in page.locator(".msg.assistant .answer").first.inner_text()
        assert page.evaluate("localStorage.getItem('docqa.apiKey')") == "page-key"
        page.locator(".msg.assistant .cite").first.click()
        page.locator(".reader .passage.current").wait_for(timeout=15_000)

        again = context.new_page()  # a reload keeps the key
        again.goto(base + "/")
        again.fill("#question", "“一带一路”是什么时候提出的？")
        again.press("#question", "Enter")
        again.locator(".msg.assistant .answer").first.wait_for(timeout=30_000)
        context.close()
