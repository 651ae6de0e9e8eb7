"""How a passage is shown and cited: one renderer for the CLI, the HTTP API and the chat replies.

Every passage that leaves docqa as data goes through `passage_dict`, and every citation line
through `citation_label` and `location`, so a field added to `Passage` (a page number, say)
appears everywhere at once.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from docqa.ingest.model import Passage
from docqa.ingest.text import HAN

CJK = re.compile(f"[{HAN}]")


def is_chinese(text: str) -> bool:
    """Replies follow the question's language: any CJK character makes it Chinese."""
    return bool(CJK.search(text))


def citation_label(p: Passage) -> str:
    """The headings as the book writes them ("第一章 … › 第二节 … › 一、…"), so a reader can find
    the place in a printed copy too."""
    return " › ".join(p.heading_path) or p.title


def book_title(p: Passage | Mapping[str, Any]) -> str | None:
    """The book a passage is from, as a citation names it ("《书名》"); None when its title is
    only its file name (a text file without a title line), which the location names anyway."""
    title, source = (_field(p, "title") or "").strip(), _field(p, "source") or ""
    if not title or title == PurePosixPath(source).stem:
        return None
    return f"《{title.strip('《》')}》"


def cited(p: Passage | Mapping[str, Any]) -> str:
    """What a citation line names: the book and the headings ("《书名》 第一章 … › 第一节 …"), so
    a reader of a library knows which book, and where in it."""
    heading = _field(p, "heading") if isinstance(p, Mapping) else citation_label(p)
    title = book_title(p)
    if title is None:
        return heading or ""
    return title if not heading or heading == _field(p, "title") else f"{title} {heading}"


def _field(p: Passage | Mapping[str, Any], name: str) -> Any:
    return p.get(name) if isinstance(p, Mapping) else getattr(p, name, None)


def page_text(p: Passage | Mapping[str, Any], chinese: bool = False) -> str | None:
    """"p. 12" / "pp. 12–13" / "第 12 页", or None for a source without pages.

    A printed page label ("xii") wins over the physical page number, since that is what
    the reader sees on the page.
    """
    page, page_end, label = _field(p, "page"), _field(p, "page_end"), _field(p, "page_label")
    if page is None:
        return None
    first = label or str(page)
    last = str(page_end) if page_end is not None and page_end != page and not label else None
    if chinese:
        return f"第 {first}–{last} 页" if last else f"第 {first} 页"
    return f"pp. {first}–{last}" if last else f"p. {first}"


def location(p: Passage | Mapping[str, Any], chinese: bool = False) -> str:
    """Where the cited text is: the file, its page when it has pages, and the character offsets.

    Takes a Passage or its `passage_dict`, so a reply rebuilt from data reads the same.
    """
    where = [_field(p, "source")]
    page = page_text(p, chinese)
    if page:
        where.append(page)
    where.append(f"chars {_field(p, 'start')}–{_field(p, 'end')}")
    return ", ".join(where)


def passage_dict(p: Passage, score: float | None = None, *, full: bool = False) -> dict[str, Any]:
    """A passage as data: what the API, the chat citations and `--json` all return.

    `full` adds the fields a reader of one passage needs (its place in the outline and kind);
    a search result carries `score`.
    """
    data: dict[str, Any] = {
        "passage_id": p.passage_id, "doc_id": p.doc_id, "title": p.title, "chapter": p.chapter,
        "chapter_title": p.chapter_title, "section": p.section, "subsection": p.subsection,
        "heading": citation_label(p), "source": p.source, "start": p.start, "end": p.end,
        "page": p.page, "page_end": p.page_end, "page_label": p.page_label, "text": p.text,
        "part": p.part, "unit": p.unit,
    }
    if full:
        data.update(section_number=p.section_number, heading_path=list(p.heading_path), kind=p.kind)
    if score is not None:
        data["score"] = float(score)
    return data


def chapter_dict(doc: Any, chapter: Any, passages: list[Passage], section: int | None = None) -> dict[str, Any]:
    """A chapter (or one of its sections) as data: its outline and its passages in reading order."""
    sections = [sec for sec in chapter.sections if section is None or sec.number == section]
    return {
        "doc_id": doc.doc_id, "number": chapter.number, "title": chapter.title,
        "part": getattr(chapter, "part", ""),
        "heading": chapter.heading or chapter.title, "toc_page": chapter.toc_page,
        "sections": [{"number": sec.number, "title": sec.title,
                      "subsections": [{"title": sub.title} for sub in sec.subsections]} for sec in sections],
        "passages": [{**passage_dict(p), "section_number": p.section_number} for p in passages],
    }
