"""Every HTTP error is one JSON line that says what to change.

`{"detail": "..."}` on docqa's own routes; OpenAI's `{"error": {"message", "type", "code"}}`
under `/v1/`, so OpenAI clients show the reason instead of a bare status code. DocqaError
kinds map to their `status_code`; the catch-all 500 exists for bugs.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

from docqa.errors import DocqaError
from docqa.service.questions import MAX_K, MIN_K

log = logging.getLogger("docqa.service")
OPENAI_PREFIX = "/v1/"
_CODES = {400: "bad_request", 401: "invalid_api_key", 404: "not_found", 405: "method_not_allowed",
          408: "request_timeout", 413: "request_too_large", 422: "invalid_value", 499: "client_closed_request",
          500: "internal_error", 503: "service_unavailable"}


def _printable(message: str) -> str:
    """Echoed input may hold lone surrogates, which UTF-8 cannot carry: show them as escapes."""
    return message.encode("utf-8", "backslashreplace").decode("utf-8")


def error_body(path: str, status: int, message: str) -> dict[str, Any]:
    message = _printable(message)
    if path.startswith(OPENAI_PREFIX):
        kind = ("authentication_error" if status == 401 else "server_error" if status >= 500
                else "invalid_request_error")
        return {"error": {"message": message, "type": kind, "code": _CODES.get(status, str(status))}}
    return {"detail": message}


def error_response(request: Request, status: int, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(request.url.path, status, message), status_code=status, headers=headers)


async def send_error(send: Send, path: str, status: int, message: str,
                     headers: dict[str, str] | None = None) -> None:
    """For middlewares, which answer before there is a Request or a route."""
    data = json.dumps(error_body(path, status, message), ensure_ascii=False).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


FIELD_HINTS = {
    ("body", "question"): "a non-empty string",
    ("query", "q"): "a non-empty question string",
    ("*", "k"): f"an integer from {MIN_K} to {MAX_K}",
    ("*", "chapter"): "a chapter number from GET /chapters",
    ("path", "n"): "a chapter number from GET /chapters",
    ("body", "n"): "1 (docqa gives one answer per question) or leave it out",
    ("path", "m"): "a section number from GET /chapters/{n}",
    ("body", "messages"): 'a list of {"role": "user", "content": "..."} objects',
}


def describe(err: dict[str, Any]) -> str:
    """One pydantic error as "field what; send hint"."""
    raw_loc = list(err.get("loc", ()))
    source = str(raw_loc[0]) if raw_loc else "body"
    # Only the first element names where the field was (a body field may be called "query").
    loc = raw_loc[1:] if raw_loc and raw_loc[0] in ("body", "query", "path", "header") else raw_loc
    field = "".join(f"[{x}]" if isinstance(x, int) else f".{x}" for x in loc).lstrip(".") or "body"
    kind, ctx = err.get("type", ""), err.get("ctx") or {}
    if kind == "missing":
        what = "is required"
    elif kind in ("int_type", "int_parsing", "int_from_float"):
        what = "must be an integer"
    elif kind in ("string_type", "string_unicode"):
        what = "must be a string"
    elif kind in ("bool_type", "bool_parsing"):
        what = "must be true or false"
    elif kind in ("greater_than_equal", "greater_than"):
        what = f"must be at least {ctx.get('ge', ctx.get('gt'))}"
    elif kind in ("less_than_equal", "less_than"):
        what = f"must be at most {ctx.get('le', ctx.get('lt'))}"
    elif kind == "literal_error":
        what = f"must be one of {ctx.get('expected')}"
    elif kind == "list_type":
        what = "must be a list"
    elif kind in ("model_attributes_type", "dict_type", "model_type"):
        what = "must be a JSON object"
    elif kind == "value_error":
        what = str(err.get("msg", "")).removeprefix("Value error, ")
    else:
        what = str(err.get("msg", "is invalid"))
    got = err.get("input")
    shown = isinstance(got, (int, float, bool)) or (isinstance(got, str) and len(got) <= 40)
    if shown and kind not in ("missing", "value_error"):
        what += f" (got {json.dumps(got, ensure_ascii=False)})"
    if field == "body":
        return f'body {what}: send a JSON object such as {{"question": "本书一共分为几章？"}}'
    name = str(loc[-1]) if loc else ""
    hint = FIELD_HINTS.get((source, name)) or FIELD_HINTS.get(("*", name), "")
    return f"{field} {what}" + (f"; send {hint}" if hint else "")


def validation_message(exc: RequestValidationError) -> tuple[int, str]:
    errors = list(exc.errors())
    for err in errors:
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "malformed")
            where = err.get("loc", ("body", 0))[-1]
            return 400, (f"request body is not valid JSON ({reason} at character {where}); "
                         'send a JSON object such as {"question": "本书一共分为几章？"}')
    return 422, "; ".join(dict.fromkeys(describe(e) for e in errors))


def install(app: FastAPI, on_bug: Any = None) -> None:
    """Register the handlers that turn every failure into `error_body`."""

    @app.exception_handler(RequestValidationError)
    async def _on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = validation_message(exc)
        return error_response(request, status, message)

    @app.exception_handler(DocqaError)
    async def _on_docqa(request: Request, exc: DocqaError) -> JSONResponse:
        retry = getattr(exc, "retry_after", None)
        return error_response(request, exc.status_code, str(exc),
                              {"Retry-After": str(retry)} if retry is not None else None)

    @app.exception_handler(StarletteHTTPException)
    async def _on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(request, exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(Exception)
    async def _on_bug(request: Request, exc: Exception) -> JSONResponse:
        if on_bug is not None:
            on_bug()
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(request, 500, "internal error; the server log has the details")
