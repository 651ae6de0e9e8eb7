"""/ask and /search: a question in, cited passages out."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from docqa.service import format as fmt
from docqa.service.chat import no_answer_text
from docqa.service.dependencies import SearcherDep, SettingsDep, StateDep
from docqa.service.lookup import check_scope
from docqa.service.questions import MAX_K, MIN_K, check_question
from docqa.service.schemas import AskIn, AskOut, SearchOut

router = APIRouter(tags=["questions"])


def answer_out(answer: Any, question: str) -> dict[str, Any]:
    """The answer and its citations as /ask and the chat return them. A refusal ("not in this
    book") is `"answer": null` with a `refusal` message; its passages are `closest`, not citations.
    `support` (0..1) and `confidence` ("high", "low", "none") say how sure it is: a "low" answer
    is the closest sentence, given because it may still be the answer."""
    passages = [fmt.passage_dict(h.passage, h.score) for h in answer.hits]
    sure = {"support": getattr(answer, "support", None), "confidence": getattr(answer, "confidence", None)}
    if getattr(answer, "refused", False) or not answer.text:
        return {"answer": None, "refusal": getattr(answer, "message", None) or no_answer_text(question),
                "citations": [], "closest": passages, **sure, "confidence": "none"}
    return {"answer": {"text": answer.text, "passage_id": answer.passage_id, "span": getattr(answer, "span", None)},
            "refusal": None,
            "citations": passages, "closest": [], **sure}


@router.post("/ask", response_model=AskOut)
async def ask(body: AskIn, request: Request, s: SearcherDep, state: StateDep, settings: SettingsDep) -> dict[str, Any]:
    """One question, one answer sentence, and the passages that support it."""
    question = check_question(body.question, settings.max_question_chars, "question")
    check_scope(s, body.chapter, body.doc_id)
    answer = await state.run(request, s.ask, question, k=body.k, chapter=body.chapter, doc_id=body.doc_id)
    return answer_out(answer, question)


@router.get("/search", response_model=SearchOut)
async def search(
    request: Request, s: SearcherDep, state: StateDep, settings: SettingsDep,
    q: Annotated[str, Query(description="the question or keywords")],
    k: Annotated[int, Query(ge=MIN_K, le=MAX_K)] = 5,
    chapter: int | None = None,
    doc_id: str | None = None,
) -> dict[str, Any]:
    """Ranked passages without an answer sentence: for readers who want to browse."""
    question = check_question(q, settings.max_question_chars, "q")
    check_scope(s, chapter, doc_id)
    hits = await state.run(request, s.search, question, k=k, chapter=chapter, doc_id=doc_id)
    return {"results": [fmt.passage_dict(h.passage, h.score) for h in hits]}
