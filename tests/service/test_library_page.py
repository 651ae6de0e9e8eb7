"""The chat page's library panel in a real browser: upload a book with progress, see it listed,
ask within it, read its outline, remove it after confirming."""
from __future__ import annotations

import os
import shutil

import pytest

from docqa.index.search.searcher import Searcher
from docqa.service.api import create_app
from tests.bookgen import book

from .conftest import live_server, make_settings
from .test_page import CHROMIUM, browser, open_page  # noqa: F401 - the browser fixture
from .test_library import base_library, phrase_questions  # noqa: F401 - the library fixture

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent")]


def test_library_panel_upload_ask_within_outline_remove(browser, base_library, cache_dir, embedder, tmp_path):  # noqa: F811
    target = tmp_path / "library"
    shutil.copytree(base_library, target)
    upload = tmp_path / "小书.md"
    upload.write_text(book(3000, chapters_per_volume=2, sections=2, paragraphs=1, seed=71), encoding="utf-8")
    app = create_app(make_settings(target, cache_dir), Searcher.open(target, embedder=embedder, cache_dir=cache_dir))
    with live_server(app) as base:
        page, errors, outside = open_page(browser, base)
        page.wait_for_function("document.querySelectorAll('#scope option').length === 2")

        page.click("#library-toggle")
        assert page.locator("#library-list li").count() == 1
        page.set_input_files("#upload-file", str(upload))
        page.wait_for_function("document.getElementById('upload-note').textContent.startsWith('已添加')",
                               timeout=300_000)
        page.wait_for_function("document.querySelectorAll('#library-list li').length === 2")
        added = app.state.docqa.searcher.documents[-1]
        assert added.doc_id == "小书" and page.locator("#library-list li").nth(1).get_attribute("data-doc-id") == "小书"
        assert "书架 · 2 本书" in page.locator("#book-title").inner_text()

        page.select_option("#scope", "小书")  # ask within the new book only
        question = phrase_questions(app.state.docqa.searcher, "小书", 1)[0]
        page.fill("#question", question)
        page.press("#question", "Enter")
        page.locator(".msg.assistant .cite, .msg.assistant.refusal").first.wait_for(timeout=60_000)
        cites = page.locator(".msg.assistant .cite")
        assert cites.count() >= 1
        for i in range(cites.count()):
            assert f"《{added.title}》" in cites.nth(i).inner_text()

        page.locator("#library-list li").nth(1).locator(".outline-button").click()
        page.locator(".outline li").first.wait_for(timeout=15_000)
        assert page.locator("#reader-title").inner_text() == added.title
        first_chapter = added.chapters[0]
        assert first_chapter.title in page.locator(".outline").inner_text()

        page.once("dialog", lambda d: d.accept())
        page.locator("#library-list li").nth(1).locator(".remove-button").click()
        page.wait_for_function("document.querySelectorAll('#library-list li').length === 1", timeout=60_000)
        assert [d.doc_id for d in app.state.docqa.searcher.documents] == ["book"]
        assert page.locator("#scope option").count() == 2 and page.locator("#scope").input_value() == ""
        assert errors == [] and outside == []
    assert app.state.docqa.internal_errors == 0
