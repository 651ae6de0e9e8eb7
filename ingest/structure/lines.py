"""One line of a document and what it looks like on its own: a heading of some rank, a
contents entry with its page, a name of front or back matter, or body text.

Only general typesetting conventions are used (第X章/第X节, 一、/（一）, Markdown `#`, the
usual names of front and back matter), never one book's strings."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from docqa.ingest.text import SENTENCE_END

HEADING_MAX = 50  # a heading line is short; longer lines are body text


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9, "壹": 1, "贰": 2, "貳": 2, "叁": 3, "參": 3, "肆": 4,
              "伍": 5, "陆": 6, "陸": 6, "柒": 7, "捌": 8, "玖": 9}


_CN_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}


_NUM = r"[0-9０-９]+|[一二三四五六七八九十百千零〇两兩壹贰貳叁參肆伍陆陸柒捌玖拾佰仟]+"


# 章 is a chapter; a classical novel's 回 and a lecture series' 讲/課 are too. 篇, 卷, 部, 编
# group chapters into parts: they are read as chapters only in a book that has no 章.
CHAPTER = re.compile(rf"^(第\s*(?:{_NUM})\s*[章回讲講课課])\s*[:：.．、]?\s*(.*)$")


_PART = re.compile(rf"^(第\s*(?:{_NUM})\s*(?:分[编編]|[篇卷部编編]|部分))\s*[:：.．、]?\s*(.*)$")


# "第五节 生活、卫生。": a short heading some texts end with a full stop.
_STOPPED_HEAD = re.compile(rf"^第\s*(?:{_NUM})\s*(?:[章回讲講课課节節篇卷部编編]|分[编編]|部分)"
                           r"[\s:：.．、]*[^，,；;。！？]{1,20}。$")


# A numbered unit below the section (a law's 第十七条, a contract's 第3条): it starts a line and
# is followed by a space, a colon or nothing, so "第三条规定的…" in prose is not one.
UNIT = re.compile(rf"^(第\s*(?:{_NUM})\s*条)(?:$|[\s\u3000:：、.．]+)")


_CHAPTER_EN = re.compile(r"^(chapter\s+(?:\d+|[ivxlc]+))\b\s*[:.\-—]?\s*(.*)$", re.I)


SECTION = re.compile(rf"^(第\s*(?:{_NUM})\s*[节節])\s*[:：.．、]?\s*(.*)$")


# "1.2 标题", "1.2.3 标题": decimal numbering, accepted only where the numbers run in sequence
# under their chapter (see `decimal_headings`), so a figure at a line's start is not a heading.
UNIT_START = re.compile(r"^[万亿倍元吨‰]")  # "1.3 万吨": a quantity, not a heading


DECIMAL = re.compile(r"^(\d{1,2}(?:[.．]\d{1,2}){0,3})[.．、]?\s+([^\d\s%％.．,，、].{0,40})$")


_SUB1 = re.compile(r"^([一二三四五六七八九十百]+\s*[、．.])\s*(\S.*)$")


_SUB2 = re.compile(r"^([（(]\s*[一二三四五六七八九十百]+\s*[)）])\s*(\S.*)$")


_MD = re.compile(r"^ {0,3}(#{1,6})\s*([^#\s].*?)(?:\s+#+)?\s*$")


LINE_END = SENTENCE_END + "…"  # a line ending in an ellipsis is finished too


LEADER_CHARS = ".．·…‥⋯_—\\-・•‧∙"


_PAGE = re.compile(rf"^(.*?)(?:\s*[/／|｜]\s*|\s*[{LEADER_CHARS}]{{2,}}\s*|\s+)(\d{{1,4}})$|^(\d{{1,4}})$")


_LONG_LEADERS = re.compile(rf"\s*[{LEADER_CHARS}]{{4,}}\s*")


_CELLS = re.compile(r"\s*[|｜]\s*")


_PAGE_TAIL = re.compile(r"\d\s*[|｜]?$")


# Where a contents paragraph whose lines a converter ran together holds its next entry: before
# a chapter or section number, or before a front- or back-matter name or an 一、 heading right
# after a page number (see `_run_on_entries`).
RUN_MARK = re.compile(rf"(?<!\S)第\s*(?:{_NUM})\s*(?:[章回讲講课課节節篇卷部编編]|部分)")


RUN_PAGE = re.compile(rf"(?:(?<=\s)|(?<=[/／{LEADER_CHARS}]))\d{{1,4}}(?=\s)")


RUN_SUB = re.compile(r"[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[)）]")


LIST_START = re.compile(r"^([（(]?\d+[)）.、．]|[（(][一二三四五六七八九十]+[)）]|[一二三四五六七八九十]+、|[-*+•·>|#])")


FRONT_NAMES = {
    "内容简介", "内容提要", "内容摘要", "提要", "简介", "摘要", "总序", "序", "序言", "自序",
    "代序", "总序言", "前言", "引言", "导言", "目录", "目次", "作者简介", "著者简介",
    "编者简介", "作者介绍", "译者简介", "出版说明", "出版前言", "编辑说明", "编写说明",
    "凡例", "编委会", "写在前面", "致读者", "献词", "preface", "foreword", "contents",
    "tableofcontents", "abstract", "abouttheauthor", "abouttheauthors", "dedication",
}


BACK_NAMES = {
    "后记", "编后记", "译后记", "跋", "致谢", "鸣谢", "参考文献", "主要参考文献", "索引",
    "afterword", "acknowledgements", "acknowledgments", "references", "bibliography",
    "index", "postscript",
}


_TOC_NAMES = {"目录", "目次", "contents", "tableofcontents"}


FRONT_PATTERN = re.compile(r"^(第.版|再版|修订版|新版)?(序|序言|前言|说明|后记)$")


APPENDIX = re.compile(r"^(附录|appendix)")


COMMITTEE = re.compile(r"(编委会|委员会)$")


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
            classify(line)
        lines.append(line)
        pos = b
    return lines


def is_short(s: str, limit: int = HEADING_MAX) -> bool:
    return 0 < len(s) <= limit and "。" not in s and s[-1] not in LINE_END


def classify(line: Line) -> None:
    s = line.text
    md = _MD.match(s)
    content = md.group(2) if md else s
    line.content = content
    if md:
        line.md_level = len(md.group(1))
    if _STOPPED_HEAD.match(content):
        content = content[:-1]
    probe = contents_form(content)
    if not is_short(probe, HEADING_MAX + 10):
        return
    for kind, pattern in (("chapter", CHAPTER), ("chapter", _CHAPTER_EN), ("section", SECTION),
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
        elif key in FRONT_NAMES or FRONT_PATTERN.match(key):
            line.kind = "back" if key.endswith("后记") else "front"
        elif key in BACK_NAMES or APPENDIX.match(key):
            line.kind = "back"
        elif COMMITTEE.search(key):
            line.kind = "committee"
        if line.kind != "text":
            line.title = normalize_name(content)
            return
    if md:
        line.kind, line.title = "md", clean_title(content)
        return
    for kind, pattern, limit in (("sub1", _SUB1, 40), ("sub2", _SUB2, 40)):
        m = pattern.match(content)
        if m and is_short(content, limit):
            line.kind, line.marker = kind, re.sub(r"\s+", "", m.group(1))
            line.number = cn_number(re.sub(r"[^一二三四五六七八九十百]", "", m.group(1)))
            line.title = clean_title(m.group(2))
            return


def normalize_name(s: str) -> str:
    """A front-matter title: spaces between CJK letters dropped ("内 容 简 介" → "内容简介")."""
    s = clean_title(s)
    return re.sub(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])", "", s)


def contents_form(s: str) -> str:
    """A line that ends in a page number with its long dot leaders and table-cell bars made
    single spaces ("| 第一章 | 总论 | 1 |", "总论…………………1"), so a contents line set
    across the page or as a table row is read like one typed with a space before its page."""
    if not s or not (s[-1].isdigit() or s[-1] in "|｜") or not _PAGE_TAIL.search(s):
        return s  # most lines: the cheap test first, once per line of the book
    return clean_title(_CELLS.sub(" ", _LONG_LEADERS.sub(" ", s)))


def toc_entry(s: str) -> tuple[str, int | None]:
    """Split a contents line into its text and page number ("第一节 内涵 / 001" → 1)."""
    s = clean_title(contents_form(s))
    m = _PAGE.match(s)
    if not m:
        return s, None
    if m.group(3):
        return "", int(m.group(3))
    return m.group(1).strip(), int(m.group(2))
