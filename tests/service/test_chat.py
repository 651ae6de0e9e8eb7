"""OpenAI-compatible chat: follow-up rewriting, reply format, streaming, and the official client
against `docqa serve` running as a real process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from docqa.service import chat
from docqa.service.chat import ChatError, Turn

from tests.serving import free_port, stop
from .test_api import assert_cites_source, assert_error

REPO = Path(__file__).resolve().parents[2]
T = Turn


# ---- message handling (pure) ------------------------------------------------------------------

def test_content_text_accepts_strings_and_text_parts():
    assert chat.content_text("问题") == "问题"
    assert chat.content_text(None) == ""
    parts = [{"type": "text", "text": "第一句"}, {"type": "image_url", "image_url": {"url": "x"}},
             {"type": "text", "text": "第二句"}]
    assert chat.content_text(parts) == "第一句\n第二句"


def test_context_queries_join_the_nearest_earlier_questions_first():
    turns = [T("system", "你是助手。"), T("user", "中国的外汇储备有多少？"), T("assistant", "接近 4 万亿美元"),
             T("user", "占世界的多少？"), T("user", "那意味着什么？")]
    assert chat.context_queries(turns) == ["占世界的多少？ 那意味着什么？",
                                           "中国的外汇储备有多少？ 占世界的多少？ 那意味着什么？"]
    assert chat.context_queries([T("user", "中国的外汇储备有多少？")]) == []


def test_follow_up_is_decided_by_support_not_by_words():
    assert chat.needs_context(0.1) and not chat.needs_context(0.9) and not chat.needs_context(None)
    assert chat.joined_is_better(0.1, 0.9) and not chat.joined_is_better(0.1, 0.2)


def test_system_messages_never_become_the_question():
    with pytest.raises(ChatError, match="no user message"):
        chat.context_queries([T("system", "中国的外汇储备有多少？")])
    with pytest.raises(ChatError, match="no text"):
        chat.context_queries([T("user", "中国的外汇储备有多少？"), T("user", "  ")])


def test_streamed_pieces_join_to_the_reply():
    cites = [{"heading": "第一章 › 第二节", "source": "book.txt", "start": 10, "end": 20, "text": "一段\n\n引文。"}]
    reply = "".join(chat.reply_pieces("答案。", cites))
    assert reply == "答案。\n\n[1] 第一章 › 第二节 (book.txt, chars 10–20)\n> 一段"


def test_a_citation_is_quoted_by_its_relevant_sentences():
    text = ("第二节 背景\n\n产能过剩是世界性难题。外汇储备接近 4 万亿美元，约占世界的 1/3。"
            + "其他国家的情况各不相同。" * 40 + "工业利润率不高。")
    quote = chat.quote_sentences(text, "外汇储备接近 4 万亿美元，约占世界的 1/3。", "中国的外汇储备有多少？")
    assert "外汇储备接近 4 万亿美元" in quote
    assert "第二节 背景" not in quote and len(quote) <= chat.QUOTE_CHARS


# ---- the chat endpoint over the real index ----------------------------------------------------

def sse_chunks(text: str) -> list[dict]:
    events = [e for e in text.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events), events
    assert events[-1] == "data: [DONE]"
    return [json.loads(e[len("data: "):]) for e in events[:-1]]


def test_models_lists_docqa(client):
    r = client.get("/v1/models")
    assert r.status_code == 200
    assert [m["id"] for m in r.json()["data"]] == ["docqa"]


def test_completion_reply_names_chapter_and_section_and_quotes(client, book_text):
    r = client.post("/v1/chat/completions",
                    json={"model": "docqa", "messages": [{"role": "user", "content": "中国的外汇储备有多少？"}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and body["model"] == "docqa"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "stop"
    content = choice["message"]["content"]
    answer, citations = body["answer"], body["citations"]
    assert "4 万亿美元" in answer["text"]
    own = next(i for i, c in enumerate(citations, 1) if c["passage_id"] == answer["passage_id"])
    assert content.startswith(f"{answer['text']} [{own}]\n\n[1] ")
    for i, c in enumerate(citations, 1):
        head = f"[{i}] 《{c['title']}》 {c['heading']} ({c['source']}, chars {c['start']}–{c['end']})\n> "
        assert head in content
        assert_cites_source(book_text, c)
    source = next(c for c in citations if c["passage_id"] == answer["passage_id"])
    assert "第一章" in source["heading"] and "第二节" in source["heading"]
    assert "推进国际产能合作的背景与意义" in source["heading"]
    quote = content.split(f"({source['source']}, chars {source['start']}–{source['end']})\n> ")[1].split("\n\n")[0]
    assert answer["text"].rstrip("…")[:20] in quote.replace("\n", "")
    assert all(len(block.split("\n> ", 1)[1]) <= chat.QUOTE_CHARS for block in content.split("\n\n")[1:])


@pytest.mark.parametrize("question", ["本书的责任编辑是谁？", "中国的外汇储备有多少？", "What is the price of the book?"])
def test_the_plain_text_reply_marks_the_answers_own_source(client, question):
    """Frontends that show only the text (no citations field, no source events) still see which
    numbered source the answer came from: the answer line ends with its [n]."""
    messages = [{"role": "user", "content": question}]
    body = client.post("/v1/chat/completions", json={"messages": messages}).json()
    content, citations = body["choices"][0]["message"]["content"], body["citations"]
    own = next(i for i, c in enumerate(citations, 1) if c["passage_id"] == body["answer"]["passage_id"])
    first = content.split("\n\n")[0]
    assert first.endswith(f" [{own}]") and first[: -len(f" [{own}]")].strip() == body["answer"]["text"].strip()
    streamed = client.post("/v1/chat/completions", json={"messages": messages, "stream": True})
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in sse_chunks(streamed.text)) == content


def test_a_question_the_book_does_not_answer_gets_a_plain_refusal(client):
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    body = client.post("/v1/chat/completions", json={"messages": messages}).json()
    assert body["answer"] is None and body["citations"] == []
    assert body["refusal"].startswith("The book does not say")
    content = body["choices"][0]["message"]["content"]
    assert content.startswith(body["refusal"]) and chat.CLOSEST_EN in content
    assert body["closest"] and all(c["heading"] in content for c in body["closest"])
    r = client.post("/v1/chat/completions", json={"messages": messages, "stream": True})
    chunks = sse_chunks(r.text)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == content
    assert chunks[-1]["answer"] is None and chunks[-1]["citations"] == []


def test_streaming_concatenates_to_the_non_streamed_reply(client):
    messages = [{"role": "user", "content": "“一带一路”倡议是什么时候提出的？"}]
    plain = client.post("/v1/chat/completions", json={"messages": messages}).json()
    r = client.post("/v1/chat/completions", json={"messages": messages, "stream": True})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    chunks = sse_chunks(r.text)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == chunks[0]["id"] for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == plain["choices"][0]["message"]["content"]
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["citations"] == plain["citations"] and last["answer"] == plain["answer"]


def test_follow_up_is_answered_in_context(client):
    first = "习近平在哪里提出了“丝绸之路经济带”？"
    messages = [{"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": first},
                {"role": "assistant", "content": "在对中亚四国进行国事访问期间。"},
                {"role": "user", "content": [{"type": "text", "text": "那是哪一年？"}]}]
    body = client.post("/v1/chat/completions", json={"messages": messages}).json()
    assert body["retrieval_query"] == f"{first} 那是哪一年？"
    assert "2013" in body["answer"]["text"]
    source = next(c for c in body["citations"] if c["passage_id"] == body["answer"]["passage_id"])
    assert "2013年下半年" in source["text"]


def _chat(client, *questions):
    messages = []
    for q in questions[:-1]:
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": "……"}]
    messages.append({"role": "user", "content": questions[-1]})
    r = client.post("/v1/chat/completions", json={"messages": messages})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("earlier, question", [
    ("陆上丝绸之路是谁开辟的？", "这本书的定价是多少？"),  # "这本书" is the book, not the Silk Road
    ("书的定价是多少？", "作者是谁？"),  # short, and complete
    ("What is the capital of Australia?", "这本书的作者是谁？"),
])
def test_a_complete_question_in_a_chat_is_answered_as_its_own(client, earlier, question):
    alone = _chat(client, question)
    body = _chat(client, earlier, question)
    assert body["retrieval_query"] == question
    assert body["answer"] is not None and body["answer"] == alone["answer"]


@pytest.mark.parametrize("earlier, question", [
    ("中国的外汇储备有多少？", "它排名世界第几？"),
    ("中国的产能过剩体现在哪些行业？", "钢铁行业呢？"),
])
def test_a_turn_that_cannot_stand_alone_leans_on_the_one_before(client, earlier, question):
    body = _chat(client, earlier, question)
    assert body["retrieval_query"] == f"{earlier} {question}"
    assert body["answer"] is not None


@pytest.mark.parametrize("question", ["What is the capital of Australia?", "澳大利亚的首都是哪里？"])
def test_a_question_about_something_the_book_lacks_is_not_glued_to_the_one_before(client, question):
    body = _chat(client, "中国的外汇储备有多少？", question)
    assert body["retrieval_query"] == question and body["answer"] is None


def test_chat_docqa_extensions_k_and_chapter(client):
    body = client.post("/v1/chat/completions", json={
        "messages": [{"role": "user", "content": "产能过剩"}], "k": 2, "chapter": 1,
        "temperature": 0.2, "max_tokens": 100, "stream_options": {"include_usage": True}}).json()
    assert len(body["citations"]) == 2 and {c["chapter"] for c in body["citations"]} == {1}


@pytest.mark.parametrize("body, status, words", [
    ({"messages": []}, 400, ["no user message"]),
    ({"messages": [{"role": "system", "content": "中国的外汇储备有多少？"}]}, 400, ["no user message", "role 'user'"]),
    ({"messages": [{"role": "assistant", "content": "hi"}]}, 400, ["no user message"]),
    ({"messages": [{"role": "user", "content": "  "}]}, 400, ["no text"]),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}, 400,
     ["no text"]),
    ({"messages": [{"role": "user"}]}, 400, ["no text"]),
    ({}, 422, ["messages", "required"]),
    ({"messages": "中国的外汇储备有多少？"}, 422, ["messages", "list"]),
    ({"messages": [{"content": "hi"}]}, 422, ["messages[0].role", "required"]),
    ({"messages": [{"role": "robot", "content": "hi"}]}, 422, ["messages[0].role", "must be one of", "'user'"]),
    ({"messages": [{"role": "user", "content": 42}]}, 422, ["messages[0].content", "string or a list"]),
    ({"messages": [{"role": "user", "content": [{"text": "no type"}]}]}, 422, ["messages[0].content"]),
    ({"messages": [{"role": "user", "content": "外汇"}], "stream": "maybe"}, 422, ["stream", "true or false"]),
    ({"messages": [{"role": "user", "content": "外汇"}], "k": 0}, 422, ["k", "at least 1"]),
    ({"messages": [{"role": "user", "content": "外汇"}], "chapter": 5}, 404, ["目录", "page 103"]),
])
def test_chat_rejects_bad_requests(client, body, status, words):
    assert_error(client.post("/v1/chat/completions", json=body), status, *words)


def test_chat_rejects_invalid_json(client):
    r = client.post("/v1/chat/completions", content=b'{"messages": [', headers={"Content-Type": "application/json"})
    assert_error(r, 400, "not valid JSON")


# ---- `docqa serve` as a process, driven by the official openai client ---------------------------

@pytest.fixture
def served(book_index, cache_dir, tmp_path):
    port = free_port()
    log = open(tmp_path / "serve.log", "w+")  # a file, not a pipe nobody drains
    env = {**os.environ, "DOCQA_API_KEY": "test-key-123", "DOCQA_CACHE_DIR": str(cache_dir),
           "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "docqa.service.cli", "serve", "--port", str(port), "--index", str(book_index)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, f"docqa serve exited early:\n{(tmp_path / 'serve.log').read_text()}"
            assert time.monotonic() < deadline, "docqa serve did not become ready in 240 s"
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        yield base
    finally:
        stop(proc)
        log.close()


def test_openai_client_against_docqa_serve(served):
    from openai import AuthenticationError, OpenAI

    assert httpx.get(served + "/healthz").status_code == 200
    r = httpx.post(served + "/ask", json={"question": "中国的外汇储备有多少？"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"

    bad = OpenAI(base_url=served + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(AuthenticationError):
        bad.models.list()

    client = OpenAI(base_url=served + "/v1", api_key="test-key-123", max_retries=0, timeout=60)
    assert [m.id for m in client.models.list().data] == ["docqa"]

    messages = [{"role": "user", "content": "习近平在哪里提出了“丝绸之路经济带”？"}]
    done = client.chat.completions.create(model="docqa", messages=messages)
    reply = done.choices[0].message.content
    citations = done.model_extra["citations"]
    assert reply.startswith(done.model_extra["answer"]["text"])
    assert "[1] " in reply and "> " in reply and citations and citations[0]["chapter"] == 1

    stream = client.chat.completions.create(model="docqa", messages=messages, stream=True)
    chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == reply
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["citations"] == citations

    follow = messages + [{"role": "assistant", "content": reply}, {"role": "user", "content": "那是哪一年？"}]
    again = client.chat.completions.create(model="docqa", messages=follow)
    assert "2013" in again.model_extra["answer"]["text"]

    ask = httpx.post(served + "/ask", json={"question": "中国的外汇储备有多少？"},
                     headers={"Authorization": "Bearer test-key-123"})
    assert ask.status_code == 200 and "4 万亿美元" in ask.json()["answer"]["text"]


def test_openai_client_shows_the_reason_of_each_error(book_index, cache_dir, searcher):
    """Errors under /v1/ are OpenAI-shaped, so the official client's exception says what was wrong."""
    import openai

    from docqa.service.api import create_app
    from tests.serving import live_server

    from .conftest import make_settings

    app = create_app(make_settings(book_index, cache_dir, api_key="k3y"), searcher)
    with live_server(app) as base:
        client = openai.OpenAI(base_url=base + "/v1", api_key="k3y", max_retries=0, timeout=60)
        cases = [
            (openai.BadRequestError, 400, "no user message", {"messages": [{"role": "system", "content": "hi"}]}),
            (openai.UnprocessableEntityError, 422, "k must be at most 50",
             {"messages": [{"role": "user", "content": "外汇"}], "extra_body": {"k": 51}}),
            (openai.NotFoundError, 404, "not in the corpus",
             {"messages": [{"role": "user", "content": "外汇"}], "extra_body": {"chapter": 5}}),
            (openai.UnprocessableEntityError, 422, "n must be at most 1",
             {"messages": [{"role": "user", "content": "外汇"}], "n": 2}),
        ]
        for kind, status, words, kwargs in cases:
            with pytest.raises(kind) as info:
                client.chat.completions.create(model="docqa", **kwargs)
            err = info.value
            assert err.status_code == status
            assert words in str(err), str(err)
            assert err.code and err.type == "invalid_request_error"
        with pytest.raises(openai.AuthenticationError) as info:
            openai.OpenAI(base_url=base + "/v1", api_key="wrong", max_retries=0).models.list()
        assert "wrong API key" in str(info.value) and info.value.type == "authentication_error"
        # docqa's own routes keep {"detail": ...}
        r = httpx.post(base + "/ask", json={"question": ""}, headers={"Authorization": "Bearer k3y"},
                       trust_env=False)
        assert r.status_code == 422 and set(r.json()) == {"detail"}


TEA = """# 第一章 茶的起源

中国是茶的故乡。传说神农氏尝百草，日遇七十二毒，得茶而解之，这是关于茶最早的传说。

在西汉时期，王褒所写的《僮约》中有“烹荼尽具”“武阳买荼”的记载，说明当时四川一带已经有了茶叶市场。

三国时期，饮茶之风逐渐从巴蜀传到长江中下游地区。

# 第二章 唐代的茶

唐代是中国茶文化形成的重要时期。陆羽在公元七八〇年前后写成《茶经》，全书共三卷十章，是世界上第一部茶学专著。

《茶经》介绍了茶的起源、采制工具、煮茶方法和饮茶器具。后人因此尊称陆羽为“茶圣”。

唐代流行煎茶法，人们把茶饼碾成细末，放入沸水中煮饮。

# 第三章 宋代的点茶

宋代流行点茶法，把茶末放在茶盏中，用沸水冲点并用茶筅击拂，使茶汤表面形成白色的泡沫。

宋徽宗赵佶写有《大观茶论》，详细记述了点茶的技艺。当时文人之间盛行斗茶，比较茶汤的颜色和泡沫持久的时间。

福建建安的北苑贡茶在宋代最为有名，龙凤团茶是专供皇室饮用的茶饼。
"""

@pytest.fixture(scope="module")
def two_book_client(tmp_path_factory, embedder, cache_dir):
    """A shelf of the bundled book and a short made-up book on tea."""
    from docqa.corpus import bundled_files
    from fastapi.testclient import TestClient

    from docqa.index.search.searcher import Searcher
    from docqa.index.store.directory import build_index
    from docqa.ingest.pipeline import chunker_settings, load_corpus
    from docqa.service.api import create_app

    from .conftest import make_settings

    folder = tmp_path_factory.mktemp("two-books")
    (folder / "中国茶小史.md").write_text(TEA, encoding="utf-8")
    target = folder / "index"
    build_index(load_corpus([bundled_files()[0], folder / "中国茶小史.md"]), target, embedder,
                chunker=chunker_settings(), progress=False, say=None)
    app = create_app(make_settings(target, cache_dir), Searcher.open(target, embedder=embedder, cache_dir=cache_dir))
    with TestClient(app) as c:
        yield c


def test_within_one_book_a_question_about_what_only_another_book_has_is_not_glued(two_book_client):
    """Asked within the tea book, a word only the other book of the shelf uses (作者) makes
    the turn stand alone: it is refused, not answered with the earlier question's sentence (found
    on the fresh-clone walk of issue 22: "这本书的作者是谁？" got the 点茶 sentence)."""
    question = "这本书的作者是谁？"
    messages = [{"role": "user", "content": "宋代流行什么饮茶方法？"}, {"role": "assistant", "content": "……"},
                {"role": "user", "content": question}]
    tea = next(d["doc_id"] for d in two_book_client.get("/documents").json()["documents"] if d["source"].endswith(".md"))
    r = two_book_client.post("/v1/chat/completions", json={"messages": messages, "doc_id": tea})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["retrieval_query"] == question and body["answer"] is None
