"""Questions about the book itself or one of its parts, answered from the book's structure.

"Who wrote this book?", "What is this book about?", "Summarize chapter 1" and a greeting have no
answer sentence that resembles them: the author stands on the title page and in the CIP record
("书名 / 张三, 李四编著. —北京: …"), what a book is about in its 内容简介 or 前言, a chapter's
content in its sections' opening sentences. Searching for a sentence like the question finds an
author's biography or nothing, and the refusal then hides what the book plainly says. These
questions are recognised by general rules (Chinese and English) and answered from the parts
ingest already recognises (front matter by its printed names, chapters and sections), with the
passages they come from as citations; none of it knows one book.
"""
from __future__ import annotations

import re

from docqa.index.question import ABOUT_BOOK
from docqa.index.results import Answer, Hit
from docqa.ingest.text import normalize

__all__ = ["answer_about_book", "GREETING_ZH", "GREETING_EN"]

GREETING_ZH = "你好！我是 docqa：请就这本书提问，我会从书中找出回答的句子，并给出它出自哪一段。"
GREETING_EN = "Hi! I am docqa: ask a question about this book and I will answer with a sentence from it, and cite where it stands."

SUMMARY_CHARS = 600
"""An overview (of the book or a chapter) may be longer than an answer sentence: one lead
sentence per section of a chapter needs room."""

LEAD_CHARS = 90
"""A section's lead sentence in a chapter overview is cut to this many characters ("…")."""

_GREETING = re.compile(r"^\s*(你好|您好|嗨|哈[喽啰]|早上好|下午好|晚上好|hi|hello|hey|good (morning|afternoon|evening))"
                       r"[\s!！。.,，~～?？]*$", re.I)
_AUTHOR_Q = re.compile(r"作者|谁写|谁编|编者|编著者|著者|谁著|who (wrote|authored|edited|is the author)|\bauthors?\b|"
                       r"\bwritten by\b|\bwriters?\b", re.I)
_SUMMARY_Q = re.compile(r"(讲|写|说|谈|介绍|讲述|论述|阐述)(了|的是)?(什么|哪些|啥)|主要内容|内容(是什么|有哪些)|总结|概括|概述|归纳|"
                        r"\bwhat is\b.*\babout\b|\bwhat does\b.*\b(cover|say|discuss)\b|\bsummar|\boverview\b|"
                        r"\bmain (content|contents|topic|topics|idea|ideas)\b", re.I)
_CHAPTER_Q = re.compile(r"第\s*([0-9一二三四五六七八九十百]+)\s*章|\bchapter\s+(\d+|one|two|three|four|five|six|seven|"
                        r"eight|nine|ten)\b", re.I)
# "In which part / chapter of the book is X discussed?": the answer is a place in the book.
_PART_Q = re.compile(r"(书|本书|书中)的?哪(一|个|些)?(部分|章|节|篇|编|卷)|在哪(一|个)?(部分|章|节)|第几(章|节)|"
                     r"\b(which|what) (chapter|section|part) of (the|this) book\b|\bwhere in (the|this) book\b|"
                     r"\bin (which|what) (chapter|section)\b", re.I)
# "When is the preface signed?": the date under a front-matter part (its last date line).
_PART_NAME = re.compile(r"(内容简介|总序|自序|序言|前言|后记|跋|序|preface|foreword|afterword)", re.I)
_LEADING_PART = re.compile(r"^\s*(内容简介|总序|自序|序言|前言|后记|preface|foreword|afterword)(?=的|是|写|落款|署名|\s|$)",
                           re.I)
_SIGNED_Q = re.compile(r"落款|署名|日期|什么时候|何时|哪一?年|写于|\bwhen\b|\bdate[ds]?\b|\bsigned\b", re.I)
_EN_PARTS = {"preface": "前言", "foreword": "序", "afterword": "后记"}
_EN_NUMBERS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten".split())}

# Front matter that says what the book is about, best first (ingest's names, folded).
_ABOUT_PARTS = (("内容简介", "内容提要", "内容摘要", "提要", "简介", "摘要", "abstract"),
                ("前言", "序言", "序", "自序", "引言", "导言", "出版说明", "preface", "foreword"))
_AUTHOR_SUFFIX = r"(?:等)?(?:编著|主编|编写|著|编|撰|译|执笔)"
# A CIP record: "书名 / 张三, 李四编著. —北京: 出版社, 2018". The names run from the slash to the role.
_CIP_AUTHORS = re.compile(rf"/\s*([^/\n.．。—]{{2,60}}?{_AUTHOR_SUFFIX})\s*(?:[.．。;；]|—|$)", re.M)
# A title page line: "张三 李四◎编著", "主编：张三".
_TITLE_PAGE_AUTHORS = re.compile(rf"^[ \t\u3000]*([^\n:：。，,]{{2,40}}?[ \t\u3000◎·•]*{_AUTHOR_SUFFIX})[ \t\u3000]*$|"
                                 rf"^[ \t\u3000]*((?:主编|编著|作者|著者)[ \t\u3000]*[:：][^\n]{{2,40}})$", re.M)
_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?[”’」』）)]*")


def answer_about_book(searcher, question: str, info, hits: list[Hit], tokens: list[str] = (),
                      docs: list | None = None, named: bool = False) -> Answer | None:
    """The answer to a greeting or a question about the book or a chapter, else None (the
    question goes to the usual answer choice); `tokens` are the question's words as the keyword
    leg cut them. `docs` are the books the question is about (the one it is asked within, or those
    it names by title; default all): "这本书的作者是谁？" asked within one book of a shelf must not
    be answered from another's copyright page. `named`: the question names them ("《书名》的作者"),
    which makes it a question about a book without "这本书"."""
    docs = list(searcher.documents) if docs is None else docs
    q = info.text if info is not None else question
    zh = info is None or info.language == "zh"
    if _GREETING.match(question):
        text = GREETING_ZH if zh else GREETING_EN
        return Answer(text, None, [], message=text)
    chapter = _asked_chapter(q)
    if chapter is not None and _SUMMARY_Q.search(q):
        return _chapter_summary(searcher, docs, chapter, hits, zh)
    if _PART_Q.search(q) and any(d.chapters for d in docs):
        return _where(searcher, docs, tokens, hits, zh)
    # A question that begins with a part's name ("前言是什么时候写的？") asks about that part of
    # the book in hand, as one that names the book does.
    lead = _LEADING_PART.match(q)
    if lead and "《" not in q and _SIGNED_Q.search(q):
        signed = _signature(searcher, docs, lead.group(1).lower(), hits)
        if signed is not None:
            return signed
    # A book named by a title that is not on the shelf may be another one.
    if not (named or (ABOUT_BOOK.search(q) and "《" not in q)):
        return None
    part = _PART_NAME.search(q)
    if part and _SIGNED_Q.search(q):
        return _signature(searcher, docs, part.group(1).lower(), hits)
    if _AUTHOR_Q.search(q):
        return _authors(searcher, docs, hits) or _file_authors(docs, zh)
    if _SUMMARY_Q.search(q):
        return _book_summary(searcher, docs, hits)
    return None


def _asked_chapter(q: str) -> int | None:
    m = _CHAPTER_Q.search(q)
    if not m:
        return None
    raw = (m.group(1) or m.group(2)).lower()
    if raw.isdigit():
        return int(raw)
    if raw in _EN_NUMBERS:
        return _EN_NUMBERS[raw]
    return _zh_number(raw)


def _zh_number(text: str) -> int | None:
    digits = {c: i for i, c in enumerate("零一二三四五六七八九")}
    total, current = 0, 0
    for ch in text:
        if ch in digits:
            current = digits[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current or None


def _front_passages(searcher, doc) -> list:
    """The passages of a document before its first chapter (title page, copyright page, front
    matter), in order."""
    first = min((c.start for c in doc.chapters if c.start is not None and c.in_corpus), default=None)
    if first is None:
        # No chapters: only what ingest recognised as front matter (a copyright page) counts.
        return [p for p in searcher.passages if p.doc_id == doc.doc_id
                and any(fm.in_corpus and fm.start <= p.start < fm.end for fm in doc.front_matter)]
    return [p for p in searcher.passages if p.doc_id == doc.doc_id and p.start < first]


def _hits(passages: list, hits: list[Hit]) -> list[Hit]:
    """Hits for the cited passages first (scored as the best hit), then the search's own."""
    top = hits[0].score if hits else 0.0
    ids = {p.passage_id for p in passages}
    return [Hit(p, top) for p in passages] + [h for h in hits if h.passage.passage_id not in ids]


def _where(searcher, docs, tokens: list[str], hits: list[Hit], zh: bool) -> Answer | None:
    """Where the book treats what is asked: the chapter or section whose heading has the
    question's words (a book names its parts by their subject: "第一节 PPP模式分析"), from the
    structure ingest read (chapters listed only in the contents too, with their page). The answer
    is the heading path; the span covers it; the cited passage is the section's first passage,
    or the contents entry of a chapter the corpus lacks."""
    words = [w for w in {normalize(t).lower() for t in tokens} if len(w) >= 2]
    if not words:
        return None
    best, best_score = None, 0.0
    for doc in docs:
        for ch in doc.chapters:
            head = ch.heading or f"第{ch.number}章 {ch.title}"
            for sec in [None, *ch.sections]:
                last = normalize(sec.heading or sec.title if sec else head).lower()
                whole = normalize(f"{head} {sec.title if sec else ''}").lower()
                score = sum(len(w) for w in words if w in last) + 0.5 * sum(len(w) for w in words if w in whole)
                if score > best_score:
                    best, best_score = (doc, ch, sec), score
    if best is None:
        return None
    doc, ch, sec = best
    head = ch.heading or f"第{ch.number}章 {ch.title}"
    place = head + (f" › {sec.heading or sec.title}" if sec else "")
    text = place
    page = (sec.toc_page if sec else None) or ch.toc_page
    if not ch.in_corpus and page is not None:
        text += f"（目录第 {page} 页）" if zh else f" (contents, page {page})"
    title = re.sub(r"\s+", "", (sec or ch).title)
    cited = None
    if ch.in_corpus:
        cited = next((p for p in searcher.passages if p.doc_id == doc.doc_id and p.chapter == ch.number
                      and p.kind == "body" and (sec is None or title in re.sub(r"\s+", "", p.section or ""))), None)
    if cited is None:
        cited = next((p for p in searcher.passages if p.doc_id == doc.doc_id and p.kind == "toc"
                      and title in re.sub(r"\s+", "", p.text)), None)
    if cited is None:
        return None
    return Answer(text, cited.passage_id, _hits([cited], hits), span=(0, len(place)), answer_type="part")


def _signature(searcher, docs, name: str, hits: list[Hit]) -> Answer | None:
    """The last date line of a front- or back-matter part ("编著者 / 2018年4月" under a 前言)."""
    from docqa.index.answer.kinds import spans

    name = _EN_PARTS.get(name, name)
    for doc in docs:
        passages = _front_matter_passages(searcher, doc, (name,))
        for p in reversed(passages):
            lines = [ln.strip() for ln in p.text.splitlines() if ln.strip()]
            for ln in reversed(lines):
                found = spans(ln, "time")
                if found and len(ln) <= 20 and sum(e - s for s, e in found) >= len(ln) // 2:
                    return Answer(ln, p.passage_id, _hits([p], hits), span=found[0], answer_type="time")
    return None


def _authors(searcher, docs, hits: list[Hit]) -> Answer | None:
    """The author line of the copyright page's CIP record, else of the title page."""
    for pattern in (_CIP_AUTHORS, _TITLE_PAGE_AUTHORS):
        for doc in docs:
            for p in _front_passages(searcher, doc):
                m = pattern.search(p.text)
                if m:
                    text = re.sub(r"\s+", " ", next(g for g in m.groups() if g)).strip()
                    # The span is the names: the line without its role ("编著") and marks.
                    names = re.sub(rf"^(?:主编|编著|作者|著者)\s*[:：]\s*|[\s◎·•]*{_AUTHOR_SUFFIX}$", "", text)
                    at = text.find(names) if names else -1
                    return Answer(text, p.passage_id, _hits([p], hits),
                                  span=(at, at + len(names)) if at >= 0 else None, answer_type="person")
    return None


def _file_authors(docs, zh: bool) -> Answer | None:
    """The author the file's properties name (EPUB dc:creator, DOCX/ODT/PDF author; see
    `docqa.ingest.formats.extracted.file_author`), when the text has no author line: no passage
    states it, so the answer says where it comes from and cites nothing."""
    named = [(d, d.metadata.get("author")) for d in docs if isinstance(d.metadata, dict)]
    named = [(d, a) for d, a in named if isinstance(a, str) and a.strip()]
    if not named or len(named) != len(docs):
        return None  # on a shelf, one book's file properties do not answer for the others
    if len(named) == 1:
        author = named[0][1].strip()
        note = "（据文件信息中的作者）" if zh else " (the author named in the file's properties)"
        return Answer(author + note, None, [], span=(0, len(author)), answer_type="person")
    lines = [f"《{d.title}》：{a.strip()}" if zh else f"{d.title}: {a.strip()}" for d, a in named]
    note = "（据文件信息中的作者）" if zh else " (the authors named in the files' properties)"
    return Answer("；".join(lines) + note if zh else "; ".join(lines) + note, None, [], answer_type="person")


def _front_matter_passages(searcher, doc, names: tuple[str, ...]) -> list:
    for fm in doc.front_matter:
        title = re.sub(r"\s+", "", normalize(fm.title)).lower()
        if fm.in_corpus and title in names:
            inside = [p for p in searcher.passages if p.doc_id == doc.doc_id and fm.start <= p.start < fm.end]
            if inside:
                return inside
    return []


def _book_summary(searcher, docs, hits: list[Hit]) -> Answer | None:
    """The opening of the 内容简介 (else the 前言): what the book says it is about."""
    for names in _ABOUT_PARTS:
        for doc in docs:
            passages = _front_matter_passages(searcher, doc, names)
            if passages:
                text = _lead(" ".join(_body_lines(p.text) for p in passages[:2]), SUMMARY_CHARS)
                if text:
                    return Answer(text, passages[0].passage_id, _hits(passages[:2], hits), answer_type="other")
    return None


def _body_lines(text: str) -> str:
    """The text without its heading and label lines (a line that ends no sentence)."""
    from docqa.index.answer.text import is_label_line

    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return "".join(ln for ln in lines if not is_label_line(ln))


def _lead(text: str, limit: int, sentences: int = 3) -> str:
    """The first sentences of a text, as many as fit in `limit` (at most `sentences`); a first
    sentence longer than that is cut at a clause mark, with "…"."""
    out = ""
    for m in _SENTENCE.finditer(text):
        s = m.group().strip()
        if not s:
            continue
        if out and (len(out) + len(s) > limit or sentences <= 0):
            break
        out += s
        sentences -= 1
    if len(out) <= limit:
        return out
    cut = out[:limit]
    at = max(cut.rfind(mark) for mark in "，,；;：:")
    return (cut[:at] if at >= limit // 2 else cut) + "…"


def _chapter_summary(searcher, docs, number: int, hits: list[Hit], zh: bool) -> Answer | None:
    """An extractive overview of a chapter: its title, then each section's title and lead
    sentence, each section's first passage cited."""
    for doc in docs:
        chapter = next((c for c in doc.chapters if c.number == number and c.in_corpus), None)
        if chapter is None:
            continue
        passages = [p for p in searcher.passages if p.doc_id == doc.doc_id and p.chapter == number and p.kind == "body"]
        if not passages:
            continue
        printed = passages[0].heading_path[0] if passages[0].heading_path else f"{number} {chapter.title}"
        head = printed if zh else f"Chapter {number} ({printed})"
        parts, cited = [], []
        lead = _lead(_body_lines(passages[0].text), LEAD_CHARS, 1).rstrip("。；;") if passages[0].section is None else ""
        if lead:
            parts.append(lead)
            cited.append(passages[0])
        seen: set[str] = set()
        for p in passages:
            if p.section and p.section not in seen:
                seen.add(p.section)
                first = _lead(_body_lines(p.text), LEAD_CHARS, 1).rstrip("。；;")
                parts.append(f"{p.section}：{first}" if first else p.section)
                cited.append(p)
        text = head + ("：" if zh else ": ") + "；".join(parts) + "。"
        if len(text) > SUMMARY_CHARS:
            text = text[: SUMMARY_CHARS - 1] + "…"
        return Answer(text, cited[0].passage_id if cited else passages[0].passage_id,
                      _hits(cited or passages[:1], hits), answer_type="part")
    return None
