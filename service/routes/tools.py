"""The tool set as an OpenAPI tool server: a small app mounted at /tools with its own
/tools/openapi.json, which Open WebUI (Settings > Tools) turns into exactly six tools named by
their operationId. Behind the same API key and body guard as the rest of the server."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from docqa.service import http_errors
from docqa.service.questions import MAX_K, MIN_K
from docqa.service.tools import DESCRIPTIONS, BookTools


class SearchIn(BaseModel):
    query: str = Field(description="the question or keywords, in Chinese or English")
    k: int = Field(5, ge=MIN_K, le=MAX_K, description="how many passages to return")
    doc_id: str | None = Field(None, description="only this book (a doc_id from list_books)")
    chapter: int | None = Field(None, description="only this chapter number (from get_outline)")


class AskIn(BaseModel):
    question: str = Field(description="the question, in Chinese or English")
    k: int = Field(3, ge=MIN_K, le=MAX_K, description="how many supporting passages to return")
    doc_id: str | None = Field(None, description="only this book (a doc_id from list_books)")
    chapter: int | None = Field(None, description="only this chapter number (from get_outline)")


class OutlineIn(BaseModel):
    doc_id: str | None = Field(None, description="one book's outline (a doc_id from list_books); all books if omitted")


class SectionIn(BaseModel):
    chapter: int = Field(description="chapter number, from get_outline")
    section: int | None = Field(None, description="section number within the chapter; the whole chapter if omitted")
    doc_id: str | None = Field(None, description="the book (a doc_id from list_books); the first book if omitted")


class PassageIn(BaseModel):
    passage_id: str = Field(description="a passage_id from search_passages, ask_book or read_section")


def tool_app(tools: BookTools, on_bug: Any = None) -> FastAPI:
    app = FastAPI(title="docqa book tools", version="1.0.0",
                  summary="Read-only tools over docqa's books: list, search, ask, outline, read, get a passage",
                  docs_url="/docs", redoc_url=None, root_path_in_servers=False)
    http_errors.install(app, on_bug=on_bug)

    @app.post("/list_books", operation_id="list_books", summary="List the books", description=DESCRIPTIONS["list_books"])
    async def list_books() -> dict[str, Any]:
        return await tools.list_books()

    @app.post("/search_passages", operation_id="search_passages", summary="Search the books' passages",
              description=DESCRIPTIONS["search_passages"])
    async def search_passages(body: SearchIn) -> dict[str, Any]:
        return await tools.search_passages(body.query, body.k, body.doc_id, body.chapter)

    @app.post("/ask_book", operation_id="ask_book", summary="Answer a question from the books",
              description=DESCRIPTIONS["ask_book"])
    async def ask_book(body: AskIn) -> dict[str, Any]:
        return await tools.ask_book(body.question, body.k, body.doc_id, body.chapter)

    @app.post("/get_outline", operation_id="get_outline", summary="The table of contents",
              description=DESCRIPTIONS["get_outline"])
    async def get_outline(body: OutlineIn) -> dict[str, Any]:
        return await tools.get_outline(body.doc_id)

    @app.post("/read_section", operation_id="read_section", summary="Read a chapter or section",
              description=DESCRIPTIONS["read_section"])
    async def read_section(body: SectionIn) -> dict[str, Any]:
        return await tools.read_section(body.chapter, body.section, body.doc_id)

    @app.post("/get_passage", operation_id="get_passage", summary="Get one passage and its neighbours",
              description=DESCRIPTIONS["get_passage"])
    async def get_passage(body: PassageIn) -> dict[str, Any]:
        return await tools.get_passage(body.passage_id)

    return app
