"""The HTTP service: JSON API, OpenAI-compatible chat, and the reader's chat page.

`create_app` wires the parts: models in `schemas`, typed dependencies in `dependencies`, the
body guard and API key in `middleware`, error shapes in `http_errors`, the shared state and
the bounded model queue in `state`, and the routes by area in `routes/`. Every request error
is a 4xx JSON body that says what to change; the catch-all 500 exists for bugs.
"""
from __future__ import annotations

import errno
import functools
import logging
import socket
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route

from docqa.errors import DocqaError
from docqa.service import http_errors
from docqa.service.engine import open_searcher
from docqa.service.middleware import UPLOAD_SLACK, BearerAuth, BodyGuard, protocol_with_deadline
from docqa.service.library import Library
from docqa.service.mcp import HttpEndpoint as McpEndpoint, build_server
from docqa.service.routes.tools import tool_app
from docqa.service.tools import BookTools
from docqa.service.routes import documents, health, openai, outline, questions, read
from docqa.service.schemas import ErrorOut
from docqa.service.settings import Settings
from docqa.service.state import ServiceState

if TYPE_CHECKING:
    from docqa.index.search.searcher import Searcher

log = logging.getLogger("docqa.service")
STATIC = Path(__file__).resolve().parent / "static"


def create_app(settings: Settings, searcher: "Searcher | None" = None, *, model=None) -> FastAPI:
    """Without a searcher the index is opened (built on first start) in a thread, so the
    health checks answer while the model loads; `model`, a model already loaded, serves an
    empty shelf (--index on a new folder) without loading one."""
    state = ServiceState(settings, searcher)
    state.model = model
    state.use_opener(functools.partial(open_searcher, server=True))

    tools = BookTools(state.require, functools.partial(state.run, None), settings.max_question_chars)
    mcp_endpoint = McpEndpoint(functools.partial(build_server, tools), settings.host)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.limiter = anyio.CapacityLimiter(settings.workers_threads)
        if state.searcher is None and state.error is None and state.loading_since is None:
            threading.Thread(target=state.load, args=(functools.partial(open_searcher, server=True),),
                             name="docqa-load", daemon=True).start()
        app.state.docqa_library.start()
        try:
            async with mcp_endpoint.running():
                yield
        finally:
            await anyio.to_thread.run_sync(app.state.docqa_library.close)

    app = FastAPI(
        title="docqa",
        summary="Questions about a Chinese book, answered with cited passages",
        version="0.1.0",
        lifespan=lifespan,
        responses={code: {"model": ErrorOut} for code in (400, 401, 404, 408, 409, 413, 415, 422, 503)},
    )
    app.state.docqa = state
    app.state.docqa_library = Library(state)

    def count_bug() -> None:
        state.internal_errors += 1

    http_errors.install(app, on_bug=count_bug)
    app.add_middleware(BodyGuard, max_bytes=settings.max_body_bytes, timeout=settings.request_timeout,
                       uploads={"/documents": min(settings.max_upload_bytes, settings.max_file_bytes) + UPLOAD_SLACK},
                       limits={"/v1/chat/completions": (settings.max_chat_body_bytes, "DOCQA_MAX_CHAT_BODY_BYTES")})
    if settings.api_key:
        app.add_middleware(BearerAuth, api_key=settings.api_key)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )
    for area in (health, questions, outline, openai, documents, read):
        app.include_router(area.router)
    app.router.routes.append(Route("/mcp", endpoint=mcp_endpoint, methods=["GET", "POST", "DELETE"]))
    app.mount("/tools", tool_app(tools, on_bug=count_bug))

    @app.get("/", response_class=FileResponse, include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def server_config(settings: Settings, app: FastAPI | None = None, **overrides):
    """The uvicorn configuration `docqa serve` runs with: request-header and keep-alive deadlines
    (uvicorn alone never times out a client that trickles its headers), the httptools parser and
    uvloop where installed (uvicorn's "auto" loop), each cutting the server's CPU per request."""
    import uvicorn

    options = dict(host=settings.host, port=settings.port, log_level="info", timeout_graceful_shutdown=5,
                   timeout_keep_alive=settings.keep_alive_timeout,
                   http=protocol_with_deadline(settings.request_timeout))
    options.update(overrides)
    return uvicorn.Config(app if app is not None else create_app(settings), **options)


class PortBusy(DocqaError):
    """The address `docqa serve` was to listen on is taken or not this machine's."""


def listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound before anything loads, so a busy port is one line and exit 1
    (uvicorn alone logs its startup, then the bind error, and exits 3)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortBusy(f"port {port} on {host} is already in use (another docqa serve?)",
                           hint="stop that server, or choose another port with --port N (or DOCQA_PORT)") from None
        raise PortBusy(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                       hint="give a host this machine has with --host (or DOCQA_HOST)") from None
    return sock


def run(settings: Settings) -> None:
    """Serve until interrupted; the index loads (or is built) in the background after start."""
    import uvicorn

    from docqa.service import logs

    sock = listen(settings.host, settings.port)
    logs.setup()
    if settings.host not in ("127.0.0.1", "localhost", "::1") and not settings.api_key:
        log.warning("serving on %s without DOCQA_API_KEY: anyone who can reach it can query the book", settings.host)
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    log.info("docqa serving on http://%s:%d (Press CTRL+C to quit)", shown, sock.getsockname()[1])
    uvicorn.Server(server_config(settings)).run(sockets=[sock])
