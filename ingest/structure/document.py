"""A whole document's outline: front matter, contents, chapters with their sections, and
back matter, every offset pointing into the original text so citations stay exact."""
from __future__ import annotations

import re

from docqa.ingest.model import Chapter, Document, FrontMatter, Section
from docqa.ingest.structure.contents import (
    add_listed_matter,
    merge_toc,
    parse_toc,
    toc_extent,
)
from docqa.ingest.structure.headings import (
    Block,
    apply_levels,
    chapter_sections,
    content_end,
    decimal_headings,
    find_units,
    group_title,
    line_at,
    make_head,
    markdown_ranks,
    name_group,
    parts_or_chapters,
)
from docqa.ingest.structure.lines import COMMITTEE, Line, name_key, split_lines
from docqa.ingest.structure.pages import find_page_breaks
from docqa.ingest.text import SENTENCE_END

# Lines only a copyright page has (the CIP record, ISBN, a rights notice): where such a
# paragraph starts, the copyright page starts, whatever front matter came before it.
_COPYRIGHT = re.compile(r"版权所有|侵权必究|图书在版编目|CIP\s*数据|ISBN[\s:：]*[0-9X\-]{10,}|"
                        r"all rights reserved|^copyright\b|^©", re.I)


COPYRIGHT_TITLE = "版权页"


def structure_document(doc: Document) -> Document:
    """Fill `front_matter`, `chapters`, `loose_sections`, `heading_spans`, `page_breaks`."""
    lines = split_lines(doc.text)
    apply_levels(lines, doc.heading_levels)
    parts_or_chapters(lines)
    decimal_headings(lines)
    named = {"front", "back", "toc", "committee"}
    in_toc: set[int] = set()
    toc_chapters: list[Chapter] = []
    toc_named: list[tuple[str, int, Line]] = []
    toc_blocks: dict[int, tuple[int, int, str]] = {}  # first line -> (head_last, end, title)
    for line in lines:
        if line.kind != "toc" or line.index in in_toc:
            continue
        first, head_last = name_group(lines, line.index)
        end = toc_extent(lines, head_last)
        title = group_title(lines, first, head_last)
        toc_blocks[first] = (head_last, end, title)
        in_toc.update(range(first, end))
        toc_chapters.extend(parse_toc(lines, head_last + 1, end, toc_named))

    doc.units, in_units = find_units(lines, in_toc)
    for k in in_units:
        if lines[k].kind in ("sub1", "sub2"):
            lines[k].kind = "text"
    body = [ln for ln in lines if ln.index not in in_toc and ln.kind != "blank"]
    mode_a = any(ln.kind == "chapter" for ln in body)
    md_ranks = markdown_ranks(lines, body, mode_a)
    chapter_md = min((ln.md_level for ln in body if ln.kind == "chapter" and ln.md_level), default=0)

    def rank(ln: Line) -> int | None:
        if ln.kind == "chapter":
            return 0
        if ln.kind == "section":
            return 1
        if ln.kind == "md":
            if mode_a:
                return ln.md_level - chapter_md if ln.md_level > chapter_md else -1
            return md_ranks.get(ln.md_level)
        return {"sub1": 2, "sub2": 3}.get(ln.kind)

    first_chapter = min((ln.index for ln in body if rank(ln) == 0), default=len(lines))
    copyright_at = _copyright_start(lines, body, first_chapter)
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        ln = lines[i]
        if i == copyright_at:
            blocks.append(Block("front", i, -1, COPYRIGHT_TITLE))
            i += 1
            continue
        if ln.index in toc_blocks:
            head_last, end, title = toc_blocks[ln.index]
            blocks.append(Block("toc", i, head_last, title))
            if end < len(lines):
                blocks.append(Block("loose", end))
            i = end
            continue
        if ln.index in in_toc or ln.kind == "blank":
            i += 1
            continue
        valid_name = ln.kind in named and (ln.kind == "back" or ln.index < first_chapter)
        if valid_name:
            first, head_last = name_group(lines, i)
            if ln.kind == "committee" and blocks and blocks[-1].kind == "front" \
                    and COMMITTEE.search(name_key(blocks[-1].title)):
                i = head_last + 1
                continue
            blocks.append(Block("front", first, head_last, group_title(lines, first, head_last)))
            i = head_last + 1
            continue
        if ln.kind == "part":
            head = make_head(lines, ln, 0)
            blocks.append(Block("part", i, head.last, head.title, head))
            i = head.last + 1
            continue
        r = rank(ln)
        if r == 0 or r == -1:
            kind = "chapter" if r == 0 else "loose"
            head = make_head(lines, ln, r)
            blocks.append(Block(kind, i, head.last, head.title, head))
            i = head.last + 1
            continue
        i += 1

    if not blocks or blocks[0].first > 0:
        blocks.insert(0, Block("loose", 0))
    _fill(doc, lines, blocks, rank, toc_chapters)
    add_listed_matter(doc, toc_named)
    toc_spans = [(f.start, f.end) for f in doc.front_matter if f.kind == "toc"]
    doc.page_breaks = find_page_breaks(doc.text, lines, doc.heading_spans + toc_spans)
    return doc


def _copyright_start(lines: list[Line], body: list[Line], first_chapter: int) -> int | None:
    """The first line of the paragraph holding the first copyright-page line before the body."""
    for ln in body:
        if ln.index >= first_chapter:
            return None
        if ln.kind == "text" and _COPYRIGHT.search(ln.text):
            k = ln.index
            while k > 0 and lines[k - 1].kind == "text":
                k -= 1
            return k
    return None


def _fill(doc: Document, lines: list[Line], blocks: list[Block], rank, toc_chapters: list[Chapter]) -> None:
    doc.front_matter, doc.chapters, doc.loose_sections, doc.heading_spans = [], [], [], []
    body_chapters: list[Chapter] = []
    parts: list[tuple[int, str]] = []  # the open parts, outermost first: (level, heading)
    for n, block in enumerate(blocks):
        stop = blocks[n + 1].first if n + 1 < len(blocks) else len(lines)
        if all(ln.kind == "blank" for ln in lines[block.first:stop]):
            continue
        start = next(ln.start for ln in lines[block.first:stop] if ln.kind != "blank")
        end = content_end(lines, block.first, stop)
        if block.head_last >= 0:
            doc.heading_spans.append((start, lines[block.head_last].end))
        for ln in lines[block.first:stop]:
            if ln.kind in ("committee", "title") and ln.index > block.head_last:
                doc.heading_spans.append((ln.start, ln.end))
        if block.kind in ("front", "toc"):
            kind = "toc" if block.kind == "toc" else "front_matter"
            doc.front_matter.append(FrontMatter(block.title, start, end, kind=kind))
            continue
        if block.kind == "part":
            level = 1 if "分" in block.head.line.marker else 0
            parts = [p for p in parts if p[0] < level] + [(level, block.head.heading)]
            lead = [ln for ln in lines[block.head_last + 1:stop] if ln.kind != "blank"]
            if lead:  # text under a part's heading before its first chapter
                doc.loose_sections.append(Section(None, "", lead[0].start, end, block.head.heading))
            continue
        first_body = block.head_last + 1 if block.head_last >= 0 else block.first
        heads = [make_head(lines, ln, rank(ln)) for ln in lines[first_body:stop]
                 if ln.kind != "blank" and (rank(ln) or 0) >= 1]
        sections = chapter_sections(doc, lines, heads, stop)
        if block.kind == "chapter":
            h = block.head
            number = h.number if h.number is not None else len(body_chapters) + 1
            body_chapters.append(Chapter(number, h.title, True, None, start, end, h.heading, sections,
                                         part=" › ".join(p[1] for p in parts)))
            continue
        if block.head is not None:
            sections_start = sections[0].start if sections else None
            lead_end = content_end(lines, block.first, line_at(lines, sections_start, stop))
            doc.loose_sections.append(Section(None, block.head.title, start, lead_end, block.head.heading))
        elif not sections or sections[0].start > start:
            lead_stop = line_at(lines, sections[0].start, stop) if sections else stop
            if any(ln.kind != "blank" for ln in lines[block.first:lead_stop]):
                doc.loose_sections.append(Section(None, "", start, content_end(lines, block.first, lead_stop)))
        doc.loose_sections.extend(sections)
    doc.chapters = merge_toc(body_chapters, toc_chapters)
    doc.heading_spans.sort()


_TITLE_MAX = 50


def guess_title(text: str) -> str | None:
    """The first `# ` heading, else the first short line with letters before the body starts."""
    lines = split_lines(text)
    for line in lines:
        if line.md_level == 1 and line.kind in ("md", "text"):
            return line.content
    for line in lines:
        if line.kind == "blank":
            continue
        letters = re.findall(r"[^\W\d_]", line.content)
        if len(letters) < 2:
            continue  # rules, page numbers, decorations
        if line.kind != "text" or len(line.content) > _TITLE_MAX or line.content[-1] in SENTENCE_END + ".":
            return None  # the body or a heading came first: no title line
        return re.sub(r"\s+", " ", line.content)
    return None
