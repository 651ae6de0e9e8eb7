"""/v1/models and /v1/chat/completions for OpenAI-compatible clients and chat frontends.

Chat frontends resend the whole conversation (and their tool definitions) every turn, so only
what the search uses is checked: the question, and the earlier turns a follow-up carries with
it. A long message earlier in the chat never blocks a later question. Frontend housekeeping
prompts (title, tags, follow-ups) are answered from the outline (`service.tasks`), not searched.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from docqa.errors import InputError
from docqa.service import chat, tasks
from docqa.service.dependencies import SearcherDep, SettingsDep, StateDep
from docqa.service.format import is_chinese
from docqa.service.lookup import check_scope
from docqa.service.questions import check_question
from docqa.service.routes.questions import answer_out
from docqa.service.schemas import ChatIn, ChatOut, ModelListOut, OpenAIErrorOut
from docqa.service.sources import Sources, decorate_completion, decorate_stream

router = APIRouter(prefix="/v1", tags=["openai"],
                   responses={code: {"model": OpenAIErrorOut} for code in (400, 401, 404, 413, 422, 503)})
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class QuestionTooLong(InputError):
    status_code = 422


@router.get("/models", response_model=ModelListOut)
async def models() -> dict[str, Any]:
    """Chat frontends list models before they talk; there is one."""
    return {"object": "list", "data": [{"id": chat.MODEL_ID, "object": "model", "created": 0, "owned_by": "docqa"}]}


def too_long(text: str, limit: int, index: int, earlier: bool, language_of: str) -> QuestionTooLong:
    """Said to a chat's reader (in the question's language), with the field and setting after."""
    n = len(text)
    tail = f"(messages[{index}].content is {n} characters; the limit is {limit}, DOCQA_MAX_QUESTION_CHARS)"
    if is_chinese(language_of):
        said = (f"这个追问要接着上一个问题来找，可上一个问题有 {n} 个字，超过了 {limit} 字的上限：请把完整的问题缩短后重新问一遍。"
                if earlier else f"这个问题有 {n} 个字，超过了 {limit} 字的上限：请缩短后再问。")
    else:
        said = (f"This follow-up is searched together with your previous question, which is {n:,} characters, "
                f"over the {limit:,}-character limit: ask the whole question again, shorter."
                if earlier else f"Your question is {n:,} characters, over the {limit:,}-character limit: "
                                f"please ask a shorter question.")
    return QuestionTooLong(f"{said} {tail}")


def checked_query(turns: list[chat.Turn], limit: int) -> str:
    """The question, held to the length limit (earlier turns are checked only when a follow-up's
    search uses them: `checked_join`)."""
    last, _ = chat.user_question(turns)
    users = [i for i, t in enumerate(turns) if t.role == "user"]
    i_last = users[-1]
    if len(turns[i_last].text.strip()) > limit:
        raise too_long(turns[i_last].text.strip(), limit, i_last, False, last)
    return check_question(turns[i_last].text, limit, f"messages[{i_last}].content")


def checked_join(turns: list[chat.Turn], joined: str, limit: int, last: str) -> str:
    """A follow-up's joined query, once its earlier turns are held to the length limit (only
    when a search will really use them)."""
    for i, turn in enumerate(turns):
        text = turn.text.strip()
        if turn.role == "user" and text and text != last and text in joined and len(text) > limit:
            raise too_long(text, limit, i, True, last)
    return joined


@router.post("/chat/completions", response_model=ChatOut)
async def chat_completions(body: ChatIn, request: Request, s: SearcherDep, state: StateDep, settings: SettingsDep):
    """OpenAI-compatible chat; each reply is the answer and its numbered, quoted citations, with
    the citations also as Open WebUI sources and `url_citation` annotations linking to /read/{id}."""
    turns = [chat.Turn(m.role, chat.content_text(m.content)) for m in body.messages]
    model = body.model or chat.MODEL_ID
    question, _ = chat.user_question(turns)
    if tasks.is_task(question):
        content = tasks.answer(question, s.documents)
        if body.stream:
            return StreamingResponse(iter(tasks.stream(content, model)), media_type="text/event-stream",
                                     headers=SSE_HEADERS)
        return JSONResponse(tasks.completion(content, model))
    last = checked_query(turns, settings.max_question_chars)
    check_scope(s, body.chapter, body.doc_id)
    query = last
    answer = await state.run(request, s.ask, query, k=body.k, chapter=body.chapter, doc_id=body.doc_id)
    # A search more only for a turn that cannot stand alone.
    joins = chat.context_queries(turns) if chat.needs_context(getattr(answer, "support", None)) else []
    if joins and chat.names_the_unknown(s, last, body.doc_id):
        joins = []
    for joined in joins:
        joined = checked_join(turns, joined, settings.max_question_chars, last)
        other = await state.run(request, s.ask, joined, k=body.k, chapter=body.chapter, doc_id=body.doc_id)
        if chat.joined_is_better(answer.support, getattr(other, "support", None)):
            answer, query = other, joined
            break
    out = answer_out(answer, last)
    sources = Sources(out["citations"], str(request.base_url), last)
    if body.stream:
        events = decorate_stream(chat.stream_events(out, query), sources, query)
        return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
    return decorate_completion(chat.completion(out, query), sources, query)
