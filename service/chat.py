"""Chat-shaped access to the book for OpenAI-compatible frontends.

Retrieval is stateless, so a follow-up ("那是哪一年签署的？") only finds its passage
if the query carries the earlier question with it: `retrieval_query` rebuilds one
from the conversation. Replies are plain text (answer, then numbered quotes that
name chapter and section) because chat frontends render nothing else; the same
citations travel as structured data beside the text.

Nothing here knows about HTTP; `service.routes.openai` validates requests and calls in.
"""
from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from docqa.errors import InputError
from docqa.ingest.text import HAN
from docqa.service.format import is_chinese, location

MODEL_ID = "docqa"
QUOTE_CHARS = 600
NO_ANSWER_ZH = "书中没有找到能回答这个问题的段落。"
NO_ANSWER_EN = "No passage in the book answers this question."

_CJK = re.compile(f"[{HAN}]")
_WORD = re.compile(r"[A-Za-z0-9]+")
# Compounds containing 那/这/它/其/该/他/她/此 that do not point back at anything.
_ZH_NOT_ANAPHORA = re.compile(
    r"其他|其它|其实|尤其|极其|与其|其次|其余|因此|此外|彼此|从此|为此|如此|应该|该当|他国|他人|利他"
)
_ZH_ANAPHORA = re.compile(r"[那这它其该他她此]|上述|前者|后者|刚才|上面")
_EN_ANAPHORA = re.compile(
    r"\b(it|its|they|them|their|that|this|these|those|he|she|him|his|her|there|then|same)\b", re.I
)
_EN_CONTINUATION = re.compile(r"^\s*(and|also|what about|how about|why|so)\b", re.I)
_ZH_CONTINUATION = re.compile(r"^\s*(还有|那么|然后|另外|而且|并且|为什么|为何|具体)")
SHORT_CJK = 6
SHORT_WORDS = 3
MAX_CONTEXT_TURNS = 2


class ChatError(InputError):
    """A conversation that cannot be answered as sent; the message says what to change."""

    status_code = 400


@dataclass
class Turn:
    role: str
    text: str


def content_text(content: Any) -> str:
    """Chat clients send either a string or a list of typed parts; only text parts carry the question."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if isinstance(part, dict):
            kind, text = part.get("type"), part.get("text")
        else:
            kind, text = getattr(part, "type", None), getattr(part, "text", None)
        if kind == "text" and isinstance(text, str):
            parts.append(text)
    return "\n".join(parts)


def is_follow_up(text: str) -> bool:
    """Short turns and turns that point back need the earlier question to be retrievable alone."""
    text = text.strip()
    cjk = len(_CJK.findall(text))
    words = len(_WORD.findall(text))
    if cjk and cjk + words <= SHORT_CJK:
        return True
    if not cjk and words <= SHORT_WORDS:
        return True
    if _ZH_CONTINUATION.search(text) or _EN_CONTINUATION.search(text):
        return True
    if _ZH_ANAPHORA.search(_ZH_NOT_ANAPHORA.sub("", text)):
        return True
    return bool(_EN_ANAPHORA.search(text))


def user_question(turns: Sequence[Turn]) -> tuple[str, list[str]]:
    """The question being asked now and the user turns before it (system and assistant turns never steer retrieval)."""
    users = [t.text.strip() for t in turns if t.role == "user"]
    if not users:
        raise ChatError("messages: no user message; add one with role 'user' holding the question")
    if not users[-1]:
        raise ChatError("messages: the last user message has no text; put the question in its content")
    return users[-1], [u for u in users[:-1] if u]


def retrieval_query(turns: Sequence[Turn]) -> str:
    """The last user turn, with earlier user questions in front when it is a follow-up.

    Walks back until a turn that stands on its own (at most MAX_CONTEXT_TURNS), so a
    chain of follow-ups still reaches the question that named the subject.
    """
    question, earlier = user_question(turns)
    context: list[str] = []
    current = question
    while earlier and len(context) < MAX_CONTEXT_TURNS and is_follow_up(current):
        current = earlier.pop()
        if current != question and current not in context:
            context.insert(0, current)
    return " ".join([*context, question])


def no_answer_text(question: str) -> str:
    return NO_ANSWER_ZH if is_chinese(question) else NO_ANSWER_EN


def reply_pieces(answer_text: str, citations: Sequence[dict[str, Any]]) -> list[str]:
    """The reply in the order it streams; joined, it is exactly the non-streamed reply."""
    chinese = is_chinese(answer_text)
    pieces = [answer_text]
    for i, c in enumerate(citations, 1):
        quote = c["text"].strip()
        if len(quote) > QUOTE_CHARS:
            quote = quote[:QUOTE_CHARS].rstrip() + "…"
        lines = [line.strip() for line in quote.splitlines() if line.strip()]
        quoted = "\n".join(f"> {line}" for line in lines)
        pieces.append(
            f"\n\n[{i}] {c['heading']} ({location(c, chinese)})\n{quoted}"
        )
    return pieces


def format_reply(answer_text: str, citations: Sequence[dict[str, Any]]) -> str:
    return "".join(reply_pieces(answer_text, citations))


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def completion(
    answer: dict[str, Any],
    citations: list[dict[str, Any]],
    query: str,
    model: str = MODEL_ID,
) -> dict[str, Any]:
    return {
        "id": new_completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": format_reply(answer["text"], citations)},
                "finish_reason": "stop",
            }
        ],
        "answer": answer,
        "citations": citations,
        "retrieval_query": query,
    }


def _split_text(text: str, size: int = 24) -> Iterator[str]:
    """Stream the answer in short runs so frontends show it arriving."""
    for i in range(0, len(text), size):
        yield text[i : i + size]


def stream_events(
    answer: dict[str, Any],
    citations: list[dict[str, Any]],
    query: str,
    model: str = MODEL_ID,
) -> Iterator[str]:
    """Server-sent events in OpenAI's chunk format, ending with `data: [DONE]`.

    The last chunk (finish_reason "stop") carries the structured citations, as the
    non-streamed completion does.
    """
    cid, created = new_completion_id(), int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    pieces = reply_pieces(answer["text"], citations)
    for piece in _split_text(pieces[0]):
        yield chunk({"content": piece})
    for piece in pieces[1:]:
        yield chunk({"content": piece})
    yield chunk({}, "stop", answer=answer, citations=citations, retrieval_query=query)
    yield "data: [DONE]\n\n"
