"""Extractive answers: the sentence (or two adjacent ones) from the top passages that best
answers the question.

Sentence vectors are computed at build time, so choosing the answer costs a dot product, not
another pass of the model. Words of the question found in a sentence count too, except the words
of the topic itself (the document title and the headings above the passage): a question names
its topic, and the sentence that introduces the topic by name is rarely the one that answers
it. The remaining words weigh more the fewer candidate sentences contain them.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from docqa.index.answer_text import clean_answer, is_label_line, preference, usable
from docqa.index.question import QuestionInfo
from docqa.index.ranking import RankingSettings
from docqa.index.results import Answer, Hit
from docqa.index.sentences import SentenceTable
from docqa.ingest.text import normalize

__all__ = ["Answer", "best_answer"]

_WORDS = re.compile(r"\w.*\w")


@dataclass
class _Candidate:
    rank: int
    first: int  # index of the passage's first sentence in the sentence table
    i: int  # position within the passage
    start: int
    end: int
    folded: str
    topic: str


def _candidates(hits: list[Hit], rows: list[int], sentences: SentenceTable, passages: int,
                info: QuestionInfo | None = None) -> list[_Candidate]:
    out = []
    for rank, row in enumerate(rows[:passages]):
        lo, hi = sentences.of(row)
        passage = hits[rank].passage
        headings = {normalize(h) for h in passage.heading_path}
        topic = normalize(" ".join([passage.title, *passage.heading_path])).lower()
        label = ""
        for i in range(hi - lo):
            s, e = int(sentences.start[lo + i]), int(sentences.end[lo + i])
            folded = normalize(passage.text[s:e]).lower()
            if is_label_line(passage.text[s:e]):
                # A name or heading on its own line scopes the text under it ("李芳芳" / "女，…").
                label = folded
            elif label:
                folded = f"{label} {folded}"
            # A heading names a topic; it does not answer a question about it. Nor does a rule line.
            if (_WORDS.search(folded) and folded not in {h.lower() for h in headings}
                    and usable(passage.text[s:e], info)):
                out.append(_Candidate(rank, lo, i, s, e, folded, topic))
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
    dense = sentences.vectors[[c.first + c.i for c in cands]] @ qvec
    ranks = np.array([c.rank for c in cands])
    score = dense + settings.lexical_weight * _lexical(cands, sorted(set(qtokens))) - settings.rank_penalty * ranks
    score += np.array([preference(hits[c.rank].passage.text[c.start:c.end], info) for c in cands])
    best = int(np.argmax(score))
    c = cands[best]
    s, e = c.start, c.end
    # A second sentence only when it is adjacent and still fits: it keeps the answer readable.
    # A field or label line (“定 价: 69.00元”) stands alone.
    alone = is_label_line(hits[c.rank].passage.text[s:e])
    neighbours = [j for j in (best - 1, best + 1) if not alone and 0 <= j < len(cands) and cands[j].rank == c.rank
                  and abs(cands[j].i - c.i) == 1]
    for j in sorted(neighbours, key=lambda j: -score[j]):
        s2, e2 = min(s, cands[j].start), max(e, cands[j].end)
        if e2 - s2 <= max_chars:
            s, e = s2, e2
            break
    passage = hits[c.rank].passage
    return Answer(clean_answer(passage.text[s:e], max_chars), passage.passage_id, hits)
