"""The printed table of contents: where it ends, its entries (one per line, run on in one
line, in table cells, with leaders or a page on the next line), and how its chapters merge
with the ones found in the text, so a chapter the book lists but the text lacks is kept as
such with its page."""
from __future__ import annotations

import re
from dataclasses import replace

from docqa.ingest.model import Chapter, Document, FrontMatter, Section
from docqa.ingest.structure.lines import (
    APPENDIX,
    BACK_NAMES,
    FRONT_NAMES,
    FRONT_PATTERN,
    HEADING_MAX,
    LEADER_CHARS,
    RUN_MARK,
    RUN_PAGE,
    RUN_SUB,
    Line,
    classify,
    clean_title,
    contents_form,
    is_short,
    name_key,
    normalize_name,
    toc_entry,
)


def _next_text(lines: list[Line], i: int) -> Line | None:
    for k in range(i + 1, len(lines)):  # indexes, not a slice: called once per heading
        if lines[k].kind != "blank":
            return lines[k]
    return None


def title_line(lines: list[Line], line: Line, toc: bool = False) -> Line | None:
    """The title printed on the line after a bare 第X章/第X节 marker, if there is one."""
    nxt = _next_text(lines, line.index)
    if nxt is None or nxt.kind != "text":
        return None
    text = toc_entry(nxt.text)[0] if toc else nxt.text
    return nxt if text and is_short(text, 40) else None


def _matter_name(s: str) -> bool:
    """`s` starts with the name of a front- or back-matter part (前言, 参考文献, 附录A …)."""
    m = re.match(rf"[^\s\d/／|｜{LEADER_CHARS}]+", s)
    if not m:
        return False
    key = name_key(m.group(0))
    return bool(key) and (key in FRONT_NAMES or key in BACK_NAMES or bool(APPENDIX.match(key))
                          or bool(FRONT_PATTERN.match(key)))


def _run_on_entries(line: Line) -> list[Line] | None:
    """The entries of a contents line that holds more than one, as lines of their own (offsets
    into the text kept); None when the line is a single entry or is not contents.

    A converter that drops the line breaks inside a paragraph (pandoc reading a .txt, a Word
    or ODT line break read as a space) runs a contents page into one line: "第一章 001 总论
    第一节 概述 / 001 第二节 …… 参考文献 228". Entries start at a chapter or section number,
    and after a page number at a front- or back-matter name or an 一、 heading; "第一章 001
    总论" (the number's page before the title, the title once on the next line) is split after
    the page. Every piece must be short and no sentence, and one must carry a page."""
    text = line.text
    if "第" not in text and not RUN_PAGE.search(text):
        return None
    cuts = {m.start() for m in RUN_MARK.finditer(text)}
    for m in RUN_PAGE.finditer(text):
        rest = text[m.end():].lstrip()
        if RUN_SUB.match(rest) or _matter_name(rest):
            cuts.add(m.end())
    bounds = sorted(cuts | {0, len(text)})
    spans = []
    for a, b in zip(bounds, bounds[1:]):
        piece = text[a:b]
        first = RUN_MARK.match(piece.lstrip())
        lead = len(piece) - len(piece.lstrip())
        after = re.match(r"\s+(\d{1,3})\s+\S", piece[lead + first.end():]) if first else None
        if after:
            mid = a + lead + first.end() + after.end(1)
            rest = text[mid:b]
            if toc_entry(rest)[1] is None:
                spans += [(a, mid), (mid, b)]
                continue
            # "第三章 021 结论 参考文献 228": the title, then a listed part with its page
            part = next((m.start() for m in re.finditer(r"(?<=\s)\S", rest) if _matter_name(rest[m.start():])), None)
            if part is not None:
                spans += [(a, mid), (mid, mid + part), (mid + part, b)]
                continue
        spans.append((a, b))
    pieces = []
    for a, b in spans:
        raw = text[a:b]
        stripped = raw.strip()
        if not stripped:
            continue
        a += len(raw) - len(raw.lstrip())
        pieces.append(Line(line.index, line.start + a, line.start + a + len(stripped), stripped))
    if len(pieces) < 2 or not any(toc_entry(pc.text)[1] is not None for pc in pieces):
        return None
    if not all(is_short(contents_form(pc.text), HEADING_MAX) for pc in pieces):
        return None
    for pc in pieces:
        classify(pc)
    return pieces


def toc_extent(lines: list[Line], head_last: int) -> int:
    """Index one past the last line of a contents block whose heading ends at `head_last`.

    The block ends where body text starts: at a chapter number seen twice (the body's 第一章
    after the listing) or just before the headings that precede the first prose paragraph.
    """
    seen: set[int] = set()
    for j in range(head_last + 1, len(lines)):
        line = lines[j]
        if line.kind == "blank":
            continue
        pieces = _run_on_entries(line)
        if pieces:
            numbers = [pc.number for pc in pieces if pc.kind == "chapter"]
            if seen.intersection(numbers):
                return j
            seen.update(numbers)
            continue
        if line.kind == "chapter":
            if line.number in seen:
                return j
            seen.add(line.number)
            continue
        if is_short(contents_form(line.text), 60):
            continue
        end = j
        for k in range(j - 1, head_last, -1):
            back = lines[k]
            if back.kind == "blank":
                continue
            if toc_entry(back.text)[1] is not None:
                break
            end = k
            if back.kind in ("chapter", "front", "back", "toc", "committee"):
                break
        return end
    return len(lines)


def parse_toc(lines: list[Line], first: int, last: int,
               named: list[tuple[str, int, Line]] | None = None) -> list[Chapter]:
    """Chapters and sections listed in the contents; named entries (参考文献 228, 前言 i) go to `named`."""
    listed: list[Line] = []
    for line in lines[first:last]:
        listed.extend(_run_on_entries(line) or [line])
    lines = [replace(line, index=k) for k, line in enumerate(listed)]
    first, last = 0, len(lines)
    chapters: list[Chapter] = []
    skip: set[int] = set()
    pending: Section | Chapter | Line | None = None
    for line in lines:
        if line.kind == "blank" or line.index in skip:
            continue
        title, page = toc_entry(line.title if line.kind in ("chapter", "section") else line.text)
        if line.kind == "chapter":
            if not title:
                nxt = title_line(lines, line, toc=True)
                if nxt is not None and nxt.index < last:
                    skip.add(nxt.index)
                    title, page2 = toc_entry(nxt.text)
                    page = page if page is not None else page2
            chapter = Chapter(line.number, title, in_corpus=False, toc_page=page,
                              heading=clean_title(f"{line.marker} {title}"))
            chapters.append(chapter)
            pending = chapter if page is None else None
        elif line.kind == "section" and chapters:
            if not title:
                nxt = title_line(lines, line, toc=True)
                if nxt is not None and nxt.index < last:
                    skip.add(nxt.index)
                    title, page = toc_entry(nxt.text)
            section = Section(line.number, title, line.start, line.end,
                              heading=clean_title(f"{line.marker} {title}"), toc_page=page)
            chapters[-1].sections.append(section)
            pending = section if page is None else None
        elif not title and page is not None and pending is not None:
            if isinstance(pending, Line):  # a part's name, its page on the next line
                if named is not None:
                    named.append((normalize_name(pending.text), page, pending))
            else:
                pending.toc_page = page
            pending = None
        elif title and line.kind in ("text", "front", "back"):
            key = name_key(title)
            if key in FRONT_NAMES or key in BACK_NAMES or APPENDIX.match(key) or FRONT_PATTERN.match(key):
                if page is None:
                    pending = line
                elif named is not None:
                    named.append((normalize_name(title), page, line))
    return chapters


def add_listed_matter(doc: Document, listed: list[tuple[str, int, Line]]) -> None:
    """Front and back matter the contents list with a page: the page goes on the part in the
    text, or the part is added as known only from the contents (like a missing chapter)."""
    for title, page, line in listed:
        key = name_key(title)
        present = next((fm for fm in doc.front_matter if fm.kind != "toc" and name_key(fm.title) == key), None)
        if present is not None:
            present.toc_page = present.toc_page or page
            continue
        kind = "back_matter" if key in BACK_NAMES or APPENDIX.match(key) else "front_matter"
        doc.front_matter.append(FrontMatter(title, line.start, line.end, kind=kind, toc_page=page,
                                            in_corpus=False))


def merge_toc(body: list[Chapter], toc: list[Chapter]) -> list[Chapter]:
    """Chapters from the text, plus the ones the contents list but the text lacks."""
    by_number = {c.number: c for c in toc}
    merged = []
    for chapter in body:
        listed = by_number.get(chapter.number)
        if listed is not None:
            chapter.toc_page = listed.toc_page
            if not chapter.title:
                chapter.title, chapter.heading = listed.title, listed.heading
            pages = {sec.number: sec.toc_page for sec in listed.sections}
            for sec in chapter.sections:
                sec.toc_page = pages.get(sec.number)
        merged.append(chapter)
    present = {c.number for c in body}
    merged.extend(c for c in toc if c.number not in present)
    if any(c.part for c in body):
        return merged  # numbers start again in each part: the text's order is the order
    order = {c.number: i for i, c in enumerate(toc)}
    merged.sort(key=lambda c: (c.number if toc else 0, order.get(c.number, 0)))
    return merged
