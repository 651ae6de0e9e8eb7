"""What every request passes before a route sees it: the body guard, the API key, and the
connection-level deadline for request headers.

These are plain ASGI middlewares (not `BaseHTTPMiddleware`) so a refused request costs no
task and no body copy, and their errors take the same JSON shape as the routes' (see
`service.http_errors`).
"""
from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

import anyio
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from docqa.service.http_errors import send_error

log = logging.getLogger("docqa.service")
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/", "/favicon.ico"})
PUBLIC_PREFIXES = ("/static/", "/read/")  # /read/ pages carry no text when a key is set


class BodyGuard:
    """Reads the whole request body up front, so size, encoding and time are checked before any handler.

    The size is checked on Content-Length and again on the bytes that actually arrive (a chunked
    or lying client); a body that has not fully arrived `timeout` seconds after the request
    started (a client that sends fewer bytes than its Content-Length, or trickles them) gets 408
    and the connection is closed. Bodies are JSON whatever their Content-Type, so `curl -d` works.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float = 15.0, uploads: dict[str, int] | None = None,
                 limits: dict[str, tuple[int, str]] | None = None):
        """`uploads`: paths that take a file upload (POST), with their own byte limit. `limits`:
        paths whose JSON bodies have their own limit (and the setting that raises it), such as
        the chat, whose clients resend the whole conversation and their tool definitions."""
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.uploads = uploads or {}
        self.limits = limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if scope["method"] == "POST" and path in self.uploads:
            await self._upload(scope, receive, send, self.uploads[path])
            return
        max_bytes, setting = self.limits.get(path, (self.max_bytes, "DOCQA_MAX_BODY_BYTES"))
        too_big = (f"request body is over the {max_bytes}-byte limit; send a shorter question "
                   f"or fewer chat messages (or raise {setting})")
        if not await _within_declared_length(scope, send, max_bytes, too_big, {}):
            return
        chunks: list[bytes] = []
        size = 0
        outcome = "late"
        with anyio.move_on_after(self.timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > max_bytes:
                    outcome = "too big"
                    break
                chunks.append(chunk)
                if not message.get("more_body", False):
                    outcome = "complete"
                    break
        if outcome == "too big":
            await send_error(send, path, 413, too_big)
            return
        if outcome == "late":
            await send_error(send, path, 408,
                             f"the request body did not arrive within {self.timeout:g} seconds "
                             f"({size} bytes came); send the whole body at once (DOCQA_REQUEST_TIMEOUT)",
                             {"Connection": "close"})
            return
        body = b"".join(chunks)
        if body:
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as exc:
                await send_error(send, path, 400, f"request body is not valid UTF-8 (byte {body[exc.start]:#04x} "
                                                  f"at offset {exc.start}); send JSON encoded as UTF-8")
                return
            if scope["method"] in ("POST", "PUT", "PATCH"):
                scope = dict(scope)
                scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
                scope["headers"].append((b"content-type", b"application/json"))

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


    async def _upload(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """A file upload is streamed to the route (whose form parser spools it to disk), not held
        here: its size is checked on Content-Length and on the bytes as they arrive (413), and
        each piece must arrive within `timeout` seconds of the one before (408)."""
        too_big = (f"the upload is over the {limit - UPLOAD_SLACK:,}-byte limit for one file; upload a smaller "
                   "file, or raise DOCQA_MAX_UPLOAD_BYTES (and DOCQA_MAX_FILE_BYTES)")
        if not await _within_declared_length(scope, send, limit, too_big, {"Connection": "close"}):
            return
        size = 0

        async def counted() -> Message:
            nonlocal size
            message = None
            with anyio.move_on_after(self.timeout):
                message = await receive()
            if message is None:
                raise HTTPException(408, f"the upload stalled: nothing arrived for {self.timeout:g} seconds "
                                         f"({size} bytes came); send the file at once (DOCQA_REQUEST_TIMEOUT)",
                                    headers={"Connection": "close"})
            size += len(message.get("body", b""))
            if size > limit:
                raise HTTPException(413, too_big, headers={"Connection": "close"})
            return message

        await self.app(scope, counted, send)


async def _within_declared_length(scope: Scope, send: Send, limit: int, too_big: str,
                                  headers: dict[str, str]) -> bool:
    """Whether the Content-Length (if any) is a number within `limit`; if not, the error is sent."""
    declared = dict(scope["headers"]).get(b"content-length")
    if declared is None:
        return True
    try:
        length = int(declared)
    except ValueError:
        await send_error(send, scope["path"], 400, "Content-Length header is not a number")
        return False
    if length > limit:
        await send_error(send, scope["path"], 413, too_big, headers)
        return False
    return True


UPLOAD_SLACK = 64 * 1024
"""Room in an upload's body for the multipart framing around the file."""


class BearerAuth:
    """With DOCQA_API_KEY set, every route but the health checks and the page's own files needs the key.

    The scheme name is case-insensitive (RFC 9110: `bearer`, `BEARER`); two Authorization
    headers are ambiguous and refused with 400 rather than guessing which one counts.
    """

    def __init__(self, app: ASGIApp, api_key: str):
        self.app = app
        self.expected = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        given = [v for k, v in scope["headers"] if k == b"authorization"]
        path = scope["path"]
        how = "send the header 'Authorization: Bearer <DOCQA_API_KEY>'"
        if len(given) > 1:
            await send_error(send, path, 400, f"{len(given)} Authorization headers; {how} once")
            return
        where = ("The key is the DOCQA_API_KEY this docqa server was started with. Set it as the API key of "
                 "the client: Open WebUI: Admin Settings > Connections > OpenAI API, this connection's Key "
                 "(and the tool server's or MCP server's Bearer key); OpenAI SDK: api_key=...; MCP desktop "
                 "client: the 'Authorization: Bearer ...' header or DOCQA_API_KEY of 'docqa mcp'; curl: "
                 "-H 'Authorization: Bearer ...'")
        if not given:
            detail = f"missing API key: {how}. {where}"
        else:
            scheme, _, token = given[0].strip().partition(b" ")
            if scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.expected):
                await self.app(scope, receive, send)
                return
            if scheme.lower() != b"bearer":
                detail = f"wrong API key: the Authorization header does not start with 'Bearer '; {how}. {where}"
            else:
                detail = f"wrong API key: the Bearer token is not this server's key. {where}"
        await send_error(send, path, 401, detail, {"WWW-Authenticate": "Bearer"})


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class _HeaderDeadline:
    """A deadline on the request line and headers, for either of uvicorn's HTTP/1.1 protocols.

    uvicorn times out idle keep-alive connections but not a client that trickles its headers
    (or connects and sends nothing): each byte resets its timer. Here a request's headers must
    be complete within `header_timeout` seconds of its first byte (or of the connection); else
    the connection is closed. The body has its own deadline in `BodyGuard`. Both protocols start
    a request's `cycle` when its headers are complete, which is what tells the two states apart.
    """

    header_timeout: float = 15.0
    cycle: Any
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[misc]
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # type: ignore[misc]
        if self._waiting_for_headers():
            if self._header_deadline is None:
                self._arm()
        else:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._disarm()  # idle now: uvicorn's keep-alive timeout takes over until the next byte

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def _waiting_for_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self._waiting_for_headers() and not self.transport.is_closing():
            log.info("closing a connection whose request headers took over %gs", self.header_timeout)
            self.transport.close()


class DeadlineH11Protocol(_HeaderDeadline, H11Protocol):
    """uvicorn's pure-Python h11 protocol with the header deadline: the fallback without httptools."""


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools not installed
    HttpToolsProtocol = None
    DeadlineHttpToolsProtocol = None
else:
    class DeadlineHttpToolsProtocol(_HeaderDeadline, HttpToolsProtocol):  # type: ignore[no-redef]
        """uvicorn's httptools protocol (llhttp, in C) with the header deadline: a third of the
        CPU uvicorn spends per request with h11 (see BENCHMARKS.md, HTTP)."""

HTTP_PARSERS = ("auto", "httptools", "h11")


def protocol_with_deadline(seconds: float, parser: str = "auto") -> type[_HeaderDeadline]:
    """The HTTP/1.1 protocol `docqa serve` runs: httptools where installed ("auto"), else h11,
    with request headers due within `seconds`."""
    if parser not in HTTP_PARSERS:
        raise ValueError(f"unknown HTTP parser {parser!r}: use one of {', '.join(HTTP_PARSERS)}")
    if parser == "httptools" and DeadlineHttpToolsProtocol is None:
        raise ImportError("the httptools HTTP parser is not installed: pip install httptools")
    base = DeadlineH11Protocol if parser == "h11" or DeadlineHttpToolsProtocol is None else DeadlineHttpToolsProtocol
    return type(f"Docqa{base.__name__.removeprefix('Deadline')}", (base,), {"header_timeout": seconds})
