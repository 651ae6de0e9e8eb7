"""The tool set over MCP, on the official `mcp` SDK (2.x, whose FastMCP is `MCPServer`).

Two transports: Streamable HTTP at `/mcp` of `docqa serve` (what Open WebUI's MCP connection
speaks), stateless (every request stands alone, so nothing is lost on a restart and any worker
answers), behind the server's API key like every other route; and stdio (`docqa mcp`) for
desktop MCP clients that start the server themselves. A DocqaError becomes the tool result's
error text (`isError`), saying what to change.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field

from docqa.errors import DocqaError
from docqa.service.questions import MAX_K, MIN_K
from docqa.service.tools import DESCRIPTIONS, BookTools

log = logging.getLogger("docqa.service")

INSTRUCTIONS = ("docqa answers questions from Chinese books with cited passages. Start with list_books or "
                "get_outline to see what is there; ask_book for an answer with its evidence; "
                "search_passages to gather passages; read_section and get_passage to read on. Cite passages "
                "by their heading and page.")

Doc = Annotated[str | None, Field(description="only this book (a doc_id from list_books)")]
Chapter = Annotated[int | None, Field(description="only this chapter number (from get_outline)")]


def build_server(tools: BookTools, name: str = "docqa"):
    """An MCPServer with the six read-only tools."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations

    async def said(call: Any) -> dict[str, Any]:
        """A DocqaError's message reaches the model (the SDK hides other exceptions' text)."""
        try:
            return await call
        except DocqaError as exc:
            raise ToolError(str(exc)) from None

    server = MCPServer(name, instructions=INSTRUCTIONS, version="1.0.0", log_level="WARNING")
    read_only = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)

    @server.tool(description=DESCRIPTIONS["list_books"], annotations=read_only)
    async def list_books() -> dict[str, Any]:
        return await said(tools.list_books())

    @server.tool(description=DESCRIPTIONS["search_passages"], annotations=read_only)
    async def search_passages(
        query: Annotated[str, Field(description="the question or keywords, in Chinese or English")],
        k: Annotated[int, Field(ge=MIN_K, le=MAX_K, description="how many passages to return")] = 5,
        doc_id: Doc = None, chapter: Chapter = None,
    ) -> dict[str, Any]:
        return await said(tools.search_passages(query, k, doc_id, chapter))

    @server.tool(description=DESCRIPTIONS["ask_book"], annotations=read_only)
    async def ask_book(
        question: Annotated[str, Field(description="the question, in Chinese or English")],
        k: Annotated[int, Field(ge=MIN_K, le=MAX_K, description="how many supporting passages")] = 3,
        doc_id: Doc = None, chapter: Chapter = None,
    ) -> dict[str, Any]:
        return await said(tools.ask_book(question, k, doc_id, chapter))

    @server.tool(description=DESCRIPTIONS["get_outline"], annotations=read_only)
    async def get_outline(doc_id: Annotated[str | None, Field(
            description="one book's outline (a doc_id from list_books); all books if omitted")] = None) -> dict[str, Any]:
        return await said(tools.get_outline(doc_id))

    @server.tool(description=DESCRIPTIONS["read_section"], annotations=read_only)
    async def read_section(
        chapter: Annotated[int, Field(description="chapter number, from get_outline")],
        section: Annotated[int | None, Field(description="section number within the chapter; whole chapter if omitted")] = None,
        doc_id: Annotated[str | None, Field(description="the book (a doc_id from list_books); the first if omitted")] = None,
    ) -> dict[str, Any]:
        return await said(tools.read_section(chapter, section, doc_id))

    @server.tool(description=DESCRIPTIONS["get_passage"], annotations=read_only)
    async def get_passage(
        passage_id: Annotated[str, Field(description="a passage_id from search_passages, ask_book or read_section")],
    ) -> dict[str, Any]:
        return await said(tools.get_passage(passage_id))

    return server


class HttpEndpoint:
    """The Streamable HTTP endpoint, an ASGI app for the main app's `/mcp` route.

    The SDK is built on the first request to `/mcp`, not at start: importing it and building the
    tools' schemas costs 1-4 s on 2 shared cores (AMD EPYC AVX2, `python -X importtime`), more than
    the rest of the server's start, and a server that no MCP client calls never needs it. That
    first request waits for it (as long as a client's timeout allows); the rest are served at once.

    The SDK's session manager runs once per instance, inside the app's lifespan; an app can be
    started more than once (tests, reloads), so each lifespan makes a fresh one (`running()`).
    DNS-rebinding protection (Host and Origin checks) is on when docqa listens on loopback, as
    the SDK sets it."""

    BUILD_TIMEOUT = 120.0

    def __init__(self, build: Callable[[], Any], host: str):
        """`build`: makes the MCPServer (see `build_server`), called once, in a worker thread."""
        self.build = build
        self.host = host
        self.server: Any = None
        self.handler: Any = None
        self._wanted: Any = None
        self._started: Any = None

    @contextlib.asynccontextmanager
    async def running(self):
        """For the app's lifespan: serves `/mcp` from the first request on, until the app stops."""
        import anyio

        self.handler = None
        self._wanted, self._started = anyio.Event(), anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._serve)
            try:
                yield
            finally:
                tg.cancel_scope.cancel()

    async def _serve(self) -> None:
        import anyio
        import anyio.to_thread

        try:
            await self._wanted.wait()
            try:
                if self.server is None:
                    self.server = await anyio.to_thread.run_sync(self.build)
                app = self.server.streamable_http_app(streamable_http_path="/mcp", stateless_http=True, host=self.host)
                handler = next(r.endpoint for r in app.routes if getattr(r, "path", None) == "/mcp")
            except Exception:  # a bug or a broken SDK install: /mcp says 503, the rest of the server serves on
                log.exception("the MCP endpoint could not be built")
                return
            async with self.server.session_manager.run():
                self.handler = handler
                self._started.set()
                await anyio.sleep_forever()
        finally:
            self.handler = None
            self._started.set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        import anyio

        if self.handler is None and self._wanted is not None:
            self._wanted.set()
            with anyio.move_on_after(self.BUILD_TIMEOUT):
                await self._started.wait()
        if self.handler is None:
            from docqa.service.http_errors import send_error

            await send_error(send, scope["path"], 503, "the MCP endpoint is not running yet; retry in a moment")
            return
        await self.handler(scope, receive, send)


def run_stdio(settings: Any) -> None:
    """`docqa mcp`: the tools over stdin/stdout, on the index the settings name (opened once)."""
    import functools
    import sys

    import anyio

    from docqa.service.engine import open_searcher

    with contextlib.redirect_stdout(sys.stderr):  # stdout is the MCP channel: progress goes to stderr
        searcher = open_searcher(settings)

    async def run(fn, *args, **kwargs):
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))

    server = build_server(BookTools(lambda: searcher, run, settings.max_question_chars))
    server.run("stdio")
