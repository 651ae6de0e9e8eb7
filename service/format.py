"""How a passage is cited, in one place for the CLI, the HTTP API and the chat replies."""
from __future__ import annotations

from typing import Any

from docqa.ingest.model import Passage


def citation_label(p: Passage) -> str:
    """The headings as the book writes them ("第一章 … › 第二节 … › 一、…"), so a reader can find
    the place in a printed copy too."""
    return " › ".join(p.heading_path) or p.title


def location(p: Passage) -> str:
    return f"{p.source}, chars {p.start}–{p.end}"


def result_dict(p: Passage, score: float | None = None) -> dict[str, Any]:
    data = {"passage_id": p.passage_id, "doc_id": p.doc_id, "title": p.title, "chapter": p.chapter,
            "chapter_title": p.chapter_title, "section": p.section, "subsection": p.subsection,
            "source": p.source, "start": p.start, "end": p.end, "text": p.text}
    if score is not None:
        data["score"] = score
    return data
