"""The HTTP service: JSON API, OpenAI-compatible chat, and the reader's chat page.

Pydantic models live here and only here: the rest of docqa passes dataclasses. Every
request error is a 4xx JSON `{"detail": "..."}` that says what to change; the catch-all
500 exists for bugs, and the tests show no listed bad input reaches it.
"""
from __future__ import annotations

import functools
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import anyio
import anyio.to_thread
from fastapi import FastAPI, HTTPException, Path as PathParam, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docqa.service import chat
from docqa.service.engine import open_searcher
from docqa.service.settings import Settings

if TYPE_CHECKING:
    from docqa.index.search import Searcher

log = logging.getLogger("docqa.service")
STATIC = Path(__file__).resolve().parent / "static"
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/", "/favicon.ico"})
PUBLIC_PREFIXES = ("/static/",)
MAX_K = 50
T = TypeVar("T")


# ---- HTTP models -------------------------------------------------------------------------

class ErrorOut(BaseModel):
    detail: str


class AskIn(BaseModel):
    question: str = Field(description="the question, in Chinese or English")
    k: int = Field(5, ge=1, le=MAX_K, strict=True, description="how many passages to cite")
    chapter: int | None = Field(None, strict=True, description="only passages of this chapter")
    doc_id: str | None = Field(None, description="only passages of this document")

    @field_validator("question")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v


class AnswerOut(BaseModel):
    text: str
    passage_id: str | None


class _PassageFields(BaseModel):
    passage_id: str
    doc_id: str
    title: str
    chapter: int | None
    chapter_title: str | None
    section: str | None
    subsection: str | None
    heading: str = Field(description="chapter › section › subsection as the book prints them")
    source: str
    start: int = Field(description="character offset in the source text")
    end: int
    text: str


class CitationOut(_PassageFields):
    score: float


class AskOut(BaseModel):
    answer: AnswerOut | None = Field(description="null when the book does not answer the question")
    refusal: str | None = Field(None, description="on a refusal, saying so in the question's language")
    citations: list[CitationOut] = Field(description="the passages the answer rests on; empty on a refusal")
    closest: list[CitationOut] = Field(default_factory=list,
                                       description="on a refusal, the nearest passages (they do not answer)")


class SearchOut(BaseModel):
    results: list[CitationOut]


class PassageOut(_PassageFields):
    section_number: int | None
    heading_path: list[str]
    kind: str
    prev_id: str | None = Field(description="the passage before this one in reading order")
    next_id: str | None


class SubsectionOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    title: str


class SectionOutlineOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    number: int | None
    title: str
    subsections: list[SubsectionOut] = []


class ChapterOutlineOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    number: int
    title: str
    in_corpus: bool = Field(description="false: listed in the table of contents, text not in the corpus")
    toc_page: int | None = Field(description="page number printed in the table of contents")
    sections: list[SectionOutlineOut] = []


class FrontMatterOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    title: str


class DocumentOutlineOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    doc_id: str
    title: str
    front_matter: list[FrontMatterOut] = []
    chapters: list[ChapterOutlineOut] = []


class OutlineOut(BaseModel):
    documents: list[DocumentOutlineOut]


class ChapterPassageOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    passage_id: str
    doc_id: str
    chapter: int | None
    section: str | None
    section_number: int | None
    subsection: str | None
    heading: str
    source: str
    start: int
    end: int
    text: str


class ChapterOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    doc_id: str
    number: int
    title: str
    toc_page: int | None
    sections: list[SectionOutlineOut] = Field(description="the chapter's sections (only the one asked for, "
                                                          "under /sections/{m})")
    passages: list[ChapterPassageOut]


class HealthOut(BaseModel):
    status: str


class ReadyOut(BaseModel):
    status: str
    model: str
    documents: int
    passages: int


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelListOut(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Any = None

    @field_validator("content")
    @classmethod
    def _content(cls, v: Any) -> Any:
        if v is None or isinstance(v, str):
            return v
        if isinstance(v, list) and all(isinstance(p, dict) and isinstance(p.get("type"), str) for p in v):
            return [ContentPart.model_validate(p) for p in v]
        raise ValueError('must be a string or a list of parts like {"type": "text", "text": "..."}')


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str | None = None
    messages: list[ChatMessageIn]
    stream: bool = False
    k: int = Field(5, ge=1, le=MAX_K, strict=True, description="passages to cite (docqa extension)")
    chapter: int | None = Field(None, strict=True)
    doc_id: str | None = None


class ChatMessageOut(BaseModel):
    role: Literal["assistant"]
    content: str


class ChoiceOut(BaseModel):
    index: int
    message: ChatMessageOut
    finish_reason: str


class ChatOut(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChoiceOut]
    answer: AnswerOut | None = Field(description="null when the book does not answer the question")
    refusal: str | None = None
    citations: list[CitationOut]
    closest: list[CitationOut] = Field(default_factory=list)
    retrieval_query: str = Field(description="what was searched: the question, with earlier turns for a follow-up")


# ---- application state -------------------------------------------------------------------

class ServiceState:
    """The searcher, or why there is none yet; shared by every request."""

    def __init__(self, settings: Settings, searcher: "Searcher | None"):
        self.settings = settings
        self.searcher = searcher
        self.error: str | None = None
        self.loading_since: float | None = None
        self.limiter: anyio.CapacityLimiter | None = None
        self.internal_errors = 0

    def load(self, open_searcher: Callable[[Settings], "Searcher"]) -> None:
        self.loading_since = time.monotonic()
        try:
            self.searcher = open_searcher(self.settings)
        except Exception as exc:  # any failure is reported by /readyz, not raised into a dead thread
            log.exception("loading the index failed")
            self.error = f"{type(exc).__name__}: {exc}"

    def require(self) -> "Searcher":
        if self.searcher is not None:
            return self.searcher
        if self.error is not None:
            raise HTTPException(503, f"the index could not be loaded: {self.error}")
        waited = int(time.monotonic() - (self.loading_since or time.monotonic()))
        raise HTTPException(
            503, f"the index is still loading ({waited}s so far); retry shortly", headers={"Retry-After": "5"}
        )

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Model inference runs in worker threads so the event loop keeps serving."""
        if self.limiter is None:
            self.limiter = anyio.CapacityLimiter(max(1, self.settings.workers_threads))
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=self.limiter)


# ---- middleware --------------------------------------------------------------------------

async def _send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


class BodyGuard:
    """Reads the whole request body up front, so size and encoding are checked before any handler.

    The size is checked on Content-Length and again on the bytes that actually arrive (a
    chunked or lying client). Bodies are JSON whatever their Content-Type, so `curl -d` works.
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_big = {"detail": f"request body is over the {self.max_bytes}-byte limit; send a shorter question "
                             "or fewer chat messages (DOCQA_MAX_BODY_BYTES)"}
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await _send_json(send, 400, {"detail": "Content-Length header is not a number"})
                return
            if length > self.max_bytes:
                await _send_json(send, 413, too_big)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_json(send, 413, too_big)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as exc:
                await _send_json(send, 400, {"detail": f"request body is not valid UTF-8 (byte {body[exc.start]:#04x} "
                                                       f"at offset {exc.start}); send JSON encoded as UTF-8"})
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


class BearerAuth:
    """With DOCQA_API_KEY set, every route but the health checks and the page's own files needs the key."""

    def __init__(self, app: ASGIApp, api_key: str):
        self.app = app
        self.expected = f"Bearer {api_key}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or _is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization")
        if given is None:
            detail = "missing API key: send the header 'Authorization: Bearer <DOCQA_API_KEY>'"
        elif not hmac.compare_digest(given, self.expected):
            detail = "wrong API key: send the header 'Authorization: Bearer <DOCQA_API_KEY>' with the server's key"
        else:
            await self.app(scope, receive, send)
            return
        await _send_json(send, 401, {"detail": detail}, {"WWW-Authenticate": "Bearer"})


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


# ---- error messages ----------------------------------------------------------------------

FIELD_HINTS = {
    "question": "a non-empty string",
    "q": "a non-empty question string",
    "k": f"an integer from 1 to {MAX_K}",
    "chapter": "a chapter number from GET /chapters",
    "n": "a chapter number from GET /chapters",
    "m": "a section number from GET /chapters/{n}",
    "messages": 'a list of {"role": "user", "content": "..."} objects',
}


def _describe(err: dict[str, Any]) -> str:
    loc = [x for x in err.get("loc", ()) if x not in ("body", "query", "path", "header")]
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
    hint = FIELD_HINTS.get(str(loc[-1]) if loc else "", "")
    return f"{field} {what}" + (f"; send {hint}" if hint else "")


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    for err in errors:
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "malformed")
            where = err.get("loc", ("body", 0))[-1]
            return JSONResponse(
                {"detail": f"request body is not valid JSON ({reason} at character {where}); "
                           'send a JSON object such as {"question": "本书一共分为几章？"}'},
                status_code=400,
            )
    messages = list(dict.fromkeys(_describe(e) for e in errors))
    return JSONResponse({"detail": "; ".join(messages)}, status_code=422)


def _check_unicode(text: str, field: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise HTTPException(422, f"{field} contains a lone UTF-16 surrogate (an escape such as \\ud800 "
                                 "without its pair); send valid Unicode text") from None
    return text


def _check_question(text: str, settings: Settings, field: str) -> str:
    text = _check_unicode(text.strip(), field)
    if not text:
        raise HTTPException(422, f"{field} must not be blank; send a question such as “本书一共分为几章？”")
    if len(text) > settings.max_question_chars:
        raise HTTPException(
            422,
            f"{field} is {len(text)} characters; the limit is {settings.max_question_chars} "
            "(DOCQA_MAX_QUESTION_CHARS): shorten the question",
        )
    return text


def _check_scope(searcher: "Searcher", chapter: int | None, doc_id: str | None) -> None:
    """A filter naming no chapter or document would silently return nothing; say so instead."""
    if doc_id is not None:
        _document(searcher, doc_id)
    if chapter is not None:
        _find_chapter(searcher, chapter, doc_id)


def _document(searcher: "Searcher", doc_id: str | None):
    if doc_id is None:
        return searcher.documents[0]
    for doc in searcher.documents:
        if doc.doc_id == doc_id:
            return doc
    known = ", ".join(d.doc_id for d in searcher.documents[:10])
    raise HTTPException(404, f"doc_id {doc_id!r} is not in the corpus; known documents: {known}")


def _find_chapter(searcher: "Searcher", number: int, doc_id: str | None):
    from docqa.ingest.outline import ChapterNotFound, ChapterNotInCorpus, find_chapter

    if doc_id is not None:
        _document(searcher, doc_id)
    try:
        return find_chapter(searcher.documents, number, doc_id=doc_id)
    except ChapterNotInCorpus as exc:
        raise HTTPException(404, str(exc)) from exc
    except ChapterNotFound as exc:
        raise HTTPException(404, f"{exc}; see GET /chapters for the chapters there are") from exc


# ---- the app -----------------------------------------------------------------------------

def create_app(settings: Settings, searcher: "Searcher | None" = None) -> FastAPI:
    """Without a searcher the index is opened (built on first start) in a thread, so the
    health checks answer while the model loads."""
    state = ServiceState(settings, searcher)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.limiter = anyio.CapacityLimiter(max(1, settings.workers_threads))
        if state.searcher is None and state.error is None and state.loading_since is None:
            threading.Thread(target=state.load, args=(open_searcher,), name="docqa-load", daemon=True).start()
        yield

    app = FastAPI(
        title="docqa",
        summary="Questions about a Chinese book, answered with cited passages",
        version="0.1.0",
        lifespan=lifespan,
        responses={
            400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 404: {"model": ErrorOut},
            413: {"model": ErrorOut}, 422: {"model": ErrorOut}, 503: {"model": ErrorOut},
        },
    )
    app.state.docqa = state

    @app.exception_handler(RequestValidationError)
    async def on_validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception) -> JSONResponse:
        state.internal_errors += 1
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal error; the server log has the details"}, status_code=500)

    app.add_middleware(BodyGuard, max_bytes=settings.max_body_bytes)
    if settings.api_key:
        app.add_middleware(BearerAuth, api_key=settings.api_key)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )

    @app.get("/healthz", response_model=HealthOut, tags=["health"])
    async def healthz() -> dict[str, Any]:
        """Liveness: answers as soon as the process serves, even while the index loads."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=ReadyOut, tags=["health"])
    async def readyz() -> dict[str, Any]:
        """Readiness: 503 until the index and model are loaded, or with the reason loading failed."""
        s = state.require()
        return {"status": "ready", "model": s.model_name, "documents": len(s.documents), "passages": len(s.passages)}

    @app.post("/ask", response_model=AskOut, tags=["questions"])
    async def ask(body: AskIn) -> dict[str, Any]:
        """One question, one answer sentence, and the passages that support it."""
        s = state.require()
        question = _check_question(body.question, settings, "question")
        _check_scope(s, body.chapter, body.doc_id)
        answer = await state.run(s.ask, question, k=body.k, chapter=body.chapter, doc_id=body.doc_id)
        return _ask_out(answer, question)

    @app.get("/search", response_model=SearchOut, tags=["questions"])
    async def search(
        q: Annotated[str, Query(description="the question or keywords")],
        k: Annotated[int, Query(ge=1, le=MAX_K)] = 5,
        chapter: int | None = None,
        doc_id: str | None = None,
    ) -> dict[str, Any]:
        """Ranked passages without an answer sentence: for readers who want to browse."""
        s = state.require()
        question = _check_question(q, settings, "q")
        _check_scope(s, chapter, doc_id)
        hits = await state.run(s.search, question, k=k, chapter=chapter, doc_id=doc_id)
        return {"results": [chat.citation(h.passage, h.score) for h in hits]}

    @app.get("/chapters", response_model=OutlineOut, tags=["book"])
    async def chapters(doc_id: str | None = None) -> dict[str, Any]:
        """The outline, including chapters the table of contents lists but the corpus lacks."""
        from docqa.ingest.outline import outline_dict

        s = state.require()
        docs = [_document(s, doc_id)] if doc_id is not None else s.documents
        return outline_dict(docs)

    @app.get("/chapters/{n}", response_model=ChapterOut, tags=["book"])
    async def chapter(n: Annotated[int, PathParam(description="chapter number")],
                      doc_id: str | None = None) -> dict[str, Any]:
        """A whole chapter as cited passages in reading order, so a citation can be read in context."""
        return _chapter_out(state.require(), n, None, doc_id)

    @app.get("/chapters/{n}/sections/{m}", response_model=ChapterOut, tags=["book"])
    async def section(n: int, m: int, doc_id: str | None = None) -> dict[str, Any]:
        """One section of a chapter, as /chapters/{n} gives the whole chapter."""
        return _chapter_out(state.require(), n, m, doc_id)

    @app.get("/passages/{passage_id}", response_model=PassageOut, tags=["book"])
    async def passage(passage_id: str) -> dict[str, Any]:
        """A passage with its neighbours' ids, so a reader can widen the context step by step."""
        s = state.require()
        try:
            p = s.passage(passage_id)
        except KeyError:
            raise HTTPException(404, f"passage {passage_id!r} does not exist; ids come from /ask, /search "
                                     "or /chapters/{n}") from None
        prev_id, next_id = s.neighbours(passage_id)
        from docqa.service.format import citation_label

        return {**p.to_dict(), "heading": citation_label(p), "prev_id": prev_id, "next_id": next_id}

    @app.get("/v1/models", response_model=ModelListOut, tags=["openai"])
    async def models() -> dict[str, Any]:
        """Chat frontends list models before they talk; there is one."""
        return {"object": "list", "data": [{"id": chat.MODEL_ID, "object": "model", "created": 0,
                                            "owned_by": "docqa"}]}

    @app.post("/v1/chat/completions", response_model=ChatOut, tags=["openai"])
    async def chat_completions(body: ChatIn):
        """OpenAI-compatible chat; each reply is the answer and its numbered, quoted citations."""
        s = state.require()
        turns = [chat.Turn(m.role, chat.content_text(m.content)) for m in body.messages]
        try:
            last, _ = chat.user_question(turns)
        except chat.ChatError as exc:
            raise HTTPException(400, str(exc)) from None
        _check_question(last, settings, "messages[-1].content")
        _check_scope(s, body.chapter, body.doc_id)
        query = _check_unicode(chat.retrieval_query(turns), "messages")
        answer = await state.run(s.ask, query, k=body.k, chapter=body.chapter, doc_id=body.doc_id)
        out = _ask_out(answer, last)
        if body.stream:
            events = chat.stream_events(out, query)
            return StreamingResponse(events, media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        return chat.completion(out, query)

    @app.get("/", response_class=FileResponse, include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _ask_out(answer, question: str) -> dict[str, Any]:
    """A refusal is `"answer": null` with a `refusal` message; its passages are `closest`, not citations."""
    passages = [chat.citation(h.passage, h.score) for h in answer.hits]
    if answer.refused or not answer.text:
        return {"answer": None, "refusal": answer.message or chat.no_answer_text(question),
                "citations": [], "closest": passages}
    return {"answer": {"text": answer.text, "passage_id": answer.passage_id}, "refusal": None,
            "citations": passages, "closest": []}


def _chapter_out(searcher: "Searcher", n: int, m: int | None, doc_id: str | None) -> dict[str, Any]:
    from docqa.ingest.outline import ChapterNotFound, SectionNotFound, chapter_dict, chapter_passages
    from docqa.service.format import citation_label

    doc, ch = _find_chapter(searcher, n, doc_id)
    try:
        chosen = chapter_passages(searcher.passages, doc.doc_id, n, section=m)
    except SectionNotFound as exc:
        raise HTTPException(404, f"{exc}; GET /chapters/{n} lists them with their numbers") from exc
    except ChapterNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    data = chapter_dict(doc, ch, chosen)
    by_id = {p.passage_id: p for p in chosen}
    for item in data["passages"]:
        p = by_id[item["passage_id"]]
        item.update(chapter=p.chapter, section_number=p.section_number, heading=citation_label(p))
    sections = [sec for sec in ch.sections if m is None or sec.number == m]
    data.update(doc_id=doc.doc_id, toc_page=ch.toc_page, heading=ch.heading,
                sections=[{"number": sec.number, "title": sec.title,
                           "subsections": [{"title": sub.title} for sub in sec.subsections]} for sec in sections])
    return data


def run(settings: Settings) -> None:
    """Serve until interrupted; the index loads (or is built) in the background after start."""
    import uvicorn

    if settings.host not in ("127.0.0.1", "localhost", "::1") and not settings.api_key:
        log.warning("serving on %s without DOCQA_API_KEY: anyone who can reach it can query the book", settings.host)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info",
                timeout_graceful_shutdown=5)
