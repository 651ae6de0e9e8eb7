"""The curated, read-only tool set a chat model is given: list books, search, ask, outline,
read a section, get a passage. One implementation behind both the OpenAPI tool server
(`/tools`, `service.routes.tools`) and MCP (`service.mcp`), so the two never drift.

docqa's own openapi.json was the wrong thing to hand a model: generated names, health checks,
the chat calling itself, an upload and a delete. Here every tool reads, names say what it
does, and arguments are the few a model can fill. Failures are DocqaErrors whose message says
what to change (an unknown chapter lists where to look), which both transports pass on.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from docqa.service import format as fmt
from docqa.service import lookup
from docqa.service.questions import MAX_K, MIN_K, check_k, check_question
from docqa.service.routes.questions import answer_out

if TYPE_CHECKING:
    from docqa.index.search.searcher import Searcher

Runner = Callable[..., Awaitable[Any]]
OUTLINE = "the outline tool"

DESCRIPTIONS = {
    "list_books": "List the books (documents) docqa can search: id, title, source file, passages, chapters. "
                  "Use a book's doc_id to limit the other tools to it.",
    "search_passages": "Find the passages of the books that best match a question or keywords (Chinese or "
                       "English). Returns ranked passages with their chapter, section, page and exact "
                       "character offsets. Use it to gather evidence; cite passages by their heading.",
    "ask_book": "Answer a question from the books: the one or two sentences that answer it, with the passages "
                "it rests on. If the books do not answer it, says so (answer null) and lists the closest "
                "passages instead.",
    "get_outline": "The table of contents: front matter, chapters (with their numbers) and sections. Use it "
                   "to find a chapter or section number for read_section.",
    "read_section": "Read a chapter, or one section of it, in reading order as cited passages. Chapter and "
                    "section numbers come from get_outline.",
    "get_passage": "One passage by its passage_id (from search_passages, ask_book or read_section), with the "
                   "ids of the passages before and after it, to read on.",
}


class BookTools:
    """The tools over a searcher that `searcher()` gives (the current one: a shelf can change),
    running the model's work through `run(fn, *args, **kwargs)` (the server's bounded queue)."""

    def __init__(self, searcher: Callable[[], "Searcher"], run: Runner, max_question_chars: int = 1000):
        self.searcher = searcher
        self.run = run
        self.max_question_chars = max_question_chars

    async def list_books(self) -> dict[str, Any]:
        s = self.searcher()
        counts: dict[str, int] = {}
        for p in s.passages:
            counts[p.doc_id] = counts.get(p.doc_id, 0) + 1
        return {"books": [{"doc_id": d.doc_id, "title": d.title, "source": d.source, "passages": counts.get(d.doc_id, 0),
                           "chapters": sum(1 for c in d.chapters if c.in_corpus)} for d in s.documents]}

    async def search_passages(self, query: str, k: int = 5, doc_id: str | None = None,
                              chapter: int | None = None) -> dict[str, Any]:
        s = self.searcher()
        query = check_question(query, self.max_question_chars, "query")
        check_k(k)
        lookup.check_scope(s, chapter, doc_id, OUTLINE)
        hits = await self.run(s.search, query, k=k, chapter=chapter, doc_id=doc_id)
        return {"results": [fmt.passage_dict(h.passage, h.score) for h in hits]}

    async def ask_book(self, question: str, k: int = 3, doc_id: str | None = None,
                       chapter: int | None = None) -> dict[str, Any]:
        s = self.searcher()
        question = check_question(question, self.max_question_chars, "question")
        check_k(k)
        lookup.check_scope(s, chapter, doc_id, OUTLINE)
        answer = await self.run(s.ask, question, k=k, chapter=chapter, doc_id=doc_id)
        return answer_out(answer, question)

    async def get_outline(self, doc_id: str | None = None) -> dict[str, Any]:
        from docqa.ingest.outline import outline_dict

        s = self.searcher()
        docs = [lookup.document(s.documents, doc_id)] if doc_id is not None else s.documents
        return outline_dict(docs)

    async def read_section(self, chapter: int, section: int | None = None, doc_id: str | None = None) -> dict[str, Any]:
        s = self.searcher()
        doc, ch, passages = lookup.chapter_passages(s.passages, s.documents, chapter, section, doc_id, OUTLINE)
        return fmt.chapter_dict(doc, ch, passages, section=section)

    async def get_passage(self, passage_id: str) -> dict[str, Any]:
        s = self.searcher()
        p = lookup.passage(s, passage_id)
        prev_id, next_id = s.neighbours(passage_id)
        return {**fmt.passage_dict(p, full=True), "prev_id": prev_id, "next_id": next_id}


K_HELP = f"how many passages, {MIN_K} to {MAX_K}"
