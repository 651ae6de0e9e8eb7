"""What chat frontends (Open WebUI) send and read, driven with the official openai client over a
real socket: long chats with tool definitions, an over-long earlier turn, sources and
annotations, the passage page, task prompts, and the 401 that says where the key goes."""
from __future__ import annotations

import json

import httpx
import openai
import pytest

from docqa.service.api import create_app
from tests.serving import live_server

from .conftest import make_settings

KEY = "fr0ntend-key"
QUESTIONS = ["中国的外汇储备有多少？", "“一带一路”倡议是什么时候提出的？", "习近平在哪里提出了“丝绸之路经济带”？",
             "应该如何推进国际产能合作？", "其他国家的产能合作政策有哪些经验？", "产能过剩的原因是什么？"]


def open_webui_tools(n: int = 36, size: int = 720) -> list[dict]:
    """Tool definitions the size of Open WebUI's built-in set (36 tools, about 26 KB)."""
    tools = []
    for i in range(n):
        desc = f"Built-in tool number {i}: " + "searches, reads or writes the user's notes and knowledge. " * 8
        tools.append({"type": "function", "function": {
            "name": f"builtin_tool_{i}", "description": desc[:size - 200],
            "parameters": {"type": "object", "properties": {
                "query": {"type": "string", "description": "what to look for"},
                "count": {"type": "integer", "description": "how many results"}}, "required": ["query"]}}})
    return tools


@pytest.fixture(scope="module")
def keyed(book_index, cache_dir, searcher):
    """A server with an API key and the default body limits, on a real socket."""
    app = create_app(make_settings(book_index, cache_dir, api_key=KEY), searcher)
    with live_server(app) as base:
        yield base
    assert app.state.docqa.internal_errors == 0


def client_for(base: str, sizes: list[int] | None = None, key: str = KEY) -> openai.OpenAI:
    hooks = {"request": [lambda r: sizes.append(len(r.content))]} if sizes is not None else {}
    http = httpx.Client(trust_env=False, timeout=120, event_hooks=hooks)
    return openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, http_client=http)


def test_a_thirteen_turn_chat_with_open_webui_tool_definitions_is_answered(keyed):
    sizes: list[int] = []
    client = client_for(keyed, sizes)
    tools = open_webui_tools()
    assert 24_000 < len(json.dumps(tools)) < 28_000
    messages: list[dict] = [{"role": "system", "content": "You are a helpful assistant."}]
    for turn in range(13):
        messages.append({"role": "user", "content": QUESTIONS[turn % len(QUESTIONS)]})
        reply = client.chat.completions.create(model="docqa", messages=messages, tools=tools)
        content = reply.choices[0].message.content
        assert content and "[1]" in content, content
        messages.append({"role": "assistant", "content": content})
    assert max(sizes) > 65_536, sizes  # over DOCQA_MAX_BODY_BYTES, which still holds for the other routes
    r = httpx.post(keyed + "/ask", json={"question": "外汇", "pad": "x" * 70_000},
                   headers={"Authorization": f"Bearer {KEY}"}, trust_env=False)
    assert r.status_code == 413 and "DOCQA_MAX_BODY_BYTES" in r.json()["detail"]


def test_the_chat_body_has_its_own_limit(book_index, cache_dir, searcher):
    app = create_app(make_settings(book_index, cache_dir, max_chat_body_bytes=5_000), searcher)
    with live_server(app) as base:
        client = client_for(base)
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(model="docqa", messages=[{"role": "user", "content": "外汇"}],
                                           tools=open_webui_tools())
        assert info.value.status_code == 413 and "DOCQA_MAX_CHAT_BODY_BYTES" in str(info.value)


def test_an_over_long_earlier_message_does_not_poison_the_chat(keyed):
    client = client_for(keyed)
    long = "请详细说明" + "中国与周边国家的产能合作情况，" * 80
    assert len(long) > 1000
    messages = [{"role": "user", "content": long}, {"role": "assistant", "content": "……"},
                {"role": "user", "content": "中国的外汇储备有多少？"}]
    reply = client.chat.completions.create(model="docqa", messages=messages)
    assert "4 万亿美元" in reply.model_extra["answer"]["text"]

    follow = [{"role": "user", "content": long}, {"role": "assistant", "content": "……"},
              {"role": "user", "content": "那是哪一年？"}]
    with pytest.raises(openai.UnprocessableEntityError) as info:
        client.chat.completions.create(model="docqa", messages=follow)
    said = info.value.body["message"]
    assert said.startswith("这个追问") and "上一个问题" in said and f"{len(long)} 个字" in said, said

    with pytest.raises(openai.UnprocessableEntityError) as info:
        client.chat.completions.create(model="docqa", messages=[{"role": "user", "content": long}])
    assert info.value.body["message"].startswith(f"这个问题有 {len(long)} 个字"), info.value.body
    english = "Please explain " + "the capacity cooperation with neighbouring countries, " * 30
    with pytest.raises(openai.UnprocessableEntityError) as info:
        client.chat.completions.create(model="docqa", messages=[{"role": "user", "content": english}])
    assert info.value.body["message"].startswith("Your question is"), info.value.body


def _sources_match(sources: list[dict], citations: list[dict]) -> None:
    assert len(sources) == len(citations) > 0
    for src, c in zip(sources, citations):
        url = src["metadata"][0]["source"]
        assert src["source"]["id"] == url and url.endswith("/read/" + c["passage_id"])
        assert src["metadata"][0]["source_url"] == url and src["document"] == [c["text"]]
        label = src["source"]["name"]
        assert label.startswith(f"《{c['title']}》") and " › ".join(c["heading"].split(" › ")[:2]) in label


def test_citations_reach_open_webui_as_sources_and_annotations(keyed):
    client = client_for(keyed)
    messages = [{"role": "user", "content": "中国的外汇储备有多少？"}]
    done = client.chat.completions.create(model="docqa", messages=messages)
    content, citations = done.choices[0].message.content, done.model_extra["citations"]
    _sources_match(done.model_extra["sources"], citations)
    notes = done.choices[0].message.annotations
    assert [a.type for a in notes] == ["url_citation"] * len(citations)
    for n, a in enumerate(notes, 1):
        assert content[a.url_citation.start_index:a.url_citation.end_index] == f"[{n}]"
        assert a.url_citation.url == done.model_extra["sources"][n - 1]["source"]["url"]
    assert done.usage and done.usage.completion_tokens > 0 and done.usage.total_tokens > done.usage.prompt_tokens

    chunks = list(client.chat.completions.create(model="docqa", messages=messages, stream=True))
    events = [c.model_extra["event"] for c in chunks if "event" in (c.model_extra or {})]
    assert all(e["type"] == "source" for e in events)
    _sources_match([e["data"] for e in events], citations)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == content
    streamed_notes = [a for c in chunks for a in (c.choices[0].delta.model_extra or {}).get("annotations", [])]
    assert [a["url_citation"]["url"] for a in streamed_notes] == [a.url_citation.url for a in notes]
    assert chunks[-1].usage and chunks[-1].usage.completion_tokens == done.usage.completion_tokens

    # with a key set, the page is a shell that never holds the text (the key never goes in a URL)
    page = httpx.get(notes[0].url_citation.url, trust_env=False)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert citations[0]["text"][:30] not in page.text and "docqa.apiKey" in page.text
    assert httpx.get(keyed + "/passages/" + citations[0]["passage_id"], trust_env=False).status_code == 401


def test_the_passage_page_is_readable_in_a_browser_without_a_key(client):
    body = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "中国的外汇储备有多少？"}]}).json()
    first = body["citations"][0]
    page = client.get(body["sources"][0]["source"]["url"].replace("http://testserver", ""))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = " ".join(first["text"].split()[:1])[:20]
    assert text in page.text and first["heading"].split(" › ")[0] in page.text
    passage = client.get("/passages/" + first["passage_id"]).json()
    for neighbour in (passage["prev_id"], passage["next_id"]):
        if neighbour:
            assert f"/read/{neighbour}" in page.text
    missing = client.get("/read/no-such-passage")
    assert missing.status_code == 404 and "no-such-passage" in missing.text
    hostile = client.get("/read/%3C%2Fscript%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert "<script>alert(1)" not in hostile.text


TITLE_TASK = """### Task:
Generate a concise, 3-5 word title with an emoji summarizing the chat history.
### Guidelines:
- The title should clearly represent the main theme or subject of the conversation.
- Write the title in the chat's primary language; default to English if multilingual.
### Output:
JSON format: { "title": "your concise title here" }
### Examples:
- { "title": "📉 Stock Market Trends" },
### Chat History:
<chat_history>
USER: %s
ASSISTANT: %s
</chat_history>"""

TAGS_TASK = """### Task:
Generate 1-3 broad tags categorizing the main themes of the chat history, along with 1-3 more specific subtopic tags.

### Guidelines:
- Start with high-level domains (e.g. Science, Technology, Philosophy, Arts, Politics, Business, Health, Sports, Entertainment, Education)
- Use the chat's primary language; default to English if multilingual

### Output:
JSON format: { "tags": ["tag1", "tag2", "tag3"] }

### Chat History:
<chat_history>
USER: %s
ASSISTANT: %s
</chat_history>"""

FOLLOW_UP_TASK = """### Task:
Suggest 3-5 relevant follow-up questions or prompts that the user might naturally ask next in this conversation as a **user**, based on the chat history, to help continue or deepen the discussion.
### Guidelines:
- Use the conversation's primary language; default to English if multilingual.
- Response must be a JSON array of strings, no extra text or formatting.
### Output:
JSON format: { "follow_ups": ["Question 1?", "Question 2?", "Question 3?"] }
### Chat History:
<chat_history>
USER: %s
ASSISTANT: %s
</chat_history>"""


def test_open_webui_task_prompts_are_answered_from_the_outline_not_searched(keyed, searcher):
    client = client_for(keyed)
    question = "中国的外汇储备有多少？"
    reply = client.chat.completions.create(model="docqa", messages=[{"role": "user", "content": question}])
    content = reply.choices[0].message.content
    cited = reply.model_extra["citations"]
    chapters = {(c.title or c.heading).strip(): c for d in searcher.documents for c in d.chapters}

    def task(template: str, stream: bool = False) -> dict:
        prompt = template % (question, content)
        assert len(prompt) > 1000  # over the question limit: a search would refuse it
        messages = [{"role": "user", "content": prompt}]
        if stream:
            chunks = list(client.chat.completions.create(model="docqa", messages=messages, stream=True))
            assert not any("citations" in (c.model_extra or {}) for c in chunks)
            return json.loads("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))
        done = client.chat.completions.create(model="docqa", messages=messages)
        assert "citations" not in done.model_extra and "retrieval_query" not in done.model_extra
        return json.loads(done.choices[0].message.content)

    title = task(TITLE_TASK)["title"]
    assert title and title in question and len(title) <= 20
    assert task(TITLE_TASK, stream=True)["title"] == title

    tags = task(TAGS_TASK)["tags"]
    assert tags and all(t in chapters for t in tags)
    assert {c["chapter_title"] for c in cited if c["chapter_title"]} & set(tags)

    follow_ups = task(FOLLOW_UP_TASK)["follow_ups"]
    assert 1 <= len(follow_ups) <= 3
    order = [c for d in searcher.documents for c in d.chapters if c.in_corpus]
    near = [c for t in tags for c in order[order.index(chapters[t]):order.index(chapters[t]) + 2]]
    headings = {h for c in near for s in c.sections for h in [s.title, *(x.title for x in s.subsections)]}
    for f in follow_ups:
        named = f.removeprefix("“").removesuffix("”讲了什么？")
        assert named in headings and named not in content, (f, headings)


def test_a_wrong_key_says_what_to_set_where(keyed):
    with pytest.raises(openai.AuthenticationError) as info:
        client_for(keyed, key="not-the-key").models.list()
    said = str(info.value)
    assert "wrong API key" in said and "DOCQA_API_KEY" in said and "Open WebUI" in said and "Connections" in said
    r = httpx.get(keyed + "/v1/models", headers={"Authorization": "Token abc"}, trust_env=False)
    assert r.status_code == 401 and "Bearer" in r.json()["error"]["message"] and "abc" not in r.json()["error"]["message"]
