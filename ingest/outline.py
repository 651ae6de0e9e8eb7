"""A corpus's table of contents as data and as text, and lookups of one chapter's passages.

This is what `docqa chapters` / `docqa chapter N` show; a chapter the book lists but the
corpus lacks is reported as such, never silently answered from other text.
"""
from __future__ import annotations

import re
from typing import Any

from docqa.errors import NotFoundError
from docqa.ingest.model import Chapter, Document, Passage
from docqa.ingest.text import HAN, compact

_HAN = re.compile(f"[{HAN}]")


class ChapterNotFound(NotFoundError):
    """No chapter with that number (the message lists the numbers there are)."""


class ChapterNotInCorpus(NotFoundError):
    """The contents list the chapter, but its text is not in the corpus."""

    def __init__(self, number: int, title: str, toc_page: int | None, toc_title: str = "目录",
                 with_text: list[int] | None = None):
        self.number, self.title, self.toc_page = number, title, toc_page
        where = f"{toc_title}, page {toc_page}" if toc_page is not None else toc_title
        have = f"; chapters with text: {', '.join(map(str, with_text))}" if with_text else ""
        super().__init__(f"chapter {number} “{title}” is listed in the table of contents ({where}) "
                         f"but its text is not in the corpus{have}")


class ChapterInSeveralParts(NotFoundError):
    """The document has this chapter number in more than one part (a code's 编 each start at
    第一章): the part must be named, else two chapters would be mixed."""


class SectionNotFound(NotFoundError):
    """The chapter has no such section (the message lists the sections it has)."""


def outline_dict(documents: list[Document]) -> dict[str, Any]:
    return {"documents": [{
        "doc_id": doc.doc_id,
        "title": doc.title,
        "front_matter": [{"title": fm.title, "kind": fm.kind, "toc_page": fm.toc_page,
                          "in_corpus": fm.in_corpus} for fm in doc.front_matter],
        "chapters": [{
            "number": ch.number,
            "title": ch.title,
            "part": ch.part,
            "in_corpus": ch.in_corpus,
            "toc_page": ch.toc_page,
            "sections": [{
                "number": sec.number,
                "title": sec.title,
                "subsections": [{"title": sub.title} for sub in sec.subsections],
            } for sec in ch.sections],
        } for ch in doc.chapters],
    } for doc in documents]}


def chapter_numbering(chapter: Chapter) -> str | None:
    """The chapter's number as the book writes it ("第五章", "Chapter 5"): its heading without
    its title, or None when the book gave no heading to take it from."""
    heading, title = (chapter.heading or "").strip(), (chapter.title or "").strip()
    if not heading:
        return None
    if title and heading.endswith(title):
        heading = heading[:-len(title)]
    return heading.strip(" \t\u3000:：.．、-—") or None


def part_matches(chapter: Chapter, part: str | None) -> bool:
    """`part` names the chapter's part by its heading or a piece of it ("第二编", "物权")."""
    if part is None:
        return True
    want = compact(part)
    return bool(want) and any(want == compact(p) or want in compact(p) for p in chapter.part.split(" › "))


def find_chapter(documents: list[Document], number: int, doc_id: str | None = None,
                 part: str | None = None, unique: bool = False) -> tuple[Document, Chapter]:
    """The chapter `number` (of `doc_id`, else of the first document that has it, text first),
    in the part `part` names. `unique`: a number the document has in several parts is refused
    (`ChapterInSeveralParts`) rather than the first taken."""
    docs = [d for d in documents if doc_id is None or d.doc_id == doc_id]
    if doc_id is not None and not docs:
        known = ", ".join(d.doc_id for d in documents) or "none"
        raise ChapterNotFound(f"no document {doc_id!r} in the corpus (documents: {known})")
    listed: tuple[Document, Chapter] | None = None
    for doc in docs:
        for ch in doc.chapters:
            if ch.number != number or not part_matches(ch, part):
                continue
            if ch.in_corpus:
                same = [c for c in doc.chapters if c.number == number and c.in_corpus and part_matches(c, part)]
                if unique and len({c.part for c in same}) > 1:
                    parts = "; ".join(c.part or "(none)" for c in same)
                    raise ChapterInSeveralParts(f"{doc.doc_id} has a chapter {number} in several parts: {parts}")
                return doc, ch
            listed = listed or (doc, ch)
    if listed is not None:
        doc, ch = listed
        with_text = sorted({c.number for d in docs for c in d.chapters if c.in_corpus})
        raise ChapterNotInCorpus(ch.number, ch.title, ch.toc_page, _toc_title(doc), with_text)
    numbers = sorted({ch.number for d in docs for ch in d.chapters})
    available = ", ".join(map(str, numbers)) if numbers else "none"
    scope = f" in {doc_id}" if doc_id else ""
    scope += f" in part {part!r}" if part else ""
    raise ChapterNotFound(f"no chapter {number}{scope}; available chapters: {available}")


def _toc_title(doc: Document) -> str:
    return next((fm.title for fm in doc.front_matter if fm.kind == "toc"), "目录")


def chapter_passages(passages: list[Passage], doc_id: str, number: int,
                     section: int | str | None = None, part: str | None = None) -> list[Passage]:
    """The chapter's passages in reading order, optionally one section (its number, heading or
    title); `part` (the chapter's part heading, "" for none) keeps another part's chapter of
    the same number out."""
    in_chapter = sorted((p for p in passages if p.doc_id == doc_id and p.chapter == number
                         and (part is None or (p.part or "") == part)),
                        key=lambda p: (p.start, p.end))
    if not in_chapter:
        numbers = sorted({p.chapter for p in passages if p.doc_id == doc_id and p.chapter is not None})
        available = ", ".join(map(str, numbers)) if numbers else "none"
        raise ChapterNotFound(f"no passages for chapter {number} in {doc_id}; chapters with text: {available}")
    if section is None:
        return in_chapter
    chosen = [p for p in in_chapter if _section_matches(p, section)]
    if not chosen:
        sections = []
        for p in in_chapter:
            if p.section and p.section not in sections:
                sections.append(p.section)
        raise SectionNotFound(f"chapter {number} has no section {section!r}; sections: "
                              + ("; ".join(sections) or "none"))
    return chosen


def _section_matches(p: Passage, section: int | str) -> bool:
    if isinstance(section, int):
        return p.section_number == section
    if str(section).strip().isdigit():
        return p.section_number == int(str(section).strip())
    want = compact(section)
    heading = compact(p.section or "")
    return bool(want) and (heading == want or heading.endswith(want)
                           or compact(p.subsection or "") == want)


def chapter_dict(document: Document, chapter: Chapter, passages: list[Passage]) -> dict[str, Any]:
    """`{"number", "title", "passages": [...]}`; passages of other chapters are left out."""
    mine = sorted((p for p in passages if p.doc_id == document.doc_id and p.chapter == chapter.number),
                  key=lambda p: (p.start, p.end))
    return {
        "number": chapter.number,
        "title": chapter.title,
        "passages": [{
            "passage_id": p.passage_id, "doc_id": p.doc_id, "section": p.section,
            "subsection": p.subsection, "source": p.source, "start": p.start, "end": p.end,
            "text": p.text, "page": p.page, "page_end": p.page_end, "page_label": p.page_label,
        } for p in mine],
    }


_LABELS = {
    "zh": {"front": "书前部分", "chapters": "各章", "back": "书后部分", "page": "（第 {} 页）",
           "absent": "（正文未收录）", "absent_page": "（正文未收录，目录第 {} 页）"},
    "en": {"front": "Front matter", "chapters": "Chapters", "back": "Back matter", "page": "  (p. {})",
           "absent": "  (not in corpus)", "absent_page": "  (not in corpus, p. {})"},
}
"""The words `render_outline_text` puts beside a book's own headings, in the book's language."""


def book_language(doc: Document) -> str:
    """"zh" when the book's title or headings are written in Chinese characters, else "en": the
    outline's own words follow the book, not the reader's terminal."""
    names = [doc.title, *(ch.heading or ch.title for ch in doc.chapters), *(fm.title for fm in doc.front_matter)]
    return "zh" if any(_HAN.search(n or "") for n in names) else "en"


def render_outline_text(documents: list[Document]) -> str:
    """An indented tree for a terminal."""
    out: list[str] = []
    for doc in documents:
        words = _LABELS[book_language(doc)]
        out.append(f"{doc.title}  [{doc.doc_id}]  {doc.source}")
        front = [fm for fm in doc.front_matter if fm.kind != "back_matter"]
        back = [fm for fm in doc.front_matter if fm.kind == "back_matter"]
        if front:
            out.append(f"  {words['front']}")
            out.extend(f"    {fm.title}{_note(fm, words)}" for fm in front)
        if doc.chapters:
            out.append(f"  {words['chapters']}")
        part = ""
        for ch in doc.chapters:
            if ch.part and ch.part != part:
                out.append(f"    {ch.part}")
            part = ch.part
            label = ch.heading or f"{ch.number}. {ch.title}"
            out.append(f"    {label}{_note(ch, words)}")
            for sec in ch.sections:
                out.append(f"      {sec.heading or sec.title}")
                out.extend(f"        {sub.title}" for sub in sec.subsections)
        if back:
            out.append(f"  {words['back']}")
            out.extend(f"    {fm.title}{_note(fm, words)}" for fm in back)
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _note(entry, words: dict[str, str]) -> str:
    """Where a chapter or a front-matter entry is: its contents page, and whether its text is missing."""
    if entry.in_corpus:
        return words["page"].format(entry.toc_page) if entry.toc_page is not None else ""
    return words["absent_page"].format(entry.toc_page) if entry.toc_page is not None else words["absent"]
