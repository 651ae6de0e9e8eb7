"""Chat-shaped access to the book for OpenAI-compatible frontends.

Retrieval is stateless, so a follow-up ("那是哪一年签署的？") only finds its passage
if the query carries the earlier question with it. A turn is taken as a follow-up only when it
cannot stand alone: its own search is weakly supported and joined with the earlier question it
is clearly better (`needs_context`, `joined_is_better`, measured with the searcher's support). Replies are plain text (answer, then numbered quotes that
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
from docqa.index.answer.refusal import LOW_CONFIDENCE
from docqa.ingest.text import HAN, compact, sentence_spans
from docqa.service.format import cited, is_chinese, location

MODEL_ID = "docqa"
QUOTE_CHARS = 240
QUOTE_SENTENCES = 2
CLOSEST_ZH = "书中最接近的段落（它们并不回答这个问题）："
CLOSEST_EN = "Closest passages in the book (they do not answer the question):"
NO_ANSWER_ZH = "书中没有找到能回答这个问题的段落。"
NO_ANSWER_EN = "No passage in the book answers this question."

MAX_CONTEXT_TURNS = 2
FOLLOW_UP_SUPPORT = 0.5
"""A turn whose own search has less support than this may lean on the turns before it. On the
bundled book the turns that cannot stand alone ("那是哪一年？", "它排名世界第几？", "钢铁行业呢？")
had 0.0002-0.21, complete ones ("这本书的定价是多少？", "作者是谁？") 0.96-0.997; "When was it
proposed?" 0.49."""
FOLLOW_UP_GAIN = 0.25
"""...and it is a follow-up only when joined with the earlier question its support rises at least
this much (there 0.34-0.99; a complete question joined to an unrelated one falls)."""


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


def user_question(turns: Sequence[Turn]) -> tuple[str, list[str]]:
    """The question being asked now and the user turns before it (system and assistant turns never steer retrieval)."""
    users = [t.text.strip() for t in turns if t.role == "user"]
    if not users:
        raise ChatError("messages: no user message; add one with role 'user' holding the question")
    if not users[-1]:
        raise ChatError("messages: the last user message has no text; put the question in its content")
    return users[-1], [u for u in users[:-1] if u]


def context_queries(turns: Sequence[Turn]) -> list[str]:
    """The last user turn joined with the one, then the two, user questions before it: what is
    searched instead when the turn cannot stand alone (see `leans_on_context`)."""
    question, earlier = user_question(turns)
    queries, context = [], []
    for turn in reversed(earlier):
        if len(context) == MAX_CONTEXT_TURNS:
            break
        if turn == question or turn in context:
            continue
        context.insert(0, turn)
        queries.append(" ".join([*context, question]))
    return queries


_POINTER = re.compile(r"[这那它其此该哪几谁何么啥]")
_HAN_WORD = re.compile(f"^[{HAN}]{{2,}}$")
_NAME_EN = re.compile(r"(?<=[a-z,;:] )[A-Z][A-Za-z]+")


def names_the_unknown(searcher, turn: str, doc_id: str | None = None) -> bool:
    """Whether a turn names something the book never mentions: a Chinese word of two or more
    characters that no passage uses (not a question or pointing word, not a compound of words it
    uses), or an English name (a capitalised word inside the sentence). Such a turn asks about
    that thing, so it stands alone even when weakly supported: "澳大利亚的首都是哪里？" after a
    question the book answers is not glued to it. Asked within one book (`doc_id`), a word only
    another book of the shelf uses is unknown too: "长城有多长？" within a book about tea."""
    from docqa.index.answer.refusal import _QUESTION_WORDS

    if _NAME_EN.search(turn):
        return True
    store = searcher.store
    tokens = set(store.tokenize(searcher.query_text(turn))) - _QUESTION_WORDS
    known = {t for t in tokens if store.document_frequency(t) > 0}
    if doc_id is not None and known:
        text = "".join(p.text for p in searcher.passages if p.doc_id == doc_id)
        known = {t for t in known if t in text}
    return any(_HAN_WORD.match(t) and not _POINTER.search(t) and not any(k in t for k in known)
               for t in tokens - known)


def needs_context(support: float | None) -> bool:
    """Whether a turn's own search is too weakly supported to stand alone (never a matter of one
    pronoun or of length: "这本书的定价是多少？" stands alone, "那是哪一年？" does not)."""
    return support is not None and support < FOLLOW_UP_SUPPORT


def joined_is_better(alone: float | None, joined: float | None) -> bool:
    """A follow-up: the question joined with the earlier one is clearly better supported."""
    return alone is not None and joined is not None and joined >= alone + FOLLOW_UP_GAIN


def no_answer_text(question: str) -> str:
    return NO_ANSWER_ZH if is_chinese(question) else NO_ANSWER_EN


def _bigrams(text: str) -> set[str]:
    folded = compact(text).lower()
    return {folded[i:i + 2] for i in range(len(folded) - 1)}


def quote_sentences(text: str, answer_text: str, question: str = "") -> str:
    """The sentences of a cited passage that bear on the answer: the answer's own sentence, then
    those sharing the most of the question's and the answer's wording, in reading order. The
    whole passage stays one click away (its id and offsets travel with the citation)."""
    spans = sentence_spans(text, line_breaks=True)
    if not spans:
        return ""
    want, ans = _bigrams(question + answer_text), compact(answer_text)
    scored = []
    for n, (s, e) in enumerate(spans):
        sentence = text[s:e]
        own = bool(ans) and (ans in compact(sentence) or compact(sentence) in ans)
        scored.append((own, len(_bigrams(sentence) & want), -n))
    order = sorted(range(len(spans)), key=lambda n: scored[n], reverse=True)
    chosen = sorted(order[:QUOTE_SENTENCES]) if scored[order[0]][:2] != (False, 0) else [0]
    quote = " … ".join(" ".join(text[s:e].split()) for s, e in (spans[n] for n in chosen))
    return quote if len(quote) <= QUOTE_CHARS else quote[:QUOTE_CHARS - 1].rstrip() + "…"


def reply_pieces(answer_text: str, citations: Sequence[dict[str, Any]], question: str = "",
                 source_id: str | None = None) -> list[str]:
    """The reply in the order it streams; joined, it is exactly the non-streamed reply. The answer
    ends with the `[n]` of the citation it was taken from (`source_id`), so a frontend that shows
    only the text still tells the answer's own source from the others."""
    chinese = is_chinese(answer_text)
    own = next((i for i, c in enumerate(citations, 1) if source_id is not None and c.get("passage_id") == source_id), None)
    pieces = [answer_text if own is None else f"{answer_text.rstrip()} [{own}]"]
    for i, c in enumerate(citations, 1):
        quoted = f"> {quote_sentences(c['text'], answer_text, question)}"
        pieces.append(
            f"\n\n[{i}] {cited(c)} ({location(c, chinese)})\n{quoted}"
        )
    return pieces


def refusal_pieces(message: str, closest: Sequence[dict[str, Any]]) -> list[str]:
    """A refusal says so plainly; the nearest passages are named as such, not as citations."""
    if not closest:
        return [message]
    chinese = is_chinese(message)
    intro = CLOSEST_ZH if chinese else CLOSEST_EN
    lines = [f"- {cited(c)} ({location(c, chinese)})" for c in closest]
    return [message, f"\n\n{intro}\n" + "\n".join(lines)]


def _pieces(out: dict[str, Any], question: str) -> list[str]:
    if out.get("answer") is None:
        return refusal_pieces(out["refusal"], out.get("closest", []))
    pieces = reply_pieces(out["answer"]["text"], out["citations"], question, out["answer"].get("passage_id"))
    if out.get("confidence") == "low":
        # The closest sentence is given, but not as the answer: the book may not say.
        pieces[0] = LOW_CONFIDENCE["zh" if is_chinese(question) else "en"] + pieces[0]
    return pieces


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def completion(out: dict[str, Any], query: str, model: str = MODEL_ID) -> dict[str, Any]:
    """`out` is what /ask returns: `answer` (null for "not in this book"), `refusal`,
    `citations` (empty on a refusal) and `closest`."""
    return {
        "id": new_completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(_pieces(out, query))},
                "finish_reason": "stop",
            }
        ],
        **out,
        "retrieval_query": query,
    }


def _split_text(text: str, size: int = 24) -> Iterator[str]:
    """Stream the answer in short runs so frontends show it arriving."""
    for i in range(0, len(text), size):
        yield text[i : i + size]


def stream_events(out: dict[str, Any], query: str, model: str = MODEL_ID) -> Iterator[str]:
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
    pieces = _pieces(out, query)
    for piece in _split_text(pieces[0]):
        yield chunk({"content": piece})
    for piece in pieces[1:]:
        yield chunk({"content": piece})
    yield chunk({}, "stop", **out, retrieval_query=query)
    yield "data: [DONE]\n\n"
