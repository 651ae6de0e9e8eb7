"""The HTTP request and response models: pydantic lives here and at the settings, nowhere else.

Response models describe what `service.format` renders; request models check types and ranges
(the question's own rules live in `service.questions`, shared with the CLI).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from docqa.service.questions import MAX_K, MIN_K


class ErrorOut(BaseModel):
    detail: str


class OpenAIErrorBody(BaseModel):
    message: str
    type: str
    code: str | None


class OpenAIErrorOut(BaseModel):
    """Errors under /v1/* take OpenAI's shape, so OpenAI clients show the reason."""
    error: OpenAIErrorBody


class AskIn(BaseModel):
    question: str = Field(description="the question, in Chinese or English")
    k: int = Field(5, ge=MIN_K, le=MAX_K, strict=True, description="how many passages to cite")
    chapter: int | None = Field(None, strict=True, description="only passages of this chapter")
    doc_id: str | None = Field(None, description="only passages of this document")


class AnswerOut(BaseModel):
    text: str
    passage_id: str | None
    span: tuple[int, int] | None = Field(None, description="[start, end) in `text` of the expression the question "
                                                            "asks for (a date, a number, a name); null when none")


class PassageFields(BaseModel):
    passage_id: str
    doc_id: str
    title: str
    chapter: int | None
    chapter_title: str | None
    section: str | None
    subsection: str | None
    heading: str = Field(description="chapter › section › subsection as the book prints them")
    source: str
    start: int = Field(description="character offset in the source text")
    end: int
    page: int | None = Field(None, description="1-based page of the first character (paged sources)")
    page_end: int | None = Field(None, description="page of the last character")
    page_label: str | None = Field(None, description="the page's printed label, when the file defines one")
    part: str | None = Field(None, description="the parts above the chapter (第二编 物权), when there are")
    unit: str | None = Field(None, description="the numbered unit the passage is from (第十七条), when there is one")
    text: str


class CitationOut(PassageFields):
    score: float


class AskOut(BaseModel):
    answer: AnswerOut | None = Field(description="null when the book does not answer the question")
    refusal: str | None = Field(None, description="on a refusal, saying so in the question's language")
    citations: list[CitationOut] = Field(description="the passages the answer rests on; empty on a refusal")
    closest: list[CitationOut] = Field(default_factory=list,
                                       description="on a refusal, the nearest passages (they do not answer)")
    support: float | None = Field(None, ge=0.0, le=1.0,
                                  description="how well the book supports the answer, 0..1 (null: not calibrated for this model)")
    confidence: Literal["high", "low", "none"] | None = Field(
        None, description="high: answered; low: the closest sentence, which may not answer; none: refused")


class SearchOut(BaseModel):
    results: list[CitationOut]


class PassageOut(PassageFields):
    section_number: int | None
    heading_path: list[str]
    kind: str
    prev_id: str | None = Field(description="the passage before this one in reading order")
    next_id: str | None


class SubsectionOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    title: str


class SectionOutlineOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    number: int | None
    title: str
    subsections: list[SubsectionOut] = []


class ChapterOutlineOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    number: int
    title: str
    in_corpus: bool = Field(description="false: listed in the table of contents, text not in the corpus")
    toc_page: int | None = Field(description="page number printed in the table of contents")
    sections: list[SectionOutlineOut] = []


class FrontMatterOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    title: str


class DocumentOutlineOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    doc_id: str
    title: str
    front_matter: list[FrontMatterOut] = []
    chapters: list[ChapterOutlineOut] = []


class OutlineOut(BaseModel):
    documents: list[DocumentOutlineOut]


class ChapterPassageOut(PassageFields):
    section_number: int | None


class ChapterOut(BaseModel):
    doc_id: str
    number: int
    title: str
    part: str = Field("", description="the part the chapter is in (第二编 物权), \"\" for none")
    heading: str
    toc_page: int | None
    sections: list[SectionOutlineOut] = Field(description="the chapter's sections (only the one asked for, "
                                                          "under /sections/{m})")
    passages: list[ChapterPassageOut]


class HealthOut(BaseModel):
    status: str
    key_required: bool = Field(False, description="whether the other routes need 'Authorization: Bearer <key>'")


class ReadyOut(BaseModel):
    status: str
    model: str
    documents: int
    passages: int


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelListOut(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Any = None

    @field_validator("content")
    @classmethod
    def _content(cls, v: Any) -> Any:
        if v is None or isinstance(v, str):
            return v
        if isinstance(v, list) and all(isinstance(p, dict) and isinstance(p.get("type"), str) for p in v):
            return [ContentPart.model_validate(p) for p in v]
        raise ValueError('must be a string or a list of parts like {"type": "text", "text": "..."}')


class ChatIn(BaseModel):
    # Unknown fields (a frontend's tool definitions, sampling options) are dropped, not kept.
    model_config = ConfigDict(extra="ignore")
    model: str | None = None
    messages: list[ChatMessageIn]
    stream: bool = False
    n: int = Field(1, ge=1, le=1, strict=True,
                   description="choices per reply: docqa's answer is deterministic, so only 1")
    k: int = Field(5, ge=MIN_K, le=MAX_K, strict=True, description="passages to cite (docqa extension)")
    chapter: int | None = Field(None, strict=True)
    doc_id: str | None = None


class ChatMessageOut(BaseModel):
    role: Literal["assistant"]
    content: str
    annotations: list[dict[str, Any]] = Field(
        default_factory=list, description="OpenAI url_citation annotations: each [n] marker's passage page")


class UsageOut(BaseModel):
    prompt_tokens: int = Field(description="estimated: one per CJK character or Latin word (no LLM runs)")
    completion_tokens: int
    total_tokens: int


class ChoiceOut(BaseModel):
    index: int
    message: ChatMessageOut
    finish_reason: str


class ChatOut(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChoiceOut]
    answer: AnswerOut | None = Field(description="null when the book does not answer the question")
    refusal: str | None = None
    citations: list[CitationOut]
    closest: list[CitationOut] = Field(default_factory=list)
    support: float | None = Field(None, ge=0.0, le=1.0,
                                  description="how well the book supports the answer, 0..1 (null: not calibrated for this model)")
    confidence: Literal["high", "low", "none"] | None = Field(
        None, description="high: answered; low: the closest sentence, which may not answer; none: refused")
    retrieval_query: str = Field(description="what was searched: the question, with earlier turns for a follow-up")
    sources: list[dict[str, Any]] = Field(default_factory=list,
                                          description="the citations as Open WebUI sources (source, document, metadata)")
    usage: UsageOut | None = None


class DocumentOut(BaseModel):
    """A document of the library, as GET /documents lists it."""
    doc_id: str
    title: str
    source: str = Field(description="the file it was read from")
    format: str = Field(description="pdf, epub, docx, odt, html, txt, md or jsonl")
    pages: int | None = Field(description="pages of a paged source (PDF), else null")
    passages: int
    added_at: str | None = Field(description="when the document was added (UTC, ISO 8601)")
    checksum: str = Field(description="sha256 of the file; the same file uploaded again is not added twice")
    author: str | None = Field(None, description="the author the file's properties name (EPUB dc:creator, DOCX/ODT/PDF "
                                                 "author), several joined by '、'; null when the file names none")


class DocumentListOut(BaseModel):
    documents: list[DocumentOut]
    writable: bool = Field(description="whether POST and DELETE /documents can change this server's index")
    read_only_reason: str | None = None


class ChangeOut(BaseModel):
    added: list[DocumentOut] = []
    already: list[DocumentOut] = Field([], description="documents given again, found by checksum")
    renamed: dict[str, str] = Field({}, description="id wanted -> id given, when the wanted id was taken")
    removed: list[DocumentOut] = []
    documents: int = Field(description="documents in the library after the change")
    passages: int


class JobOut(BaseModel):
    job_id: str
    kind: Literal["add", "remove"]
    target: str = Field(description="the uploaded file's (safe) name, or the document id removed")
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    stage: str = Field(description="what the change is doing now")
    progress: float = Field(ge=0, le=1)
    error: str | None = Field(description="why a failed or cancelled change ended; the index is then unchanged")
    created_at: str
    finished_at: str | None
    result: ChangeOut | None = None


class UploadOut(BaseModel):
    status: Literal["queued", "exists"] = Field(
        description="queued: 202, follow the job; exists: 200, the same file is already in the library")
    job: JobOut | None = None
    document: DocumentOut | None = None
