"""Plain records that cross module lines: ingest -> index -> service.

Offsets (`start`, `end`) are character offsets into the decoded source text
(BOM removed, line endings untouched), so `source_text[start:end]` gives back
what was cited. For a JSONL document they index into that line's `text`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from docqa.errors import InputError


@dataclass
class Subsection:
    title: str
    start: int
    end: int


@dataclass
class Section:
    number: int | None
    title: str
    start: int
    end: int
    heading: str = ""
    subsections: list[Subsection] = field(default_factory=list)
    # For a chapter known only from the contents: the page listed there (start/end then
    # point at the contents entry, the only place the section is mentioned).
    toc_page: int | None = None


@dataclass
class Chapter:
    number: int
    title: str
    in_corpus: bool
    toc_page: int | None = None
    start: int | None = None
    end: int | None = None
    heading: str = ""
    sections: list[Section] = field(default_factory=list)
    # The parts above the chapter it belongs to ("第二编 物权 › 第一分编 通则"), "" for none:
    # chapter numbers are unique within their part, not always within the document.
    part: str = ""


@dataclass
class FrontMatter:
    title: str
    start: int
    end: int
    kind: str = "front_matter"  # "toc" for the table of contents, "back_matter" after the body
    # Back matter known only from the contents (e.g. 参考文献 with its page): start/end point
    # at the contents entry and no passages are cut from it.
    toc_page: int | None = None
    in_corpus: bool = True


@dataclass
class Document:
    doc_id: str
    title: str
    source: str
    text: str
    checksum: str
    front_matter: list[FrontMatter] = field(default_factory=list)
    chapters: list[Chapter] = field(default_factory=list)
    # Body text that belongs to no chapter (a document with no headings, or text before
    # the first chapter that is not front matter) becomes untitled sections here.
    loose_sections: list[Section] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    line: int | None = None
    # Spans of heading lines (a heading and its title on the next line count as one).
    heading_spans: list[tuple[int, int]] = field(default_factory=list)
    # Whitespace gaps (start, end) between two blocks of one sentence split by a page end:
    # chunking joins across them, citations keep the original offsets.
    page_breaks: list[tuple[int, int]] = field(default_factory=list)
    # Paged sources (PDF): (offset where a physical page starts, its 1-based number, its
    # printed label or None), in text order.
    pages: list[tuple[int, int, str | None]] = field(default_factory=list)
    # Heading levels the file itself declares (bookmarks, nav, heading styles, <h1>-<h6>):
    # (offset of the heading's line, level 1 = top).
    heading_levels: list[tuple[int, int]] = field(default_factory=list)
    # Numbered units below the section (第N条): (start, end, number, label as written, "第十七条").
    units: list[tuple[int, int, int, str]] = field(default_factory=list)


@dataclass
class Passage:
    passage_id: str
    doc_id: str
    title: str
    chapter: int | None
    chapter_title: str | None
    section: str | None
    section_number: int | None
    subsection: str | None
    heading_path: list[str]
    source: str
    start: int
    end: int
    text: str
    kind: str = "body"
    # Paged sources (PDF): 1-based physical pages of the passage's first and last character,
    # and the printed label of the first page when the file defines labels (e.g. "xii").
    page: int | None = None
    page_end: int | None = None
    page_label: str | None = None
    # The parts above its chapter ("第一编 总则") and the numbered unit it is from ("第十七条",
    # its number 17): a passage never crosses the start of a unit.
    part: str | None = None
    unit: str | None = None
    unit_number: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Passage":
        return cls(**data)


@dataclass
class Corpus:
    root: str
    documents: list[Document]
    passages: list[Passage]


class IngestError(InputError, ValueError):
    """A corpus input that cannot be read; the message names the file and place."""


class UnsupportedFormatError(IngestError):
    """A file of a kind docqa does not read, or whose content is not what its name says."""

    status_code = 415


class TooLargeError(IngestError):
    """A file over a size limit, as stored or as unpacked (a ZIP container)."""

    status_code = 413
