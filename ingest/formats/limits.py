"""Limits on what reading one book may produce, so a small hostile file cannot cost gigabytes.

`max_text_chars`: the most text one PDF, EPUB, DOCX, ODT or HTML file may give. The longest
real Chinese books are a few million characters (资治通鉴 about 3 M; the longest web novels run
to 10-15 M), so the default of 20 M refuses no book while stopping an archive bomb of tiny
paragraphs (480 MB of `<p>图</p>`) after a fraction of it. Settings: DOCQA_MAX_TEXT_CHARS.

`DEFAULT_MAX_PART_BYTES`: the most one XML or XHTML part of an EPUB, DOCX or ODT may unpack to.
Parsing builds a tree that costs 40-60x the part's bytes for the densest markup (measured: a
16 MB part of `<p>图</p>` took 692 MB in the EPUB reader, of `<text:p>图</text:p>` 934 MB in the
ODT reader), so a 480 MB chapter is refused from the ZIP directory before anything is unpacked.
64 MB holds the 20 M characters of the text limit in UTF-8 with its markup: no real chapter,
Word body or ODT content is near it.

`max_page_chars`: the most characters PDFium may find on one PDF page before docqa lays it out.
Laying a page out costs about 27 us and 0.4 KB per character in Python (measured, AMD EPYC AVX2:
a 4 MB content stream of text operators gives 1.57 M characters, 43 s and 612 MB), so a page
past the limit is refused before it is laid out. The densest page measured, 6 pt Chinese on A4
with 0.5 cm margins printed by LibreOffice, has 4,986; a book page 1-2 thousand. The default
100,000 is 20x the densest (about 3 s to lay out). Setting: DOCQA_MAX_PAGE_CHARS.
"""
from __future__ import annotations

import os

from docqa.ingest.model import InputError

DEFAULT_MAX_TEXT_CHARS = 20_000_000
MAX_TEXT_SETTING = "DOCQA_MAX_TEXT_CHARS"
DEFAULT_MAX_PAGE_CHARS = 100_000
MAX_PAGE_SETTING = "DOCQA_MAX_PAGE_CHARS"
DEFAULT_MAX_PART_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_HTML_BYTES = DEFAULT_MAX_PART_BYTES
"""The most one HTML file may hold: lxml parses a page whole (its <main> is chosen from the whole
tree). Book HTML costs about 4x its bytes to read (benchmarks/bench_html_memory.py, AMD EPYC AVX2:
a 32 MB page of <p> paragraphs +130 MB peak RSS), so 64 MB stays near the 300 MB issue-20 target."""
DEFAULT_MAX_HTML_TAGS = 1_500_000
"""The most tags (`<` counted in the bytes, before parsing) one HTML file may hold: each costs
lxml and the walk about 156 bytes (measured: 16 MB of `<p>图</p>`, 3.4 M tags, +525 MB in 38 s;
8 MB, 1.7 M tags, +262 MB). The change and reading children add about 65 MB to the server's
process tree (a damaged PDF refused at once: +65 MB), so 1.5 M tags (~235 MB) keeps the densest
page under the 300 MB issue-20 target; 2 M allowed ~312 MB in the reader alone. A 32 MB page of
real paragraphs has ~0.1 M."""
XML_SUFFIXES = (".xml", ".xhtml", ".html", ".htm", ".opf", ".ncx", ".rels", ".svg")


class TextLimitReached(Exception):
    """Raised by `TextBuilder` past its limit; `read_formatted` names the file in a `TooLargeError`."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def max_text_chars() -> int:
    """DOCQA_MAX_TEXT_CHARS when set (a positive whole number), else `DEFAULT_MAX_TEXT_CHARS`."""
    return _count_setting(MAX_TEXT_SETTING, DEFAULT_MAX_TEXT_CHARS)


def max_page_chars() -> int:
    """DOCQA_MAX_PAGE_CHARS when set (a positive whole number), else `DEFAULT_MAX_PAGE_CHARS`."""
    return _count_setting(MAX_PAGE_SETTING, DEFAULT_MAX_PAGE_CHARS)


def _count_setting(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip().replace("_", "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) <= 0:
        raise InputError(f"{name}={os.environ[name]!r} is not a positive whole number",
                         hint=f"set it to a number of characters, e.g. {default}, or unset it")
    return int(raw)
