"""Navigation text: contents pages, copyright and CIP pages, committee and name lists.

Such text names everything in the book and answers almost nothing, so it is evidence only for
questions about the book as an object (its price, editors, chapters). A passage is navigation
when the chunker marked it as contents, or when most of its lines end no sentence (and they are not a sliver of its text),
which is what a copyright page or a list of names looks like in any book.
"""
from __future__ import annotations

import re

from docqa.ingest.model import Passage

_SENTENCE_END = re.compile(r"[。！？；!?;]\s*[”’」』）)]*\s*$")
LIST_LINES = 0.6
LIST_CHARS = 0.25
MIN_LINES = 4


def is_navigation(p: Passage) -> bool:
    if p.kind == "toc":
        return True
    if p.kind == "body":
        return False
    lines = [ln.strip() for ln in p.text.splitlines() if ln.strip()]
    if len(lines) < MIN_LINES:
        return False
    listy = [ln for ln in lines if not _SENTENCE_END.search(ln)]
    # By lines and by characters: an author's note has name lines between long sentences.
    return (len(listy) >= LIST_LINES * len(lines)
            and sum(map(len, listy)) >= LIST_CHARS * sum(map(len, lines)))
