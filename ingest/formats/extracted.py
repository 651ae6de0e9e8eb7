"""What every format reader hands on: plain text in reading order, with hints kept aside.

Readers of PDF, EPUB, DOCX and HTML all end in the same kind of text the `.txt` reader gives
(one paragraph a line, a blank line between paragraphs), so one set of structure and chunking
rules serves every format. What the text cannot say is kept next to it: the heading levels the
file itself declares (bookmarks, nav, heading styles, <h1>-<h6>) and, for paged files, the
offset where each physical page starts and its printed label.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_CJK = r"\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f“”‘’"
_CJK_END = re.compile(f"[{_CJK}]$")
_CJK_START = re.compile(f"^[{_CJK}]")
_HYPHEN_END = re.compile(r"[A-Za-z]-$")


@dataclass
class Extracted:
    text: str
    headings: list[tuple[int, int]] = field(default_factory=list)  # (offset, level 1..6)
    pages: list[tuple[int, int, str | None]] = field(default_factory=list)  # (offset, page, label)
    title: str | None = None
    author: str | None = None  # as the file's properties name it (see `file_author`)


# Names that tools and templates write into a file's author field on their own: they say who
# ran the tool, not who wrote the book.
_PLACEHOLDER_AUTHORS = frozenset({
    "python-docx", "microsoft office user", "microsoft office 用户", "administrator", "admin", "user", "owner",
    "unknown", "anonymous", "author", "作者", "用户", "未知", "root", "calibre", "pandoc", "libreoffice",
    "openoffice", "wps", "word", "microsoft word", "chromium", "google chrome"})


def file_author(*names: str | None) -> str | None:
    """The author(s) a file's properties give (EPUB dc:creator, DOCX/ODT/PDF author fields),
    joined by "、", or None. Several names in one field are split at ";" (how Word, pandoc and
    LibreOffice write them). Blanks, names a tool writes by itself ("python-docx",
    "Administrator") and a name given twice are dropped."""
    kept: list[str] = []
    for name in (part for whole in names for part in re.split(r"[;；]", whole or "")):
        name = re.sub(r"\s+", " ", name).strip().strip(",，")
        if name and name.lower() not in _PLACEHOLDER_AUTHORS and name not in kept and len(name) <= 200:
            kept.append(name)
    return "、".join(kept) or None


def join_wrapped(left: str, right: str) -> str:
    """Two pieces of one paragraph broken at a line end: CJK joined as is, Latin hyphenation
    undone, otherwise one space."""
    left, right = left.rstrip(), right.lstrip()
    if not left or not right:
        return left + right
    if _HYPHEN_END.search(left) and right[:1].islower():
        return left[:-1] + right
    if _CJK_END.search(left) or _CJK_START.match(right):
        return left + right
    return left + " " + right


class TextBuilder:
    """Paragraphs appended in reading order; offsets of headings and pages recorded as they come."""

    _COMPACT_EVERY = 4096

    def __init__(self, max_chars: int | None = None) -> None:
        """`max_chars`: past it, `TextLimitReached` (default: `limits.max_text_chars()`)."""
        from docqa.ingest.formats.limits import max_text_chars

        self._max = max_chars if max_chars is not None else max_text_chars()
        self._done: list[str] = []  # finished paragraphs joined in blocks: the text costs its characters, not a str each
        self._parts: list[str] = []
        self._len = 0
        self.headings: list[tuple[int, int]] = []
        self.pages: list[tuple[int, int, str | None]] = []
        self._open = False  # the last paragraph may still be continued
        self._pending: tuple[int, str | None] | None = None

    def _start_page_here(self, offset: int) -> None:
        if self._pending is not None:
            self.pages.append((offset, *self._pending))
            self._pending = None

    def _write(self, s: str) -> None:
        from docqa.ingest.formats.limits import TextLimitReached

        self._len += len(s)
        if self._len > self._max:
            raise TextLimitReached(self._max)
        self._parts.append(s)
        if len(self._parts) > self._COMPACT_EVERY:
            self._done.append("".join(self._parts[:-1]))
            del self._parts[:-1]

    def paragraph(self, text: str, level: int | None = None, *, open_: bool = False) -> None:
        """A new paragraph (a heading when `level` is given); `open_`: the next piece may continue it."""
        text = re.sub(r"[ \t\r\n\u00a0]+", " ", text).strip()
        if not text:
            return
        if self._len:
            self._write("\n\n")
        self._start_page_here(self._len)
        if level is not None:
            self.headings.append((self._len, level))
        self._write(text)
        self._open = open_ and level is None

    def table_row(self, cells: Iterable[str]) -> None:
        """A table row as one paragraph of its cells' texts; a text repeated in the next cell (a
        merged cell, which a reader may report once per grid column it spans) is kept once."""
        kept: list[str] = []
        for text in cells:
            if text and (not kept or kept[-1] != text):
                kept.append(text)
        self.paragraph("\t".join(kept))

    def continue_(self, text: str, *, open_: bool = False) -> bool:
        """Append to the last paragraph (a paragraph going on across a page end)."""
        text = re.sub(r"[ \t\r\n\u00a0]+", " ", text).strip()
        if not self._open or not text:
            return False
        from docqa.ingest.formats.limits import TextLimitReached

        last = self._parts[-1]
        joined = join_wrapped(last, text)
        self._len += len(joined) - len(last)
        if self._len > self._max:
            raise TextLimitReached(self._max)
        self._start_page_here(self._len - len(text))
        self._parts[-1] = joined
        self._open = open_
        return True

    def page(self, number: int, label: str | None = None) -> None:
        """Page `number` starts at the next character written (an empty page where the next does)."""
        self._start_page_here(self._len)
        self._pending = (number, label)

    @property
    def last_char(self) -> str:
        return self._parts[-1][-1:] if self._parts else ""

    @property
    def is_open(self) -> bool:
        return self._open

    def close(self) -> None:
        self._open = False

    def result(self, title: str | None = None, author: str | None = None) -> Extracted:
        self._start_page_here(self._len)
        return Extracted("".join(self._done + self._parts), self.headings, self.pages, title, author)
