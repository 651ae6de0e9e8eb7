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
"""
from __future__ import annotations

import os

from docqa.ingest.model import InputError

DEFAULT_MAX_TEXT_CHARS = 20_000_000
MAX_TEXT_SETTING = "DOCQA_MAX_TEXT_CHARS"
DEFAULT_MAX_PART_BYTES = 64 * 1024 * 1024
XML_SUFFIXES = (".xml", ".xhtml", ".html", ".htm", ".opf", ".ncx", ".rels", ".svg")


class TextLimitReached(Exception):
    """Raised by `TextBuilder` past its limit; `read_formatted` names the file in a `TooLargeError`."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def max_text_chars() -> int:
    """DOCQA_MAX_TEXT_CHARS when set (a positive whole number), else `DEFAULT_MAX_TEXT_CHARS`."""
    raw = os.environ.get(MAX_TEXT_SETTING, "").strip().replace("_", "")
    if not raw:
        return DEFAULT_MAX_TEXT_CHARS
    if not raw.isdigit() or int(raw) <= 0:
        raise InputError(f"{MAX_TEXT_SETTING}={os.environ[MAX_TEXT_SETTING]!r} is not a positive whole number",
                         hint=f"set it to a number of characters, e.g. {DEFAULT_MAX_TEXT_CHARS}, or unset it")
    return int(raw)
