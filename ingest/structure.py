"""Find a book's parts in plain text: front matter, contents, chapters, sections, subsections.

Only general typesetting conventions are used (第X章/第X节, 一、/（一）, Markdown `#`, the
usual names of front and back matter), so any Chinese book or document can be read, and
every offset points into the original text so citations stay exact.

Headings are ranked: 0 chapter, 1 section, 2 一、, 3 （一）. Inside a chapter the highest
rank present makes the sections and the next one down the subsections, so a book that goes
第X章 → 一、 → （一） gets the same shape as one that goes 第X章 → 第X节 → 一、.
"""
from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, replace

from docqa.ingest.model import Chapter, Document, FrontMatter, Section, Subsection
from docqa.ingest.text import CLOSERS, HAN, SENTENCE_END

HEADING_MAX = 50  # a heading line is short; longer lines are body text
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9, "壹": 1, "贰": 2, "貳": 2, "叁": 3, "參": 3, "肆": 4,
              "伍": 5, "陆": 6, "陸": 6, "柒": 7, "捌": 8, "玖": 9}
_CN_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_NUM = r"[0-9０-９]+|[一二三四五六七八九十百千零〇两兩壹贰貳叁參肆伍陆陸柒捌玖拾佰仟]+"
# 章 is a chapter; a classical novel's 回 and a lecture series' 讲/課 are too. 篇, 卷, 部, 编
# group chapters into parts: they are read as chapters only in a book that has no 章.
_CHAPTER = re.compile(rf"^(第\s*(?:{_NUM})\s*[章回讲講课課])\s*[:：.．、]?\s*(.*)$")
_PART = re.compile(rf"^(第\s*(?:{_NUM})\s*(?:分[编編]|[篇卷部编編]|部分))\s*[:：.．、]?\s*(.*)$")
# "第五节 生活、卫生。": a short heading some texts end with a full stop.
_STOPPED_HEAD = re.compile(rf"^第\s*(?:{_NUM})\s*(?:[章回讲講课課节節篇卷部编編]|分[编編]|部分)"
                           r"[\s:：.．、]*[^，,；;。！？]{1,20}。$")
# A numbered unit below the section (a law's 第十七条, a contract's 第3条): it starts a line and
# is followed by a space, a colon or nothing, so "第三条规定的…" in prose is not one.
_UNIT = re.compile(rf"^(第\s*(?:{_NUM})\s*条)(?:$|[\s\u3000:：、.．]+)")
_CHAPTER_EN = re.compile(r"^(chapter\s+(?:\d+|[ivxlc]+))\b\s*[:.\-—]?\s*(.*)$", re.I)
_SECTION = re.compile(rf"^(第\s*(?:{_NUM})\s*[节節])\s*[:：.．、]?\s*(.*)$")
# "1.2 标题", "1.2.3 标题": decimal numbering, accepted only where the numbers run in sequence
# under their chapter (see `_decimal_headings`), so a figure at a line's start is not a heading.
_UNIT_START = re.compile(r"^[万亿倍元吨‰]")  # "1.3 万吨": a quantity, not a heading
_DECIMAL = re.compile(r"^(\d{1,2}(?:[.．]\d{1,2}){0,3})[.．、]?\s+([^\d\s%％.．,，、].{0,40})$")
_SUB1 = re.compile(r"^([一二三四五六七八九十百]+\s*[、．.])\s*(\S.*)$")
_SUB2 = re.compile(r"^([（(]\s*[一二三四五六七八九十百]+\s*[)）])\s*(\S.*)$")
_MD = re.compile(r"^ {0,3}(#{1,6})\s*([^#\s].*?)(?:\s+#+)?\s*$")
_SENTENCE_END = SENTENCE_END + "…"  # a line ending in an ellipsis is finished too
_LEADER_CHARS = ".．·…‥⋯_—\\-・•‧∙"
_PAGE = re.compile(rf"^(.*?)(?:\s*[/／|｜]\s*|\s*[{_LEADER_CHARS}]{{2,}}\s*|\s+)(\d{{1,4}})$|^(\d{{1,4}})$")
_LONG_LEADERS = re.compile(rf"\s*[{_LEADER_CHARS}]{{4,}}\s*")
_CELLS = re.compile(r"\s*[|｜]\s*")
_PAGE_TAIL = re.compile(r"\d\s*[|｜]?$")
# Where a contents paragraph whose lines a converter ran together holds its next entry: before
# a chapter or section number, or before a front- or back-matter name or an 一、 heading right
# after a page number (see `_run_on_entries`).
_RUN_MARK = re.compile(rf"(?<!\S)第\s*(?:{_NUM})\s*(?:[章回讲講课課节節篇卷部编編]|部分)")
_RUN_PAGE = re.compile(rf"(?:(?<=\s)|(?<=[/／{_LEADER_CHARS}]))\d{{1,4}}(?=\s)")
_RUN_SUB = re.compile(r"[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[)）]")
_LIST_START = re.compile(r"^([（(]?\d+[)）.、．]|[（(][一二三四五六七八九十]+[)）]|[一二三四五六七八九十]+、|[-*+•·>|#])")

_FRONT_NAMES = {
    "内容简介", "内容提要", "内容摘要", "提要", "简介", "摘要", "总序", "序", "序言", "自序",
    "代序", "总序言", "前言", "引言", "导言", "目录", "目次", "作者简介", "著者简介",
    "编者简介", "作者介绍", "译者简介", "出版说明", "出版前言", "编辑说明", "编写说明",
    "凡例", "编委会", "写在前面", "致读者", "献词", "preface", "foreword", "contents",
    "tableofcontents", "abstract", "abouttheauthor", "abouttheauthors", "dedication",
}
_BACK_NAMES = {
    "后记", "编后记", "译后记", "跋", "致谢", "鸣谢", "参考文献", "主要参考文献", "索引",
    "afterword", "acknowledgements", "acknowledgments", "references", "bibliography",
    "index", "postscript",
}
_TOC_NAMES = {"目录", "目次", "contents", "tableofcontents"}
_FRONT_PATTERN = re.compile(r"^(第.版|再版|修订版|新版)?(序|序言|前言|说明|后记)$")
_APPENDIX = re.compile(r"^(附录|appendix)")
_COMMITTEE = re.compile(r"(编委会|委员会)$")
# Lines only a copyright page has (the CIP record, ISBN, a rights notice): where such a
# paragraph starts, the copyright page starts, whatever front matter came before it.
_COPYRIGHT = re.compile(r"版权所有|侵权必究|图书在版编目|CIP\s*数据|ISBN[\s:：]*[0-9X\-]{10,}|"
                        r"all rights reserved|^copyright\b|^©", re.I)
COPYRIGHT_TITLE = "版权页"


@dataclass
class Line:
    index: int
    start: int
    end: int
    text: str
    kind: str = "text"  # blank text chapter section sub1 sub2 md title front back toc committee
    content: str = ""  # the text without Markdown heading marks
    marker: str = ""
    number: int | None = None
    title: str = ""
    md_level: int = 0


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
class _Block:
    kind: str  # front toc chapter loose
    first: int  # first line index of the block
    head_last: int = -1  # last heading line (-1: no heading)
    title: str = ""
    head: _Head | None = None


def cn_number(s: str) -> int:
    """Read 十二, 一百零五, 12 or １２ as an int."""
    s = re.sub(r"\s+", "", s)
    if s.isdigit():
        return int(s)
    if re.fullmatch(r"[ivxlc]+", s, re.I):
        return _roman(s.lower())
    total, cur = 0, 0
    for ch in s:
        if ch in _CN_DIGITS:
            cur = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            total += (cur or 1) * _CN_UNITS[ch]
            cur = 0
    return total + cur


def _roman(s: str) -> int:
    values = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}
    total = 0
    for a, b in zip(s, s[1:] + " "):
        v = values[a]
        total += -v if b != " " and values[b] > v else v
    return total


def clean_title(s: str) -> str:
    """A heading as written, with runs of whitespace made one space."""
    return re.sub(r"\s+", " ", s).strip()


def name_key(s: str) -> str:
    """A heading reduced for name matching: "内 容 简 介" and "Table of Contents" fold alike."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", s).lower())


def split_lines(text: str) -> list[Line]:
    """Every line (\n, \r\n or \r ended) with the offsets of its stripped text, classified."""
    lines: list[Line] = []
    pos = 0
    bounds = [(m.start(), m.end()) for m in re.finditer(r"\r\n|\r|\n", text)]
    for i, (a, b) in enumerate(bounds + [(len(text), len(text))]):
        raw = text[pos:a]
        lead = len(raw) - len(raw.lstrip())
        stripped = raw.strip()
        start = pos + lead
        line = Line(i, start, start + len(stripped), stripped)
        if not stripped:
            line.kind = "blank"
        else:
            _classify(line)
        lines.append(line)
        pos = b
    return lines


def _is_short(s: str, limit: int = HEADING_MAX) -> bool:
    return 0 < len(s) <= limit and "。" not in s and s[-1] not in _SENTENCE_END


def _classify(line: Line) -> None:
    s = line.text
    md = _MD.match(s)
    content = md.group(2) if md else s
    line.content = content
    if md:
        line.md_level = len(md.group(1))
    if _STOPPED_HEAD.match(content):
        content = content[:-1]
    probe = _contents_form(content)
    if not _is_short(probe, HEADING_MAX + 10):
        return
    for kind, pattern in (("chapter", _CHAPTER), ("chapter", _CHAPTER_EN), ("section", _SECTION),
                          ("part", _PART)):
        m = pattern.match(probe)
        if m:
            marker = m.group(1)
            line.kind, line.marker = kind, re.sub(r"\s+", "" if "第" in marker else " ", marker)
            digits = re.sub(r"^(第|chapter)|(部分|分[编編]|[章回讲講课課节節篇卷部编編])$", "", line.marker,
                            flags=re.I).strip()
            line.number = cn_number(digits)
            line.title = normalize_name(m.group(2))
            return
    key = name_key(content)
    if len(content) <= 30 and key:
        if key in _TOC_NAMES:
            line.kind = "toc"
        elif key in _FRONT_NAMES or _FRONT_PATTERN.match(key):
            line.kind = "back" if key.endswith("后记") else "front"
        elif key in _BACK_NAMES or _APPENDIX.match(key):
            line.kind = "back"
        elif _COMMITTEE.search(key):
            line.kind = "committee"
        if line.kind != "text":
            line.title = normalize_name(content)
            return
    if md:
        line.kind, line.title = "md", clean_title(content)
        return
    for kind, pattern, limit in (("sub1", _SUB1, 40), ("sub2", _SUB2, 40)):
        m = pattern.match(content)
        if m and _is_short(content, limit):
            line.kind, line.marker = kind, re.sub(r"\s+", "", m.group(1))
            line.number = cn_number(re.sub(r"[^一二三四五六七八九十百]", "", m.group(1)))
            line.title = clean_title(m.group(2))
            return


def normalize_name(s: str) -> str:
    """A front-matter title: spaces between CJK letters dropped ("内 容 简 介" → "内容简介")."""
    s = clean_title(s)
    return re.sub(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])", "", s)


def _contents_form(s: str) -> str:
    """A line that ends in a page number with its long dot leaders and table-cell bars made
    single spaces ("| 第一章 | 总论 | 1 |", "总论…………………1"), so a contents line set
    across the page or as a table row is read like one typed with a space before its page."""
    if not s or not (s[-1].isdigit() or s[-1] in "|｜") or not _PAGE_TAIL.search(s):
        return s  # most lines: the cheap test first, once per line of the book
    return clean_title(_CELLS.sub(" ", _LONG_LEADERS.sub(" ", s)))


def toc_entry(s: str) -> tuple[str, int | None]:
    """Split a contents line into its text and page number ("第一节 内涵 / 001" → 1)."""
    s = clean_title(_contents_form(s))
    m = _PAGE.match(s)
    if not m:
        return s, None
    if m.group(3):
        return "", int(m.group(3))
    return m.group(1).strip(), int(m.group(2))


def _next_text(lines: list[Line], i: int) -> Line | None:
    for k in range(i + 1, len(lines)):  # indexes, not a slice: called once per heading
        if lines[k].kind != "blank":
            return lines[k]
    return None


def _title_line(lines: list[Line], line: Line, toc: bool = False) -> Line | None:
    """The title printed on the line after a bare 第X章/第X节 marker, if there is one."""
    nxt = _next_text(lines, line.index)
    if nxt is None or nxt.kind != "text":
        return None
    text = toc_entry(nxt.text)[0] if toc else nxt.text
    return nxt if text and _is_short(text, 40) else None


# --- contents -----------------------------------------------------------------------------

def _matter_name(s: str) -> bool:
    """`s` starts with the name of a front- or back-matter part (前言, 参考文献, 附录A …)."""
    m = re.match(rf"[^\s\d/／|｜{_LEADER_CHARS}]+", s)
    if not m:
        return False
    key = name_key(m.group(0))
    return bool(key) and (key in _FRONT_NAMES or key in _BACK_NAMES or bool(_APPENDIX.match(key))
                          or bool(_FRONT_PATTERN.match(key)))


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
    if "第" not in text and not _RUN_PAGE.search(text):
        return None
    cuts = {m.start() for m in _RUN_MARK.finditer(text)}
    for m in _RUN_PAGE.finditer(text):
        rest = text[m.end():].lstrip()
        if _RUN_SUB.match(rest) or _matter_name(rest):
            cuts.add(m.end())
    bounds = sorted(cuts | {0, len(text)})
    spans = []
    for a, b in zip(bounds, bounds[1:]):
        piece = text[a:b]
        first = _RUN_MARK.match(piece.lstrip())
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
    if not all(_is_short(_contents_form(pc.text), HEADING_MAX) for pc in pieces):
        return None
    for pc in pieces:
        _classify(pc)
    return pieces


def _toc_extent(lines: list[Line], head_last: int) -> int:
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
        if _is_short(_contents_form(line.text), 60):
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


def _parse_toc(lines: list[Line], first: int, last: int,
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
                nxt = _title_line(lines, line, toc=True)
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
                nxt = _title_line(lines, line, toc=True)
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
            if key in _FRONT_NAMES or key in _BACK_NAMES or _APPENDIX.match(key) or _FRONT_PATTERN.match(key):
                if page is None:
                    pending = line
                elif named is not None:
                    named.append((normalize_name(title), page, line))
    return chapters


# --- the whole document -------------------------------------------------------------------

def _parts_or_chapters(lines: list[Line]) -> None:
    """第N篇/卷/部/编 are chapters in a book without 第N章 (or 回, 讲); otherwise they are parts
    grouping chapters (a code's 编 and 分编), kept so that chapter numbers that start again
    in each part stay told apart."""
    chapters = any(ln.kind == "chapter" for ln in lines)
    for ln in lines:
        if ln.kind == "part" and not chapters:
            ln.kind = "chapter"


_UNIT_ENDS = {"chapter", "section", "part", "md", "front", "back", "toc", "committee", "title"}


def _find_units(lines: list[Line], skip: set[int]) -> tuple[list[tuple[int, int, int, str]], set[int]]:
    """The numbered units (第N条) in the body: (start, end, number, label) and the indexes of
    the lines inside them after their first. A unit runs to the next unit or heading, so a
    "（一）…" list inside one is part of it, not a heading of its own."""
    starts = []
    for ln in lines:
        if ln.kind == "text" and ln.index not in skip:
            m = _UNIT.match(ln.text)
            if m:
                starts.append((ln, re.sub(r"\s+", "", m.group(1))))
    units, inside = [], set()
    for n, (ln, label) in enumerate(starts):
        limit = starts[n + 1][0].index if n + 1 < len(starts) else len(lines)
        stop = next((k for k in range(ln.index + 1, limit)
                     if lines[k].kind in _UNIT_ENDS or k in skip), limit)
        units.append((ln.start, _content_end(lines, ln.index, stop), cn_number(label[1:-1]), label))
        inside.update(range(ln.index + 1, stop))
    return units, inside


def _decimal_headings(lines: list[Line]) -> None:
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
        m = _DECIMAL.match(toc_entry(ln.content)[0])
        if m and _is_short(m.group(2), 40) and not _UNIT_START.match(m.group(2)):
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


def structure_document(doc: Document) -> Document:
    """Fill `front_matter`, `chapters`, `loose_sections`, `heading_spans`, `page_breaks`."""
    lines = split_lines(doc.text)
    _apply_levels(lines, doc.heading_levels)
    _parts_or_chapters(lines)
    _decimal_headings(lines)
    named = {"front", "back", "toc", "committee"}
    in_toc: set[int] = set()
    toc_chapters: list[Chapter] = []
    toc_named: list[tuple[str, int, Line]] = []
    toc_blocks: dict[int, tuple[int, int, str]] = {}  # first line -> (head_last, end, title)
    for line in lines:
        if line.kind != "toc" or line.index in in_toc:
            continue
        first, head_last = _name_group(lines, line.index)
        end = _toc_extent(lines, head_last)
        title = _group_title(lines, first, head_last)
        toc_blocks[first] = (head_last, end, title)
        in_toc.update(range(first, end))
        toc_chapters.extend(_parse_toc(lines, head_last + 1, end, toc_named))

    doc.units, in_units = _find_units(lines, in_toc)
    for k in in_units:
        if lines[k].kind in ("sub1", "sub2"):
            lines[k].kind = "text"
    body = [ln for ln in lines if ln.index not in in_toc and ln.kind != "blank"]
    mode_a = any(ln.kind == "chapter" for ln in body)
    md_ranks = _md_ranks(lines, body, mode_a)
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
    blocks: list[_Block] = []
    i = 0
    while i < len(lines):
        ln = lines[i]
        if i == copyright_at:
            blocks.append(_Block("front", i, -1, COPYRIGHT_TITLE))
            i += 1
            continue
        if ln.index in toc_blocks:
            head_last, end, title = toc_blocks[ln.index]
            blocks.append(_Block("toc", i, head_last, title))
            if end < len(lines):
                blocks.append(_Block("loose", end))
            i = end
            continue
        if ln.index in in_toc or ln.kind == "blank":
            i += 1
            continue
        valid_name = ln.kind in named and (ln.kind == "back" or ln.index < first_chapter)
        if valid_name:
            first, head_last = _name_group(lines, i)
            if ln.kind == "committee" and blocks and blocks[-1].kind == "front" \
                    and _COMMITTEE.search(name_key(blocks[-1].title)):
                i = head_last + 1
                continue
            blocks.append(_Block("front", first, head_last, _group_title(lines, first, head_last)))
            i = head_last + 1
            continue
        if ln.kind == "part":
            head = _make_head(lines, ln, 0)
            blocks.append(_Block("part", i, head.last, head.title, head))
            i = head.last + 1
            continue
        r = rank(ln)
        if r == 0 or r == -1:
            kind = "chapter" if r == 0 else "loose"
            head = _make_head(lines, ln, r)
            blocks.append(_Block(kind, i, head.last, head.title, head))
            i = head.last + 1
            continue
        i += 1

    if not blocks or blocks[0].first > 0:
        blocks.insert(0, _Block("loose", 0))
    _fill(doc, lines, blocks, rank, toc_chapters)
    _add_listed_matter(doc, toc_named)
    toc_spans = [(f.start, f.end) for f in doc.front_matter if f.kind == "toc"]
    doc.page_breaks = find_page_breaks(doc.text, lines, doc.heading_spans + toc_spans)
    return doc


def _apply_levels(lines: list[Line], levels: list[tuple[int, int]]) -> None:
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


def _add_listed_matter(doc: Document, listed: list[tuple[str, int, Line]]) -> None:
    """Front and back matter the contents list with a page: the page goes on the part in the
    text, or the part is added as known only from the contents (like a missing chapter)."""
    for title, page, line in listed:
        key = name_key(title)
        present = next((fm for fm in doc.front_matter if fm.kind != "toc" and name_key(fm.title) == key), None)
        if present is not None:
            present.toc_page = present.toc_page or page
            continue
        kind = "back_matter" if key in _BACK_NAMES or _APPENDIX.match(key) else "front_matter"
        doc.front_matter.append(FrontMatter(title, line.start, line.end, kind=kind, toc_page=page,
                                            in_corpus=False))


def _name_group(lines: list[Line], i: int) -> tuple[int, int]:
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


def _group_title(lines: list[Line], first: int, last: int) -> str:
    titles = [ln.title for ln in lines[first:last + 1] if ln.kind != "blank"]
    cjk = [t for t in titles if re.search(f"[{HAN}]", t)]
    return (cjk or titles)[0]


def _md_ranks(lines: list[Line], body: list[Line], mode_a: bool) -> dict[int, int]:
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


def _make_head(lines: list[Line], ln: Line, r: int) -> _Head:
    title, last = ln.title, ln.index
    if not title and ln.kind in ("chapter", "section", "part"):
        nxt = _title_line(lines, ln)
        if nxt is not None:
            title, last = normalize_name(nxt.text), nxt.index
    if ln.kind in ("chapter", "section", "part"):
        heading = clean_title(f"{ln.marker} {title}")
    else:
        heading = clean_title(ln.content)
    return _Head(ln.index, last, r, ln.number, title, heading, ln)


def _content_end(lines: list[Line], first: int, stop: int) -> int:
    """Offset just after the last non-blank line in lines[first:stop]."""
    for ln in reversed(lines[first:stop]):
        if ln.kind != "blank":
            return ln.end
    return lines[first].end


def _fill(doc: Document, lines: list[Line], blocks: list[_Block], rank, toc_chapters: list[Chapter]) -> None:
    doc.front_matter, doc.chapters, doc.loose_sections, doc.heading_spans = [], [], [], []
    body_chapters: list[Chapter] = []
    parts: list[tuple[int, str]] = []  # the open parts, outermost first: (level, heading)
    for n, block in enumerate(blocks):
        stop = blocks[n + 1].first if n + 1 < len(blocks) else len(lines)
        if all(ln.kind == "blank" for ln in lines[block.first:stop]):
            continue
        start = next(ln.start for ln in lines[block.first:stop] if ln.kind != "blank")
        end = _content_end(lines, block.first, stop)
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
        heads = [_make_head(lines, ln, rank(ln)) for ln in lines[first_body:stop]
                 if ln.kind != "blank" and (rank(ln) or 0) >= 1]
        sections = _sections(doc, lines, heads, stop)
        if block.kind == "chapter":
            h = block.head
            number = h.number if h.number is not None else len(body_chapters) + 1
            body_chapters.append(Chapter(number, h.title, True, None, start, end, h.heading, sections,
                                         part=" › ".join(p[1] for p in parts)))
            continue
        if block.head is not None:
            sections_start = sections[0].start if sections else None
            lead_end = _content_end(lines, block.first, _line_at(lines, sections_start, stop))
            doc.loose_sections.append(Section(None, block.head.title, start, lead_end, block.head.heading))
        elif not sections or sections[0].start > start:
            lead_stop = _line_at(lines, sections[0].start, stop) if sections else stop
            if any(ln.kind != "blank" for ln in lines[block.first:lead_stop]):
                doc.loose_sections.append(Section(None, "", start, _content_end(lines, block.first, lead_stop)))
        doc.loose_sections.extend(sections)
    doc.chapters = _merge_toc(body_chapters, toc_chapters)
    doc.heading_spans.sort()


def _line_at(lines: list[Line], offset: int | None, default: int) -> int:
    if offset is None:
        return default
    k = bisect_left(lines, offset, key=lambda ln: ln.start)  # no list per call: once per block
    while lines[k].kind == "blank":
        k += 1
    return k


def _sections(doc: Document, lines: list[Line], heads: list[_Head], stop: int) -> list[Section]:
    if not heads:
        return []
    top = min(h.rank for h in heads)
    tops = [h for h in heads if h.rank == top]
    firsts = [h.first for h in heads]  # in reading order
    sections = []
    for n, h in enumerate(tops):
        next_first = tops[n + 1].first if n + 1 < len(tops) else stop
        end = _content_end(lines, h.first, next_first)
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
                    Subsection(g.heading, g.line.start, _content_end(lines, g.first, sub_stop)))
        sections.append(section)
    return sections


def _merge_toc(body: list[Chapter], toc: list[Chapter]) -> list[Chapter]:
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


# --- page breaks --------------------------------------------------------------------------

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
    if last in _SENTENCE_END or last in CLOSERS or last in ":：":
        return False
    return bool(re.search(r"[，。；、,;]", block)) and len(block) >= 10


def _continues(line: str) -> bool:
    if _LIST_START.match(line) or _CHAPTER.match(line) or _SECTION.match(line) or _UNIT.match(line):
        return False
    first = line[0]
    return bool(re.match(f"[{HAN}0-9a-z]", first))


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
