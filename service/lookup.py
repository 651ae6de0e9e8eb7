"""Finding what a request names (a document, a chapter, a section) or saying what there is.

A filter naming no chapter or document would silently return nothing, so it is refused with
the names there are. `outline` tells the reader where to look: "GET /chapters" over HTTP,
"docqa chapters" on the command line.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from docqa.errors import NotFoundError

if TYPE_CHECKING:
    from docqa.index.search.searcher import Searcher
    from docqa.ingest.model import Chapter, Document, Passage


def document(documents: "list[Document]", doc_id: str | None) -> "Document":
    if doc_id is None:
        return documents[0]
    for doc in documents:
        if doc.doc_id == doc_id:
            return doc
    known = ", ".join(d.doc_id for d in documents[:10])
    raise NotFoundError(f"doc_id {doc_id!r} is not in the corpus", hint=f"known documents: {known}")


def chapter(documents: "list[Document]", number: int, doc_id: str | None,
            outline: str = "GET /chapters", part: str | None = None) -> "tuple[Document, Chapter]":
    from docqa.ingest.outline import ChapterInSeveralParts, ChapterNotFound, find_chapter

    if doc_id is not None:
        document(documents, doc_id)
    try:
        return find_chapter(documents, number, doc_id=doc_id, part=part, unique=True)
    except ChapterInSeveralParts as exc:
        option = "the part query parameter" if outline.startswith("GET") else "--part"
        raise NotFoundError(str(exc), hint=f"name the part with {option} (e.g. its heading's 第N编)") from None
    except ChapterNotFound as exc:
        raise NotFoundError(str(exc), hint=f"see {outline} for the chapters there are") from None


def chapter_passages(passages: "list[Passage]", documents: "list[Document]", number: int, section: int | None,
                     doc_id: str | None, outline: str = "GET /chapters",
                     part: str | None = None) -> "tuple[Document, Chapter, list[Passage]]":
    from docqa.ingest.outline import SectionNotFound, chapter_passages as find_passages

    doc, ch = chapter(documents, number, doc_id, outline, part)
    try:
        chosen = find_passages(passages, doc.doc_id, number, section=section, part=ch.part)
    except SectionNotFound as exc:
        where = f"GET /chapters/{number}" if outline.startswith("GET") else f"docqa chapter {number}"
        raise NotFoundError(str(exc), hint=f"{where} lists them with their numbers") from None
    return doc, ch, chosen


def unit_passages(passages: "list[Passage]", documents: "list[Document]", number: str | int, doc_id: str | None,
                  chapter: int | None = None) -> "tuple[Document, list[Passage]]":
    """The passages of numbered unit `number` (17, "十七", "第十七条") of a document, in reading
    order; without `doc_id` the unit must be in one document only."""
    from docqa.errors import InputError
    from docqa.ingest.structure import cn_number

    text = str(number).strip().removeprefix("第").removesuffix("条").strip()
    if not text.isdigit() and not (text and all(c in "零〇一二三四五六七八九十百千两" for c in text)):
        raise InputError(f"unit number must be a number like 17 or 十七, got {number!r}")
    n = cn_number(text)
    if doc_id is not None:
        document(documents, doc_id)
    found = [p for p in passages if p.unit_number == n and p.kind == "body"
             and (doc_id is None or p.doc_id == doc_id) and (chapter is None or p.chapter == chapter)]
    docs = list(dict.fromkeys(p.doc_id for p in found))
    if not docs:
        scope = f" of {doc_id}" if doc_id else ""
        raise NotFoundError(f"no unit {n} (第{n}条){scope} in the corpus", hint="see the outline for its units")
    if len(docs) > 1:
        shown = ", ".join(docs[:5]) + (" …" if len(docs) > 5 else "")
        raise NotFoundError(f"unit {n} is in {len(docs)} documents: {shown}", hint="name one with --doc-id")
    doc = document(documents, docs[0])
    return doc, sorted(found, key=lambda p: (p.start, p.end))


def check_scope(searcher: "Searcher", chapter_number: int | None, doc_id: str | None,
                outline: str = "GET /chapters") -> None:
    if doc_id is not None:
        document(searcher.documents, doc_id)
    if chapter_number is not None:
        try:
            chapter(searcher.documents, chapter_number, doc_id, outline)
        except NotFoundError as exc:
            if "several parts" not in str(exc):
                raise
            raise NotFoundError(str(exc), hint=f"read one with `docqa chapter {chapter_number} --part …` "
                                               "or search without the chapter filter") from None


def passage(searcher: "Searcher", passage_id: str) -> Any:
    try:
        return searcher.passage(passage_id)
    except KeyError:
        raise NotFoundError(f"passage {passage_id!r} does not exist",
                            hint="ids come from /ask, /search or /chapters/{n}") from None
