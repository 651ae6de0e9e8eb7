"""Chat frontends' own housekeeping requests, answered without searching the book.

Open WebUI asks its chat model for a title, tags and follow-up suggestions after each reply
(its templates start "### Task:", quote the conversation in `<chat_history>` as "USER: …" /
"ASSISTANT: …" lines and say the JSON they want, e.g. `JSON format: { "title": … }`). Searched
as questions they cost a model call each and fail on the length limit; here they are answered
from the conversation and the book's outline: a title from the first question, tags from the
chapters the replies cite, follow-ups from the sections beside them. Anything else that looks
like a task gets a well-formed empty answer rather than a search.
"""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from docqa.service.format import is_chinese

_TASK = re.compile(r"^\s*#{1,6}\s*Task\s*:", re.I)
_WANTS = re.compile(r'JSON format:\s*`?\s*\{\s*"(\w+)"', re.I)
_HISTORY = re.compile(r"<chat_history>(.*?)</chat_history>", re.S)
_TURN = re.compile(r"^(USER|ASSISTANT):\s?", re.M)
_END_PUNCT = "？?。.！!；;：:，, "
TITLE_CJK = 20
TITLE_WORDS = 6
MAX_TAGS = 3
MAX_FOLLOW_UPS = 3


def is_task(text: str) -> bool:
    """A frontend's task prompt, not a reader's question."""
    return bool(_TASK.match(text)) and ("<chat_history>" in text or "### Output" in text or "JSON" in text)


def history(text: str) -> list[tuple[str, str]]:
    """The quoted conversation as (role, text) pairs, in order."""
    m = _HISTORY.search(text)
    if not m:
        return []
    body = m.group(1)
    marks = list(_TURN.finditer(body))
    return [(mk.group(1).lower(), body[mk.end():marks[i + 1].start() if i + 1 < len(marks) else len(body)].strip())
            for i, mk in enumerate(marks)]


def title_of(question: str) -> str:
    q = " ".join(question.split()).strip(_END_PUNCT)
    if is_chinese(q):
        return q if len(q) <= TITLE_CJK else q[:TITLE_CJK - 1] + "…"
    words = q.split()
    return " ".join(words[:TITLE_WORDS]) + ("…" if len(words) > TITLE_WORDS else "")


def _chapters(documents: Sequence[Any]) -> list[tuple[Any, Any]]:
    return [(doc, ch) for doc in documents for ch in doc.chapters if ch.in_corpus]


def cited_chapters(documents: Sequence[Any], replies: str) -> list[tuple[Any, Any]]:
    """The chapters whose headings the replies name, in the order they are first named."""
    found = []
    for doc, ch in _chapters(documents):
        name = (ch.heading or ch.title).strip()
        at = replies.find(name) if name else -1
        if at >= 0:
            found.append((at, doc, ch))
    return [(doc, ch) for _, doc, ch in sorted(found, key=lambda t: t[0])]


def _tag(ch: Any) -> str:
    return (ch.title or ch.heading).strip()


def _nearby_headings(chapters: Sequence[tuple[Any, Any]], documents: Sequence[Any]) -> list[str]:
    """Headings near the cited chapters: their sections and subsections, then the sections of
    the chapters after them, in reading order."""
    names: list[str] = []
    all_chapters = _chapters(documents)
    for doc, ch in chapters:
        for sec in ch.sections:
            names.append(sec.title)
            names.extend(sub.title for sub in sec.subsections)
        at = next((i for i, (d, c) in enumerate(all_chapters) if d is doc and c is ch), None)
        if at is not None and at + 1 < len(all_chapters):
            names.extend(sec.title for sec in all_chapters[at + 1][1].sections)
    return [n.strip() for n in names if n and n.strip()]


def follow_ups(chapters: Sequence[tuple[Any, Any]], documents: Sequence[Any], replies: str, asked: Sequence[str],
               chinese: bool) -> list[str]:
    """Questions about the headings beside the ones cited, not yet cited or asked about."""
    out: list[str] = []
    for name in _nearby_headings(chapters, documents):
        if name in replies or any(name in a for a in asked):
            continue
        q = f"“{name}”讲了什么？" if chinese else f"What does the book say in “{name}”?"
        if q not in out:
            out.append(q)
        if len(out) == MAX_FOLLOW_UPS:
            break
    return out


def answer(text: str, documents: Sequence[Any]) -> str:
    """The task's reply content, in the JSON shape its prompt asks for."""
    turns = history(text)
    asked = [t for role, t in turns if role == "user" and t]
    replies = "\n".join(t for role, t in turns if role == "assistant")
    first, last = (asked[0], asked[-1]) if asked else ("", "")
    chinese = is_chinese(" ".join(asked)) if asked else is_chinese(text)
    m = _WANTS.search(text)
    wants = m.group(1).lower() if m else ""
    if wants == "title":
        return json.dumps({"title": title_of(first) or ("书中问答" if chinese else "Questions about the book")},
                          ensure_ascii=False)
    if wants == "tags":
        chapters = cited_chapters(documents, replies)
        tags = list(dict.fromkeys(_tag(ch) for _, ch in chapters))[:MAX_TAGS]
        if not tags:
            tags = list(dict.fromkeys(d.title for d in documents if d.title))[:1]
        return json.dumps({"tags": tags}, ensure_ascii=False)
    if wants in ("follow_ups", "follow-ups", "followups"):
        chapters = cited_chapters(documents, replies) or _chapters(documents)[:1]
        return json.dumps({"follow_ups": follow_ups(chapters, documents, replies, asked, chinese)},
                          ensure_ascii=False)
    if wants == "queries":
        return json.dumps({"queries": [last] if last else []}, ensure_ascii=False)
    if wants == "text":
        return json.dumps({"text": ""}, ensure_ascii=False)
    return "{}" if m else ""


def completion(content: str, model: str) -> dict[str, Any]:
    from docqa.service.chat import new_completion_id

    import time

    return {"id": new_completion_id(), "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}


def stream(content: str, model: str) -> list[str]:
    body = completion(content, model)
    frame = {k: body[k] for k in ("id", "created", "model")}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        data = {**frame, "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    return [chunk({"role": "assistant", "content": ""}), chunk({"content": content}), chunk({}, "stop"),
            "data: [DONE]\n\n"]
