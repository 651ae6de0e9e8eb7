"""What may stand as an answer, and how it reads: a clean sentence or two.

A heading line, a name on a line of its own, a rule line: these name things and answer
nothing, and glued to the sentence after them they make answers like "朱 健\\n\\n男，…".
Navigation lines (a CIP page's "定 价: 69.00元") answer only the questions that ask for them.
"""
from __future__ import annotations

import re
from functools import lru_cache

from docqa.index.question import QuestionInfo, fits_kind
from docqa.ingest.text import compact

MAX_ANSWER_CHARS = 200
# Measured on CMRC trial and the book sets (benchmarks/refusal.py's per-set accuracy): a bonus
# for sentences carrying a date / number / name cost accuracy at 0.04 and 0.08, so it is off;
# the kind still lets a bare date line answer a "when" question.
KIND_BONUS = 0.0
FIELD_BONUS = 0.3
DEFINE_SUBJECT_BONUS = 0.03

_SENTENCE_END = re.compile(r"[。！？；!?;][”’」』）)]*$")
_CJK_EDGE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff，。、；：“”（）]")
_FIELD_LINE = re.compile(r"^[^:：]{1,12}[:：]\s*\S")
SHORT_LINE = 30
_DATE_LINE = re.compile(r"(1[5-9]|20)\d{2}年(\d{1,2}月(\d{1,2}日)?)?|(1[5-9]|20)\d{2}[./-]\d{1,2}([./-]\d{1,2})?")


def is_label_line(sentence: str) -> bool:
    """A short line that ends no sentence: a heading, a name, a caption, a field of a CIP page."""
    s = sentence.strip()
    return "\n" not in s and len(s) <= SHORT_LINE and not _SENTENCE_END.search(s)


def usable(sentence: str, info: QuestionInfo | None) -> bool:
    """Whether a sentence may be (part of) the answer to this question."""
    if not is_label_line(sentence):
        return True
    # A line that is only a date answers a "when" question (a signature's "2018年4月").
    if info and info.kind == "when" and _DATE_LINE.fullmatch(compact(sentence)):
        return True
    # A field line ("定 价: 69.00元", "ISBN …") answers the question that asks for that field.
    if not (info and info.navigation):
        return False
    folded = compact(sentence).lower()
    return bool(_FIELD_LINE.search(sentence.strip())) or any(compact(f).lower() in folded for f in info.fields)


def is_field_of(sentence: str, labels: tuple[str, ...]) -> bool:
    """A line that gives one of these fields: it starts with the label or has "label:"."""
    folded = compact(sentence).lower()
    return any(folded.startswith(label) or field.search(folded) for label, field in _label_forms(tuple(labels)))


@lru_cache(maxsize=256)
def _label_forms(labels: tuple[str, ...]) -> tuple[tuple[str, re.Pattern], ...]:
    """Each label folded, and the pattern of "label:", made once per set of labels rather than
    once per candidate sentence."""
    folded = [compact(lb).lower() for lb in labels]
    return tuple((f, re.compile(re.escape(f) + "[:：]")) for f in folded)


def preference(sentence: str, info: QuestionInfo | None) -> float:
    """A bonus for sentences that carry what the question asks for (a date, a number, a field)."""
    if info is None:
        return 0.0
    bonus = KIND_BONUS if KIND_BONUS and info.kind and fits_kind(info.kind, sentence) else 0.0
    if info.fields and is_field_of(sentence, info.fields):
        bonus += FIELD_BONUS
    return bonus


def _join(lines: list[str]) -> str:
    out = ""
    for line in lines:
        if out and not (_CJK_EDGE.search(out[-1]) and _CJK_EDGE.search(line[0])):
            out += " "
        out += line
    return out


def clean_answer(text: str, limit: int = MAX_ANSWER_CHARS) -> str:
    """One line, no heading or name lines (when there is anything else), at most `limit` chars,
    cut at a sentence or clause end when it must be cut."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    body = [ln for ln in lines if not is_label_line(ln)] or lines
    answer = re.sub(r"[ \t\u3000]+", " ", _join(body)).strip()
    if len(answer) <= limit:
        return answer
    cut = answer[: limit - 1]
    for marks in ("。！？；!?;", "，,、："):
        pos = max(cut.rfind(m) for m in marks)
        if pos >= limit // 2:
            return cut[: pos + 1] if cut[pos] in "。！？!?" else cut[:pos] + "…"
    return cut + "…"
