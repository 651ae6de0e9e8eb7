"""Find a book's parts in plain text: front matter, contents, chapters, sections, subsections.

Only general typesetting conventions are used (第X章/第X节, 一、/（一）, Markdown `#`, the
usual names of front and back matter), so any Chinese book or document can be read, and
every offset points into the original text so citations stay exact.

Headings are ranked: 0 chapter, 1 section, 2 一、, 3 （一）. Inside a chapter the highest
rank present makes the sections and the next one down the subsections, so a book that goes
第X章 → 一、 → （一） gets the same shape as one that goes 第X章 → 第X节 → 一、.

Modules, in the order data flows: `lines` (one line on its own), `contents` (the printed
contents), `headings` (ranks in the body), `pages` (page breaks), `document` (the outline).
"""
from docqa.ingest.structure.document import (
    COPYRIGHT_TITLE,
    guess_title,
    structure_document,
)
from docqa.ingest.structure.lines import Line, cn_number, split_lines, toc_entry
from docqa.ingest.structure.pages import find_page_breaks

__all__ = [
    "COPYRIGHT_TITLE",
    "Line",
    "cn_number",
    "find_page_breaks",
    "guess_title",
    "split_lines",
    "structure_document",
    "toc_entry",
]
