"""What a question is, as far as cheap rules can tell: its language, its script, what kind of
answer it wants, and whether it asks about the book as an object (price, contents, editors).

All of it works on the question alone (plus the corpus's script), so it costs nothing next to
the model, and every rule is about Chinese and English questions in general, never one book.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

# Question types whose answers carry a recognisable token.
_WHEN = re.compile(r"哪一?年|何时|什么时候|几月|哪天|日期|年代|\bwhen\b|\bwhat year\b|\bwhich year\b|\bwhat date\b", re.I)
_COUNT = re.compile(r"多少|几[个条种项家章次位名岁年倍]|多大|多长|多高|多远|多重|比例|比重|百分之|率是|"
                    r"\bhow (many|much|large|big|long|far|high)\b|\bwhat (share|percentage|proportion|rate)\b|"
                    r"\bwhat is the (price|cost|rate|number|population)\b", re.I)
_WHO = re.compile(r"谁|哪位|何人|\bwho\b|\bwhom\b", re.I)
_DEFINE = re.compile(r"^\s*(什么是|何谓|何为)|是什么(意思|含义)?[？?]?\s*$|的(内涵|含义|定义)|"
                     r"^\s*what (is|are|was|were) (the |an? )?[^?]{2,60}\?\s*$|^\s*define\b", re.I)

_DATE = re.compile(r"(1[5-9]|20)\d{2}\s*年|\d{1,2}\s*月|(1[5-9]|20)\d{2}(?![\d.%])|[一二三四五六七八九十]+月")
_NUMBER = re.compile(r"\d|[一二三四五六七八九十两百千万亿]+[个条种项家章倍成]|[万亿]")
_NAME_CUE = re.compile(r"[\u4e00-\u9fff]{2,4}(?:主席|总理|教授|先生|女士|博士|等人)|由[\u4e00-\u9fff]{2,4}|"
                       r"[\u4e00-\u9fff]{2,3}(?:提出|开辟|主编|编著|发明|创立|担任)|"
                       r"(?:编辑|作者|主任|委员|主编|编著)\s*[:：]")

# Questions about the book as an object: these, and only these, are answered from navigation
# text (contents, copyright and CIP pages, committee lists).
_NAVIGATION = re.compile(
    r"定价|价格|售价|多少钱|书号|isbn|出版|发行|编辑|印刷|装订|版次|印次|开本|印张|字数|目录|"
    r"第[0-9一二三四五六七八九十]+[章节]|几章|章节|标题|编委|委员|丛书|邮编|电话|邮箱|"
    r"\bprice\b|\bcost\b|\bpublish|\beditor|\bprint|\bedition\b|\bcontents\b|\bchapters?\b|\bsections?\b|"
    r"\btitle\b|\bcommittee\b|\bseries\b|\bpages?\b|\bcharacters does\b|\bwords does\b|\bformat\b",
    re.I)

# Field labels of a Chinese book's copyright page, for questions that name the field in English
# or in other words ("price" -> 定价). These are the labels every Chinese CIP page uses.
_FIELD_LABELS = (
    (re.compile(r"价格|定价|售价|多少钱|\bprice\b|\bcost\b", re.I), ("定价", "价")),
    (re.compile(r"书号|isbn", re.I), ("ISBN", "书号")),
    (re.compile(r"出版社|出版发行|出版单位|\bpublisher\b|\bpublished by\b", re.I), ("出版发行", "出版社")),
    (re.compile(r"责任编辑|\bresponsible editor\b|\bediting\b", re.I), ("责任编辑",)),
    (re.compile(r"印刷|\bprinted\b|\bprinter\b|\bprinting\b", re.I), ("印刷", "印刷有限公司")),
    (re.compile(r"字数|\bhow many (characters|words)\b", re.I), ("字数",)),
    (re.compile(r"版次|第几版|\bedition\b", re.I), ("版次", "第1版")),
)


# A question about the book as an object names it: "the book", "this book", "本书", or begins
# with "书的…" ("书的定价是多少？", the way a reader holding the book asks).
ABOUT_BOOK = re.compile(r"\b(the|this) book\b|本书|这本书|该书|此书|这部书|全书|^\s*书的", re.I)


def book_fields(question: str) -> list[tuple[str, ...]]:
    """For a question about the book itself, the copyright-page labels of each field it asks
    for (one tuple of alternative labels per field), else none."""
    if not ABOUT_BOOK.search(question):
        return []
    return [labels for pattern, labels in _FIELD_LABELS if pattern.search(question)]


# What makes text a question when it has no Chinese in it: a question mark, or a word that
# asks or commands (English; the product's other question language).
_ASKS = re.compile(r"[?？¿]|\b(what|which|who|whom|whose|when|where|why|how|is|are|was|were|am|do|does|did|"
                   r"can|could|should|would|will|shall|may|might|must|has|have|had|list|name|tell|describe|"
                   r"explain|define|give|find|show|summari[sz]e|compare)\b", re.I)


def asks_nothing(question: str) -> bool:
    """Plain ASCII with no question mark and no asking word (`'; DROP TABLE passages; --`,
    `select * from users`): not worded as a question. Such text is refused only when none of
    its words occurs in the books either (`refusal.review`): then it neither asks nor names
    anything, and the nearest passage would be noise. Any non-ASCII letter (Chinese, accented
    names) keeps a question out of this rule."""
    return question.isascii() and not _ASKS.search(question)


@dataclass(frozen=True)
class QuestionInfo:
    text: str
    language: str  # "zh" or "en"
    kind: str | None  # "when", "count", "who", "define" or None
    navigation: bool
    fields: tuple[str, ...]


def language(text: str) -> str:
    from docqa.ingest.text import language as text_language

    return text_language(text)


def classify(question: str) -> QuestionInfo:
    """Rules are written in Simplified characters; a Traditional question is read through them."""
    q = question.strip()
    if _CJK.search(q):
        q = _converter("t2s.json").convert(q)
    kind = None
    for name, pattern in (("when", _WHEN), ("count", _COUNT), ("who", _WHO), ("define", _DEFINE)):
        if pattern.search(q):
            kind = name
            break
    fields: tuple[str, ...] = ()
    for pattern, labels in _FIELD_LABELS:
        if pattern.search(q):
            fields += labels
    return QuestionInfo(q, language(q), kind, bool(_NAVIGATION.search(q)) or bool(fields), fields)


def fits_kind(kind: str | None, sentence: str) -> bool:
    """Whether a sentence carries what a question of this kind asks for."""
    if kind == "when":
        return bool(_DATE.search(sentence))
    if kind == "count":
        return bool(_NUMBER.search(sentence))
    if kind == "who":
        return bool(_NAME_CUE.search(sentence))
    if kind == "define":
        return bool(re.search(r"^.{0,24}?(是指|是一[种个条座]|是)", sentence))
    return False


@lru_cache(maxsize=4)
def _converter(config: str):
    import opencc

    return opencc.OpenCC(config)


def corpus_script(texts) -> str:
    """"hant" when the corpus is written in Traditional characters, else "hans"."""
    sample = "".join(t[:400] for t in texts[:200])
    han = _CJK.findall(sample)
    if not han:
        return "hans"
    simplified = _converter("t2s.json").convert("".join(han))
    changed = sum(a != b for a, b in zip(han, simplified))
    return "hant" if changed > 0.05 * len(han) else "hans"


def fold_script(question: str, script: str) -> str:
    """The question in the corpus's script, for searching only; citations keep the book's text."""
    if not _CJK.search(question):
        return question
    return _converter("s2t.json" if script == "hant" else "t2s.json").convert(question)
