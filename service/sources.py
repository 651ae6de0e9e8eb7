"""Citations in the shapes chat frontends read, beside docqa's own `citations` field.

Open WebUI drops unknown response fields, so a reply's passages reach its source chips and
pop-ups only as (a) its own source events, `{"event": {"type": "source", "data": {...}}}`
stream chunks (0.12's middleware hands `data["event"]` to its event emitter), or a top-level
`sources` list on a plain reply, and (b) OpenAI's `url_citation` annotations. Both name the
passage by the same URL, a page a browser can open (`/read/{passage_id}`), which is also the
id Open WebUI groups sources by, so an annotation and a source event of one passage make one
source, numbered as `[n]` in the reply.

`usage` counts are estimates (docqa runs no language model): one token per CJK character and
one per Latin word or number, the usual order of magnitude of LLM tokenizers on Chinese.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from docqa.ingest.text import HAN
from docqa.service.format import book_title, is_chinese, page_text

_TOKENS = re.compile(f"[{HAN}]|[A-Za-z0-9]+|[^\\s{HAN}A-Za-z0-9]")
LABEL_HEADINGS = 2


def read_url(base_url: str, passage_id: str) -> str:
    """The passage's reading page; ids made from file paths keep their slashes (the route takes a path)."""
    return base_url.rstrip("/") + "/read/" + quote(passage_id, safe="/:")


def short_label(c: Mapping[str, Any], chinese: bool) -> str:
    """《书名》 chapter › section, p. N: enough to tell the sources apart in a chip or a list."""
    headings = [h for h in (c.get("heading") or "").split(" › ") if h][:LABEL_HEADINGS]
    parts = [t for t in (book_title(c), " › ".join(headings)) if t]
    label = " ".join(parts) or c.get("title") or c.get("source") or c["passage_id"]
    page = page_text(c, chinese)
    return f"{label}, {page}" if page else label


def open_webui_source(c: Mapping[str, Any], url: str, label: str) -> dict[str, Any]:
    """One passage as Open WebUI's source: `document` is what its pop-up shows; `source_url`
    keeps its list from naming the source by its URL."""
    meta = {"source": url, "source_url": url, "name": label, "passage_id": c["passage_id"],
            "doc_id": c.get("doc_id"), "start": c.get("start"), "end": c.get("end")}
    if c.get("page") is not None:
        meta["page"] = c["page"]
    return {"source": {"id": url, "name": label, "url": url, "type": "docqa"},
            "document": [c["text"]], "metadata": [meta]}


def url_citation(content: str, n: int, url: str, label: str) -> dict[str, Any]:
    """OpenAI's annotation for the `[n]` marker in the reply (character offsets into the content)."""
    marker = f"[{n}]"
    start = content.find(marker)
    start, end = (start, start + len(marker)) if start >= 0 else (0, 0)
    return {"type": "url_citation",
            "url_citation": {"url": url, "title": label, "start_index": start, "end_index": end}}


def count_tokens(text: str) -> int:
    return len(_TOKENS.findall(text))


def usage(prompt: str, completion: str) -> dict[str, int]:
    p, c = count_tokens(prompt), count_tokens(completion)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


class Sources:
    """The citations of one reply, with their reading URLs and labels."""

    def __init__(self, citations: Sequence[Mapping[str, Any]], base_url: str, question: str):
        chinese = is_chinese(question)
        self.items = [(c, read_url(base_url, c["passage_id"]), short_label(c, chinese)) for c in citations]

    def open_webui(self) -> list[dict[str, Any]]:
        return [open_webui_source(c, url, label) for c, url, label in self.items]

    def annotations(self, content: str) -> list[dict[str, Any]]:
        return [url_citation(content, n, url, label) for n, (_, url, label) in enumerate(self.items, 1)]


def decorate_completion(body: dict[str, Any], sources: Sources, prompt: str) -> dict[str, Any]:
    """A plain reply with `annotations` on its message, Open WebUI's `sources` and `usage`."""
    message = body["choices"][0]["message"]
    message["annotations"] = sources.annotations(message["content"])
    body["sources"] = sources.open_webui()
    body["usage"] = usage(prompt, message["content"])
    return body


def decorate_stream(events: Iterable[str], sources: Sources, prompt: str) -> Iterator[str]:
    """The reply's chunks with a source event per citation after the first chunk (so `[n]`
    finds its source as it arrives), the annotations in a delta before the last chunk, and
    `usage` on the last chunk (Open WebUI reads it from any chunk). Every chunk keeps a choice
    (an empty delta where it only carries an event), so strict clients parse each one."""
    events = list(events)
    first = json.loads(events[0][len("data: "):])
    frame = {k: first[k] for k in ("id", "object", "created", "model")}
    idle = [{"index": 0, "delta": {}, "finish_reason": None}]

    def chunk(**fields: Any) -> str:
        return f"data: {json.dumps({**frame, **fields}, ensure_ascii=False)}\n\n"

    content = "".join((json.loads(e[len("data: "):])["choices"][0]["delta"].get("content") or "")
                      for e in events if e.startswith("data: {"))
    yield events[0]
    for source in sources.open_webui():
        yield chunk(choices=idle, event={"type": "source", "data": source})
    body, last, done = events[1:-2], json.loads(events[-2][len("data: "):]), events[-1]
    yield from body
    annotations = sources.annotations(content)
    if annotations:
        yield chunk(choices=[{"index": 0, "delta": {"annotations": annotations}, "finish_reason": None}])
    last["usage"] = usage(prompt, content)
    yield f"data: {json.dumps(last, ensure_ascii=False)}\n\n"
    yield done
