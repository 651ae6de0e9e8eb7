"""Page breaks in text extracted page by page: where a page ends mid-sentence the break is
not a paragraph break, so passages are not cut there."""
from __future__ import annotations

import re
from bisect import bisect_left

from docqa.ingest.structure.lines import (
    CHAPTER,
    LINE_END,
    LIST_START,
    SECTION,
    UNIT,
    Line,
)
from docqa.ingest.text import CLOSERS, HAN


def find_page_breaks(text: str, lines: list[Line], skip: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Gaps between a paragraph that stops mid-sentence and the body text that finishes it.

    Lines inside `skip` spans (headings, the contents) never take part.
    """
    starts = [ln.start for ln in lines]
    covered: set[int] = set()
    for s, e in skip:
        for k in range(bisect_left(starts, s), bisect_left(starts, max(e, s + 1))):
            covered.add(k)

    def skipped(line: Line) -> bool:
        return line.index in covered

    blocks: list[tuple[int, int]] = []
    for ln in lines:
        if ln.kind == "blank":
            continue
        if blocks and not _blank_between(lines, blocks[-1][1], ln.index):
            blocks[-1] = (blocks[-1][0], ln.index)
        else:
            blocks.append((ln.index, ln.index))
    breaks = []
    for (a0, a1), (b0, _) in zip(blocks, blocks[1:]):
        a_text = text[lines[a0].start:lines[a1].end]
        b_line = lines[b0]
        if skipped(lines[a1]) or skipped(b_line):
            continue
        if _unfinished(a_text) and _continues(b_line.text):
            breaks.append((lines[a1].end, b_line.start))
    return breaks


def _blank_between(lines: list[Line], a: int, b: int) -> bool:
    return any(ln.kind == "blank" for ln in lines[a + 1:b])


def _unfinished(block: str) -> bool:
    last = block[-1]
    if last in LINE_END or last in CLOSERS or last in ":：":
        return False
    return bool(re.search(r"[，。；、,;]", block)) and len(block) >= 10


def _continues(line: str) -> bool:
    if LIST_START.match(line) or CHAPTER.match(line) or SECTION.match(line) or UNIT.match(line):
        return False
    first = line[0]
    return bool(re.match(f"[{HAN}0-9a-z]", first))
