"""Headings found in the body ranked into chapters, sections and subsections.

Headings are ranked: 0 chapter, 1 section, 2 一、, 3 （一）. Inside a chapter the highest
rank present makes the sections and the next one down the subsections, so a book that goes
第X章 → 一、 → （一） gets the same shape as one that goes 第X章 → 第X节 → 一、."""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from docqa.ingest.model import Document, Section, Subsection
from docqa.ingest.structure.contents import title_line
from docqa.ingest.structure.lines import (
    DECIMAL,
    HEADING_MAX,
    UNIT,
    UNIT_START,
    Line,
    clean_title,
    cn_number,
    is_short,
    normalize_name,
    toc_entry,
)
from docqa.ingest.text import HAN


@dataclass
class _Head:
    """A heading found in the body: its lines, rank and the names it is cited by."""
    first: int
    last: int
    rank: int
    number: int | None
    title: str
    heading: str
    line: Line


@dataclass
class Block:
    kind: str  # front toc chapter loose
    first: int  # first line index of the block
    head_last: int = -1  # last heading line (-1: no heading)
    title: str = ""
    head: _Head | None = None


def parts_or_chapters(lines: list[Line]) -> None:
    """第N篇/卷/部/编 are chapters in a book without 第N章 (or 回, 讲); otherwise they are parts
    grouping chapters (a code's 编 and 分编), kept so that chapter numbers that start again
    in each part stay told apart."""
    chapters = any(ln.kind == "chapter" for ln in lines)
    for ln in lines:
        if ln.kind == "part" and not chapters:
            ln.kind = "chapter"


_UNIT_ENDS = {"chapter", "section", "part", "md", "front", "back", "toc", "committee", "title"}


def find_units(lines: list[Line], skip: set[int]) -> tuple[list[tuple[int, int, int, str]], set[int]]:
    """The numbered units (第N条) in the body: (start, end, number, label) and the indexes of
    the lines inside them after their first. A unit runs to the next unit or heading, so a
    "（一）…" list inside one is part of it, not a heading of its own."""
    starts = []
    for ln in lines:
        if ln.kind == "text" and ln.index not in skip:
            m = UNIT.match(ln.text)
            if m:
                starts.append((ln, re.sub(r"\s+", "", m.group(1))))
    units, inside = [], set()
    for n, (ln, label) in enumerate(starts):
        limit = starts[n + 1][0].index if n + 1 < len(starts) else len(lines)
        stop = next((k for k in range(ln.index + 1, limit)
                     if lines[k].kind in _UNIT_ENDS or k in skip), limit)
        units.append((ln.start, content_end(lines, ln.index, stop), cn_number(label[1:-1]), label))
        inside.update(range(ln.index + 1, stop))
    return units, inside


def decimal_headings(lines: list[Line]) -> None:
    """Decimal-numbered headings ("1.1 研究背景", "1.1.1 数据"), common in technical books:
    N.M is a section of chapter N and N.M.K a subsection of section N.M, accepted only when
    each number follows the one before it under the same parent (N.1, N.2, … from each
    chapter's start), so a figure that starts a short line ("1.5 亿元") is not taken for one.
    In a book without 第N章 headings, a line "N 标题" is chapter N when chapters run 1, 2, …
    in order and the first numbered line after it is N.1 (or, once one chapter was confirmed
    so, when it simply comes next: a last chapter often has no sections)."""
    found = []
    for ln in lines:
        if ln.kind != "text" or ln.md_level:
            continue
        m = DECIMAL.match(toc_entry(ln.content)[0])
        if m and is_short(m.group(2), 40) and not UNIT_START.match(m.group(2)):
            # the title as written: on a contents line it keeps its page number for toc_entry
            title = clean_title(ln.content[ln.content.index(m.group(2)[0], len(m.group(1))):])
            found.append((ln, [int(x) for x in re.split(r"[.．]", m.group(1))], title))
    has_chapters = any(ln.kind == "chapter" for ln in lines)
    tops = {id(ln) for k, (ln, nums, _) in enumerate(found) if len(nums) == 1 and not has_chapters
            and any(n2[:2] == [nums[0], 1] for _, n2, _ in found[k + 1:k + 2])}
    chapter, counts = None, {}
    pos = {id(ln): k for k, (ln, _, _) in enumerate(found)}
    for ln in lines:
        if ln.kind == "chapter" and id(ln) not in pos:
            chapter, counts = ln.number, {}
            continue
        k = pos.get(id(ln))
        if k is None:
            continue
        _, nums, title = found[k]
        if len(nums) == 1:
            if nums[0] == (chapter or 0) + 1 and (id(ln) in tops or (tops and chapter is not None)):
                ln.kind, ln.marker, ln.number, ln.title = "chapter", str(nums[0]), nums[0], title
                chapter, counts = nums[0], {}
            continue
        parent, last = tuple(nums[:-1]), nums[-1]
        if chapter is None or nums[0] != chapter or len(nums) > 4:
            continue
        if len(nums) > 2 and counts.get(parent[:-1], 0) != parent[-1]:
            continue  # N.M.K needs N.M to be the section it is under
        if last != counts.get(parent, 0) + 1:
            continue
        counts[parent] = last
        for key in [key for key in counts if len(key) > len(parent) and key[:len(parent)] == parent]:
            del counts[key]
        kind = {2: "section", 3: "sub1", 4: "sub2"}[len(nums)]
        ln.kind, ln.marker, ln.number, ln.title = kind, ".".join(map(str, nums)), last, title


def apply_levels(lines: list[Line], levels: list[tuple[int, int]]) -> None:
    """Heading levels the file declares (PDF bookmarks, heading styles, <h1>-<h6>) mark lines
    the text rules would read as body text as Markdown-like headings of that level."""
    if not levels:
        return
    by_start = {ln.start: ln for ln in lines if ln.kind != "blank"}
    for offset, level in levels:
        ln = by_start.get(int(offset))
        if ln is None:
            continue
        if ln.kind == "text" and ln.content and len(ln.content) <= HEADING_MAX + 10:
            ln.kind, ln.md_level, ln.title = "md", int(level), clean_title(ln.content)
        elif ln.kind in ("chapter", "section"):
            ln.md_level = int(level)


def name_group(lines: list[Line], i: int) -> tuple[int, int]:
    """A run of front-matter names with nothing between them, e.g. "Preface" / "总序"."""
    last = i
    if lines[i].kind == "committee":
        return i, i
    for k in range(i + 1, len(lines)):
        ln = lines[k]
        if ln.kind == "blank":
            continue
        if ln.kind not in ("front", "back", "toc"):
            break
        last = ln.index
    return i, last


def group_title(lines: list[Line], first: int, last: int) -> str:
    titles = [ln.title for ln in lines[first:last + 1] if ln.kind != "blank"]
    cjk = [t for t in titles if re.search(f"[{HAN}]", t)]
    return (cjk or titles)[0]


def markdown_ranks(lines: list[Line], body: list[Line], mode_a: bool) -> dict[int, int]:
    """Without 第X章 markers, Markdown heading levels map to chapter, section, subsection."""
    if mode_a:
        return {}
    md = [ln for ln in body if ln.kind == "md"]
    if not md:
        return {}
    top = min(ln.md_level for ln in md)
    tops = [ln for ln in md if ln.md_level == top]
    first_text = next((ln for ln in lines if ln.kind != "blank"), None)
    if len(tops) == 1 and tops[0] is first_text:
        tops[0].kind = "title"  # the document's own title, not a chapter
        md = md[1:]
    levels = sorted({ln.md_level for ln in md})
    return {level: r for r, level in enumerate(levels)}


def make_head(lines: list[Line], ln: Line, r: int) -> _Head:
    title, last = ln.title, ln.index
    if not title and ln.kind in ("chapter", "section", "part"):
        nxt = title_line(lines, ln)
        if nxt is not None:
            title, last = normalize_name(nxt.text), nxt.index
    if ln.kind in ("chapter", "section", "part"):
        heading = clean_title(f"{ln.marker} {title}")
    else:
        heading = clean_title(ln.content)
    return _Head(ln.index, last, r, ln.number, title, heading, ln)


def content_end(lines: list[Line], first: int, stop: int) -> int:
    """Offset just after the last non-blank line in lines[first:stop]."""
    for ln in reversed(lines[first:stop]):
        if ln.kind != "blank":
            return ln.end
    return lines[first].end


def line_at(lines: list[Line], offset: int | None, default: int) -> int:
    if offset is None:
        return default
    k = bisect_left(lines, offset, key=lambda ln: ln.start)  # no list per call: once per block
    while lines[k].kind == "blank":
        k += 1
    return k


def chapter_sections(doc: Document, lines: list[Line], heads: list[_Head], stop: int) -> list[Section]:
    if not heads:
        return []
    top = min(h.rank for h in heads)
    tops = [h for h in heads if h.rank == top]
    firsts = [h.first for h in heads]  # in reading order
    sections = []
    for n, h in enumerate(tops):
        next_first = tops[n + 1].first if n + 1 < len(tops) else stop
        end = content_end(lines, h.first, next_first)
        doc.heading_spans.append((h.line.start, lines[h.last].end))
        number = h.number if h.number is not None else n + 1
        section = Section(number, h.title, h.line.start, end, h.heading)
        inner = heads[bisect_right(firsts, h.first):bisect_left(firsts, next_first)]
        if inner:
            sub_rank = min(g.rank for g in inner)
            subs = [g for g in inner if g.rank == sub_rank]
            for m, g in enumerate(subs):
                sub_stop = subs[m + 1].first if m + 1 < len(subs) else next_first
                doc.heading_spans.append((g.line.start, lines[g.last].end))
                section.subsections.append(
                    Subsection(g.heading, g.line.start, content_end(lines, g.first, sub_stop)))
        sections.append(section)
    return sections
