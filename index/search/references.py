"""What a question names: a document (its title or a short name) and a numbered unit in it.

In a library of many similar documents (laws, regulations, standards) a question often says
which document it is about ("刑法第十七条讲什么", "根据物业管理条例……") and neither leg of the
search ranks by that: jieba cuts 第一千二百五十四条 into pieces, and an amendment quoting
"刑法第十七条" matches those words better than the article itself. So names and numbers are
read here, by general rules, and the search puts that document's passages, and that unit,
first.

A document is named by its title or a tail of it ("刑法" for 中华人民共和国刑法, "物业管理条例"),
the longest one the question contains, as long as that tail is not shared by more than
`MAX_SHARED_TITLES` titles ("管理条例" ends dozens and names none). Versions of one title are
one name: the newest is meant unless the question gives the year of another.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from docqa.ingest.model import Document
from docqa.ingest.structure import cn_number

MIN_NAME_CHARS = 2
# A tail ending more titles than this is a kind of document (管理条例, 实施办法), not a name.
MAX_SHARED_TITLES = 2
_NUM = r"[0-9０-９]+|[零〇一二三四五六七八九十百千两]+"
_UNIT_ZH = re.compile(rf"第\s*({_NUM})\s*条")
_UNIT_EN = re.compile(r"\b(?:article|art\.)\s*(\d+)\b", re.I)
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_HAN = re.compile(r"[\u3400-\u9fff]")
_DROP = re.compile(r"[\s《》〈〉<>“”\"'「」『』·]")
# A title's closing note of its version: （2023年修正）, (2018修订), （2020年版）, （2023-12-29）; not
# a note that tells works apart (英雄（2002年电影）).
_VERSION_NOTE = re.compile(r"[（(]((?:19|20)\d\d)(?:年?(?:[01]?\d月?(?:[0-3]?\d日?)?)?(?:修正|修订|修改|版|文本)"
                           r"|-[01]\d-[0-3]\d|年[01]?\d月[0-3]?\d日)[)）]$")


def title_version(title: str) -> tuple[str, str]:
    """A title without its closing version note, and the note's date (YYYY-MM-DD, or the year
    alone): "中华人民共和国公司法（2023年修订）" is 公司法 as revised in 2023, a version of the
    title 中华人民共和国公司法 that questions name as 公司法."""
    m = _VERSION_NOTE.search(title)
    if not m or m.start() < MIN_NAME_CHARS:
        return title, ""
    full = re.search(r"((?:19|20)\d\d)[-_.年]([01]?\d)[-_.月]([0-3]?\d)", m.group(0))
    date = f"{full.group(1)}-{int(full.group(2)):02d}-{int(full.group(3)):02d}" if full else m.group(1)
    return title[:m.start()], date


def unit_reference(question: str) -> int | None:
    """The unit number a question asks for: 第十七条, 第1077条, Article 17; None if none."""
    m = _UNIT_ZH.search(question) or _UNIT_EN.search(question)
    return cn_number(m.group(1)) if m else None


def fold(text: str) -> str:
    """Marks and spaces dropped, Traditional read as Simplified (opencc t2s, as the tokenizer
    does), so a Traditional question names a title kept in Simplified and back."""
    text = _DROP.sub("", text)
    if not _HAN.search(text):
        return text
    from docqa.index.question import _converter

    simple = _converter("t2s.json").convert(text)
    return simple if len(simple) == len(text) else text


class DocumentNames:
    def __init__(self, documents: Iterable[Document]):
        self._versions: dict[str, list[tuple[str, str]]] = defaultdict(list)  # title -> [(date, doc_id)]
        for doc in documents:
            title, noted = title_version(fold(str(doc.metadata.get("base_title") or doc.title)))
            if len(title) >= MIN_NAME_CHARS:
                self._versions[title].append((str(doc.metadata.get("version") or noted), doc.doc_id))
        ends: dict[str, int] = defaultdict(int)
        heads: dict[str, int] = defaultdict(int)
        for title in self._versions:
            for n in range(MIN_NAME_CHARS, len(title) + 1):
                ends[title[-n:]] += 1
            for n in range(1, len(title)):
                heads[title[:n]] += 1
        self._ends, self._heads = ends, heads

    def _names_by(self, title: str, n: int) -> bool:
        """Whether the last `n` characters of `title` name it: the whole title does; a tail does
        when the head it drops is one other titles share too (中华人民共和国 of 中华人民共和国刑法),
        not a word of this title's own (非营利 of 非营利组织, where 组织 names nothing)."""
        return n == len(title) or self._heads[title[:-n]] > 1

    def named(self, question: str) -> list[str]:
        """The doc_ids of the document the question names (one version of a title), or []."""
        q = fold(question)
        best, titles = 0, []
        for title in self._versions:
            n = self._longest_tail(title, q)
            if (n < MIN_NAME_CHARS or n < best or self._ends[title[-n:]] > MAX_SHARED_TITLES
                    or not self._names_by(title, n)):
                continue
            if n > best:
                best, titles = n, []
            titles.append(title)
        return [doc_id for title in titles for doc_id in self._version(title, question)]

    @staticmethod
    def _longest_tail(title: str, q: str) -> int:
        for n in range(len(title), MIN_NAME_CHARS - 1, -1):
            if title[-n:] in q:
                return n
        return 0

    def superseded(self, question: str) -> dict[str, str]:
        """Each older version of a title, mapped to the newest one, for a question that asks
        for no year of it: a question not naming its law ("有限责任公司的注册资本…") means
        the law in force, and an unchanged article reads the same in both versions."""
        years = set(_YEAR.findall(question))
        older: dict[str, str] = {}
        for versions in self._versions.values():
            dated = [v for v in versions if v[0]]
            if len(dated) < 2:
                continue
            newest = max(dated)
            older.update((doc_id, newest[1]) for date, doc_id in dated
                         if date < newest[0] and date[:4] not in years)
        return older

    def _version(self, title: str, question: str) -> list[str]:
        versions = self._versions[title]
        if len(versions) == 1:
            return [versions[0][1]]
        years = set(_YEAR.findall(question))
        asked = [doc_id for date, doc_id in versions if date[:4] in years]
        if asked:
            return asked
        dated = [v for v in versions if v[0]]
        if not dated:
            return [doc_id for _, doc_id in versions]  # parts of one work (民法典's 编 files)
        newest = max(date for date, _ in dated)
        return [doc_id for date, doc_id in versions if date == newest or not date]


def unit_label_at(text: str, number: int) -> int | None:
    """Where unit `number` starts in `text`: its label (第十七条, 第17条) opening a line."""
    for m in _UNIT_ZH.finditer(text):
        if cn_number(m.group(1)) == number and (m.start() == 0 or text[m.start() - 1] == "\n"):
            return m.start()
    return None
