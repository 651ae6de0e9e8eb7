"""The page as a reader meets it, in real Chromium at desktop (1280) and phone (390) widths: an
empty shelf that the first upload fills, the page's own language, the sources of an answer, the
reader without repeated sentences, the phone layout, dark mode and a conversation kept across reloads."""
from __future__ import annotations

import os
import re
import time

import pytest
from fastapi.testclient import TestClient

from docqa.service.api import create_app
from tests.bookgen import book

from .conftest import live_server, make_settings
from .test_page import ARGS, CHROMIUM, _offline_guard

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent")]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
OFFSETS = re.compile(r"第 ?\d+ ?[–-] ?\d+ ?字|chars \d+")
# Words of the server's developer English that must never reach a reader of the page.
DEVELOPER = re.compile(r"embedding|Bearer|DOCQA_|index|Authorization|not a kind of file|loading", re.I)


@pytest.fixture(scope="module")
def pw_browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def new_page(browser, base: str, viewport=DESKTOP, **context_options):
    """A page in a Chinese browser unless `locale` says otherwise."""
    context = browser.new_context(viewport=viewport, **{"locale": "zh-CN", **context_options})
    page = context.new_page()
    errors: list[str] = []
    outside: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _offline_guard(page, base, outside)
    page.goto(base + "/")
    return page, errors, outside


def visible_text(page) -> str:
    return page.evaluate("document.body.innerText")


def ask(page, question: str, n: int):
    page.fill("#question", question)
    page.press("#question", "Enter")
    reply = page.locator(".msg.assistant:not(.pending)").nth(n)
    reply.wait_for(timeout=60_000)
    return reply


@pytest.fixture(scope="module")
def book_server(book_index, cache_dir, searcher):
    app = create_app(make_settings(book_index, cache_dir), searcher)
    with live_server(app) as base:
        yield base


# ---- 1. an empty shelf ------------------------------------------------------------------------

def test_new_folder_serves_an_empty_shelf_and_the_first_uploads_create_it(pw_browser, cache_dir, embedder, tmp_path):
    shelf = tmp_path / "new-shelf"
    files = []
    for i, seed in enumerate((81, 82)):
        f = tmp_path / f"书{i + 1}.md"
        f.write_text(book(2500, chapters_per_volume=2, sections=2, paragraphs=1, seed=seed), encoding="utf-8")
        files.append(f)
    app = create_app(make_settings(shelf, cache_dir), model=embedder)
    with live_server(app) as base:
        for viewport in (DESKTOP, PHONE):
            page, errors, outside = new_page(pw_browser, base, viewport)
            page.wait_for_function("document.getElementById('library-empty').offsetParent !== null", timeout=60_000)
            text = visible_text(page)
            assert "书架是空的，上传一本书开始" in text
            assert page.locator("#upload-button").is_visible()
            native = page.locator("#upload-file").bounding_box()
            assert native is None or native["width"] <= 1  # a styled button, not the bare native control
            assert "503" not in text and not DEVELOPER.search(text)
            if viewport is PHONE:
                break
            page.context.close()
        # Every state a row of a queued book shows: "排队中" and no progress bar (its share would be made up).
        page.evaluate("""() => { window.queuedBars = [];
            new MutationObserver(() => { for (const li of document.querySelectorAll('#upload-jobs li')) {
                const note = li.querySelector('.note'), bar = li.querySelector('progress');
                if (note && /排队/.test(note.textContent)) window.queuedBars.push(!!bar && bar.offsetParent !== null);
            } }).observe(document.getElementById('upload-jobs'),
                          {subtree: true, childList: true, characterData: true, attributes: true}); }""")
        page.set_input_files("#upload-file", [str(f) for f in files])  # two books at once
        assert not page.locator("#library-empty").is_visible()  # not "the shelf is empty" while books arrive
        # The first book is on the shelf (and can be asked) while the second is still being added.
        page.wait_for_function("""document.querySelectorAll('#library-list li').length === 1
                                  && document.querySelectorAll('#upload-jobs li.done').length === 1""", timeout=300_000)
        assert page.locator("#scope option").count() == 2
        page.wait_for_function("document.querySelectorAll('#upload-jobs li.done').length === 2", timeout=300_000)
        page.wait_for_function("document.querySelectorAll('#library-list li').length === 2", timeout=30_000)
        assert not DEVELOPER.search(page.locator("#upload-jobs").inner_text())
        queued = page.evaluate("window.queuedBars")
        assert queued and not any(queued), queued  # the second book waited, shown without a bar
        assert (shelf / "manifest.json").is_file()
        assert sorted(d.doc_id for d in app.state.docqa.searcher.documents) == ["书1", "书2"]
        # The examples come from this shelf's headings, not from the bundled book.
        page.wait_for_function("document.querySelectorAll('.example').length > 0")
        page.wait_for_timeout(1500)  # the shelf refreshes of the last upload have all landed
        assert page.locator("#examples").inner_text().count("例如") == 1  # drawn once, not once per refresh
        examples = page.locator(".example").all_inner_texts()
        headings = [s.title for d in app.state.docqa.searcher.documents for ch in d.chapters for s in [ch, *ch.sections]]
        assert any(h in e for e in examples for h in headings), (examples, headings[:5])
        assert not any("外汇" in e or "丝绸之路" in e for e in examples)
        assert errors == [] and outside == []
    assert app.state.docqa.internal_errors == 0


def test_the_key_button_shows_only_on_a_server_that_needs_a_key(pw_browser, book_server, book_index, cache_dir, searcher):
    page, errors, _ = new_page(pw_browser, book_server)
    page.wait_for_function("document.querySelectorAll('#scope option').length >= 2", timeout=60_000)
    assert not page.locator("#key-toggle").is_visible()
    assert "密钥" not in page.locator("header.top").inner_text()
    page.context.close()
    app = create_app(make_settings(book_index, cache_dir, api_key="page-key"), searcher)
    with live_server(app) as base:
        keyed, errors_keyed, _ = new_page(pw_browser, base)
        keyed.locator("#key-toggle").wait_for(state="visible", timeout=15_000)
        keyed.context.close()
    assert errors == [] and errors_keyed == []


def test_a_server_on_a_missing_folder_serves_the_shelf_docqa_add_makes_later(cache_dir, embedder, tmp_path):
    from docqa.index.store.shelf import add_documents

    shelf = tmp_path / "later"
    app = create_app(make_settings(shelf, cache_dir), model=embedder)
    with TestClient(app) as client:
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "empty"
        assert client.get("/documents").json()["documents"] == []
        assert client.get("/chapters").json() == {"documents": []}
        r = client.post("/ask", json={"question": "这本书讲什么？"})
        assert r.status_code == 409 and "empty" in r.json()["detail"]
        f = tmp_path / "后来的书.md"
        f.write_text(book(2500, chapters_per_volume=2, sections=2, paragraphs=1, seed=83), encoding="utf-8")
        add_documents(shelf, [f], embedder=embedder)  # what `docqa add` does, beside the server
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            listed = client.get("/documents").json()["documents"]
            if listed:
                break
            time.sleep(0.3)
        assert [d["doc_id"] for d in listed] == ["后来的书"]
        assert client.get("/readyz").json()["status"] == "ready"
    assert app.state.docqa.internal_errors == 0


# ---- 3. the page's language; sources; the reader ------------------------------------------------

def test_page_speaks_english_when_the_browser_does(pw_browser, book_server):
    page, errors, _ = new_page(pw_browser, book_server, locale="en-US")
    page.wait_for_function("document.querySelectorAll('.example').length > 0", timeout=60_000)
    assert page.evaluate("document.documentElement.lang") == "en"
    chrome = page.evaluate("""[...document.querySelectorAll('header button, label, #hint-text, #ask-button')]
                              .map(n => n.textContent).join(' ')""")
    assert "Shelf" in chrome and "New chat" in chrome and not re.search("[\u4e00-\u9fff]", chrome)
    assert page.get_attribute("#question", "placeholder").startswith("Type a question")
    page.context.close()
    zh, errors_zh, _ = new_page(pw_browser, book_server, locale="zh-CN")
    zh.wait_for_function("document.querySelectorAll('.example').length > 0", timeout=60_000)
    assert "书架" in zh.locator("header.top").inner_text() and "新对话" in zh.locator("header.top").inner_text()
    assert errors == [] and errors_zh == []
    zh.context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_answer_sources_refusal_and_reader(pw_browser, book_server, searcher, viewport):
    page, errors, outside = new_page(pw_browser, book_server, viewport)
    page.wait_for_function("document.querySelectorAll('#scope option').length >= 2", timeout=60_000)
    reply = ask(page, "中国的外汇储备有多少？", 0)
    answer = reply.locator(".answer").inner_text()
    cites = reply.locator(".cite")
    assert 1 <= cites.count() <= 3  # the sources that support the answer, not always five
    source = reply.locator(".cite.answer-source")
    assert source.count() == 1
    core = answer.split("[")[0].strip()[:15]
    assert core in source.locator(".snippet").inner_text()  # the snippet is centred on the quoted sentence
    assert not OFFSETS.search(visible_text(page))
    # The question and its answer are in view after asking, on a phone too.
    for node in (page.locator(".msg.user").last, reply.locator(".answer")):
        page.wait_for_function(
            """n => { const r = n.getBoundingClientRect(), log = document.getElementById('log').getBoundingClientRect();
                      return r.top >= log.top - 1 && r.top < log.bottom; }""", arg=node.element_handle(), timeout=5_000)
    # No focus ring in the accent colour is left on the question box after sending.
    ring = page.evaluate("""(() => { const s = getComputedStyle(document.getElementById('question'));
                             return s.outlineStyle + ' ' + s.outlineColor; })()""")
    accent = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()")
    assert ring.startswith("none") or accent not in ring

    refusal = ask(page, "What is the capital of Australia?", 1)
    assert "refusal" in refusal.get_attribute("class")
    assert refusal.locator(".cite").count() <= 1
    assert not refusal.locator(".cite").first.is_visible() if refusal.locator(".cite").count() else True

    source.click()
    page.locator(".reader .passage.current").wait_for(timeout=15_000)
    shown = page.locator(".reader .ptext").all_inner_texts()
    assert len(shown) > 3
    for before, after in zip(shown, shown[1:]):  # the sentence two passages share is shown once
        head = after.strip()[:12]
        assert len(head) < 6 or head not in before[-len(after):], (before[-60:], after[:60])
    assert not OFFSETS.search(page.locator("#reader").inner_text())
    assert errors == [] and outside == []
    page.context.close()


# ---- 4. phone layout, dark mode, the conversation ------------------------------------------------

def test_phone_header_and_shelf_fit(pw_browser, book_server):
    page, errors, _ = new_page(pw_browser, book_server, PHONE)
    page.wait_for_function("document.querySelectorAll('#scope option').length >= 2", timeout=60_000)
    title = page.locator("#book-title")
    assert title.evaluate("n => n.scrollWidth <= n.clientWidth + 1")  # the whole title, not “…
    assert title.bounding_box()["width"] > 100
    shelf = page.locator("#library-toggle")
    assert shelf.bounding_box()["height"] < 40  # 书架 on one line
    shelf.click()
    remove = page.locator("#library-list .remove-button").first
    remove.wait_for()
    # One read of the live element: the list is redrawn when the shelf is polled.
    right, fits = remove.evaluate("n => [n.getBoundingClientRect().right, n.scrollWidth <= n.clientWidth + 1]")
    assert right <= PHONE["width"] and fits
    assert errors == []
    page.context.close()


def test_dark_mode_follows_the_system(pw_browser, book_server):
    page, errors, _ = new_page(pw_browser, book_server, color_scheme="dark")
    page.wait_for_function("document.querySelectorAll('#scope option').length >= 2", timeout=60_000)
    bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    r, g, b = (int(x) for x in re.findall(r"\d+", bg)[:3])
    assert (r + g + b) / 3 < 60, bg
    page.context.close()


def test_conversation_survives_a_reload_and_a_new_chat_clears_it(pw_browser, book_server):
    page, errors, outside = new_page(pw_browser, book_server)
    page.wait_for_function("document.querySelectorAll('#scope option').length >= 2", timeout=60_000)
    reply = ask(page, "“一带一路”是什么时候提出的？", 0)
    first = reply.locator(".answer").inner_text()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    reply.locator(".copy").click()
    page.wait_for_function("document.querySelector('.msg.assistant .copy').textContent === '已复制'")
    page.reload()
    page.locator(".msg.assistant .answer").first.wait_for(timeout=15_000)
    assert page.locator(".msg.user").all_inner_texts() == ["“一带一路”是什么时候提出的？"]
    assert page.locator(".msg.assistant .answer").first.inner_text() == first
    # The follow-up after a reload still has its context.
    again = ask(page, "那是哪一年？", 1)
    assert re.search(r"\d{4}", again.locator(".answer").inner_text())
    page.click("#new-chat")
    assert page.locator(".msg.user").count() == 0
    page.reload()
    page.wait_for_function("document.querySelectorAll('#scope option').length >= 2", timeout=60_000)
    assert page.locator(".msg.user").count() == 0
    assert errors == [] and outside == []
    page.context.close()


def test_drop_files_on_the_page_uploads_them(pw_browser, cache_dir, embedder, tmp_path):
    shelf = tmp_path / "drop-shelf"
    app = create_app(make_settings(shelf, cache_dir), model=embedder)
    text = book(2500, chapters_per_volume=2, sections=2, paragraphs=1, seed=84)
    with live_server(app) as base:
        page, errors, _ = new_page(pw_browser, base)
        page.wait_for_function("document.getElementById('library-empty').offsetParent !== null", timeout=60_000)
        page.evaluate("""text => {
            const dt = new DataTransfer();
            dt.items.add(new File([text], '拖进来的书.md', {type: 'text/markdown'}));
            document.body.dispatchEvent(new DragEvent('dragenter', {dataTransfer: dt, bubbles: true}));
            document.body.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
        }""", text)
        page.wait_for_function("document.querySelectorAll('#library-list li').length === 1", timeout=300_000)
        assert [d.doc_id for d in app.state.docqa.searcher.documents] == ["拖进来的书"]
        assert errors == []
