"""Extractive answers: the sentence (or two adjacent ones) from the top passages that best
answers the question.

Sentence vectors are computed at build time, so choosing the answer costs a dot product, not
another pass of the model. Words of the question found in a sentence count too, except the words
of the topic itself (the document title and the headings above the passage): a question names
its topic, and the sentence that introduces the topic by name is rarely the one that answers
it. The remaining words weigh more the fewer candidate sentences contain them.

A sentence runs to 。！？ (or ! ? .): clauses split off at a semicolon belong to the sentence
they continue, so an answer keeps a list ("…作为食物来源；木材可制成…；心材…") whole, and a mark
inside a quotation or a title (“…地位。通常…”, 《卡拉OK.LIVE！‧台北‧我》) ends nothing. A sentence too
long for the answer is cut to the clauses around the one that shares the most words with the
question, not to its head: the answer to "为确保…，伊达政宗做了什么？" follows the clause that
restates the question.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from docqa.index.answer import kinds as answer_types
from docqa.index.answer.text import clean_answer, is_label_line, preference, usable
from docqa.index.question import QuestionInfo
from docqa.index.ranking import RankingSettings
from docqa.index.results import Answer, Hit
from docqa.index.store.sentences import SentenceTable
from docqa.ingest.text import normalize

__all__ = ["Answer", "best_answer"]

_WORDS = re.compile(r"\w.*\w")
_FIELD = re.compile(r"^[^:：]{1,12}[:：]\s*\S")
_FIELD_VALUE = re.compile(r"^[^:：\n]{1,12}[:：]\s*(\S(?:[^\n]*\S)?)\s*$")
_NAMED = ("person", "organisation", "place", "title")


@dataclass
class _Candidate:
    rank: int
    first: int  # index of the passage's first sentence in the sentence table
    i: int  # position within the passage
    start: int
    end: int
    folded: str
    topic: str
    line: bool = False  # alone on its line: only then can it be a heading, a name or a field
    opens: tuple[int, ...] = ()  # per pair of _PAIRS: openers minus closers in the unit
    continues: bool = False  # ends in a semicolon: the sentence goes on in the next unit


def own_line(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is a whole line: a short unit inside a paragraph ("…播放的《CDTV！》",
    cut off at the mark inside the title) is part of a sentence, not a heading."""
    before = text[:start].rstrip(" \t\u3000")
    after = text[end:].lstrip(" \t\u3000")
    return (not before or before.endswith("\n")) and (not after or after.startswith("\n"))


@dataclass(frozen=True)
class _Unit:
    """A sentence of a passage as the answer choice reads it, whatever the question."""

    i: int
    start: int
    end: int
    folded: str  # NFKC, lower case, after the label line above it if any
    line: bool
    wordy: bool  # has a word and is not one of the passage's headings
    opens: tuple[int, ...]
    continues: bool


@lru_cache(maxsize=2048)
def _units(text: str, spans: tuple[tuple[int, int], ...], title: str,
           heading_path: tuple[str, ...]) -> tuple[str, tuple[_Unit, ...]]:
    """A passage's topic and its sentences folded, once per passage rather than once per question
    that ranks it (folding them was a fifth of an answer's Python time)."""
    headings = {normalize(h).lower() for h in heading_path}
    topic = normalize(" ".join([title, *heading_path])).lower()
    units = []
    label = ""
    for i, (s, e) in enumerate(spans):
        folded = normalize(text[s:e]).lower()
        line = own_line(text, s, e)
        if line and is_label_line(text[s:e]) and not (label and not _FIELD.match(label) and _FIELD.match(folded)):
            # A name or heading on its own line scopes the text under it ("李芳芳" / "女，…").
            label = folded
        elif line and label and is_label_line(text[s:e]):
            # A field line under a heading line ("编写委员会" / "主任：…") belongs to that heading:
            # the same field under two headings answers two different questions.
            folded = f"{label} {folded}"
        elif label:
            folded = f"{label} {folded}"
        # A heading names a topic; it does not answer a question about it.
        raw = text[s:e]
        units.append(_Unit(i, s, e, folded, line, bool(_WORDS.search(folded)) and folded not in headings,
                           tuple(raw.count(a) - raw.count(b) for a, b in _PAIRS), bool(_CONTINUES.search(raw))))
    return topic, tuple(units)


def _candidates(hits: list[Hit], rows: list[int], sentences: SentenceTable, passages: int,
                info: QuestionInfo | None = None) -> list[_Candidate]:
    out = []
    for rank, row in enumerate(rows[:passages]):
        lo, hi = sentences.of(row)
        passage = hits[rank].passage
        spans = tuple(zip(sentences.start[lo:hi].tolist(), sentences.end[lo:hi].tolist()))
        topic, units = _units(passage.text, spans, passage.title, tuple(passage.heading_path))
        for u in units:
            # Nor does a rule line, or a label line the question does not ask for.
            if u.wordy and (not u.line or usable(passage.text[u.start:u.end], info)):
                out.append(_Candidate(rank, lo, u.i, u.start, u.end, u.folded, topic, u.line, u.opens, u.continues))
    return out


def _lexical(cands: list[_Candidate], tokens: list[str]) -> np.ndarray:
    if not tokens or not cands:
        return np.zeros(len(cands))
    topical = np.array([[t in c.topic for t in tokens] for c in cands], dtype=bool)
    present = np.array([[t in c.folded for t in tokens] for c in cands], dtype=bool) & ~topical
    df = present.sum(axis=0)
    weights = np.array([math.log((len(cands) + 1) / (d + 0.5)) * len(t) for t, d in zip(tokens, df)])
    total = (~topical) @ weights
    return np.divide(present @ weights, total, out=np.zeros(len(cands)), where=total > 0)


def best_answer(qvec: np.ndarray, qtokens: list[str], hits: list[Hit], rows: list[int],
                sentences: SentenceTable, settings: RankingSettings | None = None,
                info: QuestionInfo | None = None) -> Answer:
    """The answer sentence among the top hits' sentences; `rows` are the hits' passage rows and
    `qtokens` the question as the keyword leg cut it."""
    settings = settings or RankingSettings()
    max_chars = settings.max_answer_chars
    if not hits:
        return Answer("", None, hits)
    cands = _candidates(hits, rows, sentences, settings.answer_passages, info)
    if not cands:
        p = hits[0].passage
        return Answer(clean_answer(p.text, max_chars), p.passage_id, hits)
    at = [c.first + c.i for c in cands]
    dense = sentences.vectors[at] @ qvec
    if sentences.context is not None and settings.context_weight:
        dense = (1 - settings.context_weight) * dense + settings.context_weight * (sentences.context[at] @ qvec)
    ranks = np.array([c.rank for c in cands])
    score = dense + settings.lexical_weight * _lexical(cands, sorted(set(qtokens))) - settings.rank_penalty * ranks
    score += np.array([preference(hits[c.rank].passage.text[c.start:c.end], info) for c in cands])
    score += LABEL_BONUS * _names_label(cands, hits, qtokens)
    kind = question_type(info)
    need = "year" if kind == "time" and answer_types.asks_year(info.text) else kind
    best = _typed_best(score, cands, hits, need, settings.answer_type_bonus)
    c = cands[best]
    passage = hits[c.rank].passage
    runs = _sentences(cands, max_chars)
    run = next(r for r in runs if best in r)
    s, e = cands[run[0]].start, cands[run[-1]].end
    if e - s > max_chars:
        text = _focus(passage.text, cands, run, best, qtokens, max_chars)
        return Answer(text, passage.passage_id, hits, span=typed_span(text, need), answer_type=kind)
    # A second sentence only when it is adjacent and still fits: it keeps the answer readable.
    # A field or label line (“定 价: 69.00元”) stands alone.
    if not (c.line and is_label_line(passage.text[c.start:c.end])):
        at = runs.index(run)
        before = runs[at - 1] if at and cands[runs[at - 1][-1]].rank == c.rank else None
        after = runs[at + 1] if at + 1 < len(runs) and cands[runs[at + 1][0]].rank == c.rank else None
        neighbours = []
        if before and cands[before[-1]].i == cands[run[0]].i - 1:
            neighbours.append(before)
        if after and cands[after[0]].i == cands[run[-1]].i + 1:
            neighbours.append(after)
        for r in sorted(neighbours, key=lambda r: -max(score[j] for j in r)):
            s2, e2 = min(s, cands[r[0]].start), max(e, cands[r[-1]].end)
            if e2 - s2 <= max_chars:
                s, e = s2, e2
                break
    text = clean_answer(passage.text[s:e], max_chars)
    return Answer(text, passage.passage_id, hits, span=typed_span(text, need, passage.text[c.start:c.end]), answer_type=kind)


LABEL_BONUS = 0.1
"""For a "label: value" line whose label is one of the question's words ("主任：…" for "…的主任是谁"),
not merely holds one ("副主任：…"). Such lines are short and share few words with the question, so
the cosine alone cannot tell the two apart; 0.1 is half the lexical weight and was not tuned
(no DRCD or CMRC question meets a field line)."""


def _names_label(cands: list[_Candidate], hits: list[Hit], qtokens: list[str]) -> np.ndarray:
    folded = {normalize(t).lower() for t in qtokens}
    # A word inside a longer word of the question does not count: 委员 of "委员会的主任".
    words = {w for w in folded if not any(w != o and w in o for o in folded)}
    out = np.zeros(len(cands))
    for j, c in enumerate(cands):
        if c.line:
            m = _FIELD.match(normalize(hits[c.rank].passage.text[c.start:c.end]).lower().strip())
            if m and re.sub(r"\s+", "", m.group().split(":")[0].split("：")[0]) in words:
                out[j] = 1.0
    return out


def question_type(info: QuestionInfo | None) -> str:
    """The answer type the question asks for ("other" without a question)."""
    return _classify(info.text) if info is not None else "other"


@lru_cache(maxsize=1024)
def _classify(question: str) -> str:
    return answer_types.classify(question)


def _typed_best(score: np.ndarray, cands: list[_Candidate], hits: list[Hit], kind: str, bonus: float) -> int:
    """The best candidate once a sentence holding an expression of the asked type gets `bonus`.

    Only sentences within `bonus` of the best can win by it, so only those are read (the name
    tagger costs milliseconds a sentence)."""
    best = int(np.argmax(score))
    if not bonus or kind not in answer_types.TYPED:
        return best
    for j in np.argsort(-score, kind="stable"):
        if score[j] + bonus <= score[best]:
            break
        c = cands[j]
        if answer_types.has_kind(hits[c.rank].passage.text[c.start:c.end], kind):
            return int(j)
    return best


def typed_span(text: str, kind: str, sentence: str | None = None) -> tuple[int, int] | None:
    """Where in the answer text the asked-for expression stands: the first one inside the chosen
    sentence (when the answer adds a neighbour), else the first one at all."""
    found = answer_types.spans(text, kind) if kind in answer_types.TYPED else []
    if not found and kind in _NAMED:
        # A "label: value" line ("主任：吴海涛") names its value, whether or not the tagger knows it.
        m = _FIELD_VALUE.match(text)
        return m.span(1) if m else None
    if not found:
        return None
    if sentence:
        at = text.find(clean_answer(sentence, len(text) + 1)[:20])
        inside = [sp for sp in found if at >= 0 and sp[0] >= at]
        if inside:
            return inside[0]
    return found[0]


_CONTINUES = re.compile(r"[；;][”’」』）)]*\s*$")
_CLAUSE_END = re.compile(r"[，,；;：:]")
_CJK_CHAR = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _sentences(cands: list[_Candidate], max_chars: int) -> list[list[int]]:
    """The candidates grouped into sentences: runs of adjacent units of one passage, each ending
    in a semicolon or inside an open quotation but the last. A quotation left open (a stray
    bracket) holds a run together only as far as an answer can reach. Every candidate is in
    exactly one run, in order. (Each pair's marks are single characters, so a run's openers
    minus closers are the sum of its units'.)"""
    runs: list[list[int]] = []
    balance: list[int] = []
    for j, c in enumerate(cands):
        prev = cands[j - 1] if j else None
        if prev and prev.rank == c.rank and prev.i + 1 == c.i and (
                prev.continues
                or (c.end - cands[runs[-1][0]].start <= max_chars and any(b > 0 for b in balance))):
            runs[-1].append(j)
            balance = [b + o for b, o in zip(balance, c.opens)]
        else:
            runs.append([j])
            balance = list(c.opens)
    return runs


_PAIRS = ("“”", "「」", "『』", "《》", "（）", "()")
"""Quotation and title marks: a sentence mark inside a quotation or title still open does not end
the sentence."""


def _focus(text: str, cands: list[_Candidate], run: list[int], best: int, qtokens: list[str], max_chars: int) -> str:
    """A sentence longer than `max_chars` cut to whole clauses: from the clause of the best unit
    that shares the most (rarity-weighted) question words and characters, forward, then back
    while they fit; "…" marks where the sentence goes on."""
    start, end = cands[run[0]].start, cands[run[-1]].end
    cuts = sorted({start, end, *(m.end() for m in _CLAUSE_END.finditer(text, start, end))})
    clauses = [_Candidate(0, 0, i, a, b, normalize(text[a:b]).lower(), cands[best].topic)
               for i, (a, b) in enumerate(zip(cuts, cuts[1:]))]
    words = sorted(set(qtokens))
    chars = sorted({ch for t in words for ch in t if _CJK_CHAR.match(ch)})
    fit = _lexical(clauses, words) + _lexical(clauses, chars)
    inside = [k for k, cl in enumerate(clauses) if cl.start < cands[best].end and cl.end > cands[best].start]
    lo = hi = max(inside, key=lambda k: (fit[k], -k))
    room = max_chars - 2  # for the marks at either end
    while hi + 1 < len(clauses) and clauses[hi + 1].end - clauses[lo].start <= room:
        hi += 1
    while lo > 0 and clauses[hi].end - clauses[lo - 1].start <= room:
        lo -= 1
    body = clean_answer(text[clauses[lo].start:clauses[hi].end], room + 1)
    return ("…" if lo > 0 else "") + body.rstrip("，,；;：:") + ("…" if hi + 1 < len(clauses) and not body.endswith("…") else "")
