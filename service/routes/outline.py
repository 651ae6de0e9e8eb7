"""The book's outline and its text: /chapters, /chapters/{n}[/sections/{m}], /passages/{id}."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from docqa.service import format as fmt
from docqa.service import lookup
from docqa.service.dependencies import SearcherDep, ShelfDep
from docqa.service.schemas import ChapterOut, OutlineOut, PassageOut

router = APIRouter(tags=["book"])


@router.get("/chapters", response_model=OutlineOut)
async def chapters(s: ShelfDep, doc_id: str | None = None) -> dict[str, Any]:
    """The outline, including chapters the table of contents lists but the corpus lacks (no
    documents on an empty shelf)."""
    from docqa.ingest.outline import outline_dict

    if s is None:
        return outline_dict([]) if doc_id is None else outline_dict([lookup.document([], doc_id)])
    docs = [lookup.document(s.documents, doc_id)] if doc_id is not None else s.documents
    return outline_dict(docs)


@router.get("/chapters/{n}", response_model=ChapterOut)
async def chapter(s: SearcherDep, n: Annotated[int, Path(description="chapter number")],
                  doc_id: str | None = None, part: str | None = None) -> dict[str, Any]:
    """A whole chapter as cited passages in reading order, so a citation can be read in context;
    `part` names the part (第二编) where chapter numbers start again in each part."""
    doc, ch, passages = lookup.chapter_passages(s.passages, s.documents, n, None, doc_id, part=part)
    return fmt.chapter_dict(doc, ch, passages)


@router.get("/chapters/{n}/sections/{m}", response_model=ChapterOut)
async def section(s: SearcherDep, n: int, m: int, doc_id: str | None = None,
                  part: str | None = None) -> dict[str, Any]:
    """One section of a chapter, as /chapters/{n} gives the whole chapter."""
    doc, ch, passages = lookup.chapter_passages(s.passages, s.documents, n, m, doc_id, part=part)
    return fmt.chapter_dict(doc, ch, passages, section=m)


@router.get("/passages/{passage_id:path}", response_model=PassageOut)
async def passage(s: SearcherDep, passage_id: str) -> dict[str, Any]:
    """A passage with its neighbours' ids, so a reader can widen the context step by step.

    `:path` because ids made from file paths (`notes/a.md#3`) contain slashes.
    """
    p = lookup.passage(s, passage_id)
    prev_id, next_id = s.neighbours(passage_id)
    return {**fmt.passage_dict(p, full=True), "prev_id": prev_id, "next_id": next_id}
