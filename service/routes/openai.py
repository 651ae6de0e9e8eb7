"""/v1/models and /v1/chat/completions for OpenAI-compatible clients and chat frontends."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from docqa.service import chat
from docqa.service.dependencies import SearcherDep, SettingsDep, StateDep
from docqa.service.lookup import check_scope
from docqa.service.questions import check_question, is_blank
from docqa.service.routes.questions import answer_out
from docqa.service.schemas import ChatIn, ChatOut, ModelListOut, OpenAIErrorOut

router = APIRouter(prefix="/v1", tags=["openai"],
                   responses={code: {"model": OpenAIErrorOut} for code in (400, 401, 404, 413, 422, 503)})


@router.get("/models", response_model=ModelListOut)
async def models() -> dict[str, Any]:
    """Chat frontends list models before they talk; there is one."""
    return {"object": "list", "data": [{"id": chat.MODEL_ID, "object": "model", "created": 0, "owned_by": "docqa"}]}


@router.post("/chat/completions", response_model=ChatOut)
async def chat_completions(body: ChatIn, request: Request, s: SearcherDep, state: StateDep, settings: SettingsDep):
    """OpenAI-compatible chat; each reply is the answer and its numbered, quoted citations."""
    turns = [chat.Turn(m.role, chat.content_text(m.content)) for m in body.messages]
    last, _ = chat.user_question(turns)
    users = [i for i, t in enumerate(turns) if t.role == "user"]
    for i in users:  # every user turn can reach the search, so every one is held to the limit
        if i == users[-1] or not is_blank(turns[i].text):
            turns[i].text = check_question(turns[i].text, settings.max_question_chars, f"messages[{i}].content")
    check_scope(s, body.chapter, body.doc_id)
    query = last
    answer = await state.run(request, s.ask, query, k=body.k, chapter=body.chapter, doc_id=body.doc_id)
    # A search more only for a turn that cannot stand alone.
    joins = chat.context_queries(turns) if chat.needs_context(getattr(answer, "support", None)) else []
    if joins and chat.names_the_unknown(s, last):
        joins = []
    for joined in joins:
        other = await state.run(request, s.ask, joined, k=body.k, chapter=body.chapter, doc_id=body.doc_id)
        if chat.joined_is_better(answer.support, getattr(other, "support", None)):
            answer, query = other, joined
            break
    out = answer_out(answer, last)
    if body.stream:
        events = chat.stream_events(out, query)
        return StreamingResponse(events, media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    return chat.completion(out, query)
