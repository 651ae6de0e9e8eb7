"""The read-only book tools: over MCP with the official `mcp` client (Streamable HTTP at /mcp
behind the API key, and stdio via `docqa mcp`), and as the OpenAPI tool server at /tools."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import anyio
import httpx
import pytest

from docqa.service.api import create_app
from tests.serving import live_server

from .conftest import make_settings

pytest.importorskip("mcp")

KEY = "t00ls-key"
REPO = Path(__file__).resolve().parents[2]
TOOLS = {"list_books", "search_passages", "ask_book", "get_outline", "read_section", "get_passage"}


@pytest.fixture(scope="module")
def keyed(book_index, cache_dir, searcher):
    app = create_app(make_settings(book_index, cache_dir, api_key=KEY), searcher)
    with live_server(app) as base:
        yield base
    assert app.state.docqa.internal_errors == 0


def payload(result) -> dict:
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


async def exercise(session) -> None:
    """List the tools and call each, with the errors a model can cause."""
    await session.initialize()
    listed = (await session.list_tools()).tools
    assert {t.name for t in listed} == TOOLS
    for t in listed:
        assert len(t.description) > 40 and t.annotations.read_only_hint and not t.annotations.destructive_hint
    books = payload(await session.call_tool("list_books", {}))["books"]
    assert books and books[0]["passages"] > 0
    doc = books[0]["doc_id"]
    outline = payload(await session.call_tool("get_outline", {"doc_id": doc}))
    chapter = next(c for c in outline["documents"][0]["chapters"] if c["in_corpus"] and c["sections"])
    found = payload(await session.call_tool("search_passages", {"query": "外汇储备", "k": 3}))["results"]
    assert len(found) == 3 and any("外汇储备" in r["text"] for r in found)
    asked = payload(await session.call_tool("ask_book", {"question": "中国的外汇储备有多少？"}))
    assert "4 万亿美元" in asked["answer"]["text"] and asked["citations"]
    section = payload(await session.call_tool("read_section", {"chapter": chapter["number"],
                                                               "section": chapter["sections"][0]["number"]}))
    assert section["passages"] and section["number"] == chapter["number"]
    pid = section["passages"][0]["passage_id"]
    passage = payload(await session.call_tool("get_passage", {"passage_id": pid}))
    assert passage["passage_id"] == pid and passage["text"] == section["passages"][0]["text"]

    bad = await session.call_tool("get_passage", {"passage_id": "no-such-passage"})
    assert bad.is_error and "no-such-passage" in bad.content[0].text and "does not exist" in bad.content[0].text
    bad = await session.call_tool("read_section", {"chapter": 99})
    assert bad.is_error and "99" in bad.content[0].text and "outline" in bad.content[0].text
    bad = await session.call_tool("search_passages", {"query": "   "})
    assert bad.is_error and "blank" in bad.content[0].text
    bad = await session.call_tool("search_passages", {"query": "外汇", "k": 500})
    assert bad.is_error and "k" in bad.content[0].text


def test_mcp_over_streamable_http_behind_the_key(keyed):
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    async def main() -> None:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {KEY}"})
        async with http, streamable_http_client(keyed + "/mcp", http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await exercise(session)

    anyio.run(main)
    r = httpx.post(keyed + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, trust_env=False,
                   headers={"Accept": "application/json, text/event-stream"})
    assert r.status_code == 401 and "DOCQA_API_KEY" in r.json()["detail"]


def test_mcp_over_stdio_with_docqa_mcp(book_index, cache_dir):
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCQA_")}
    env.update({"DOCQA_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", "")})
    params = StdioServerParameters(command=sys.executable, args=["-m", "docqa.service.cli", "mcp", "--index",
                                                                 str(book_index)], env=env, cwd=str(REPO))

    async def main() -> None:
        with open(os.devnull, "w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write) as session:
                    await exercise(session)

    anyio.run(main)


def test_openapi_tool_server_offers_exactly_the_six_tools(keyed):
    auth = {"Authorization": f"Bearer {KEY}"}
    spec = httpx.get(keyed + "/tools/openapi.json", headers=auth, trust_env=False).json()
    ops = {op["operationId"]: (path, op) for path, item in spec["paths"].items() for op in item.values()}
    assert set(ops) == TOOLS
    assert all(len(op["description"]) > 40 for _, op in ops.values())
    assert "servers" not in spec  # tool URLs are the server URL Open WebUI is given + the path
    r = httpx.post(keyed + "/tools/ask_book", json={"question": "中国的外汇储备有多少？"}, headers=auth, trust_env=False)
    assert r.status_code == 200 and "4 万亿美元" in r.json()["answer"]["text"]
    r = httpx.post(keyed + "/tools/get_passage", json={"passage_id": "nope"}, headers=auth, trust_env=False)
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    r = httpx.post(keyed + "/tools/search_passages", json={"k": 3}, headers=auth, trust_env=False)
    assert r.status_code == 422 and "query" in r.json()["detail"]
    assert httpx.get(keyed + "/tools/openapi.json", trust_env=False).status_code == 401
