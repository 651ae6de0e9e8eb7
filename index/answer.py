"""Extractive answers: the sentence (or two adjacent ones) from the top passages that best
answers the question.

Sentence vectors are computed at build time, so choosing the answer costs a dot product, not
another pass of the model; words of the question found in the sentence break near-ties.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ingest.text import normalize

if TYPE_CHECKING:
    from index.search import Hit
    from index.store import LoadedIndex

MAX_ANSWER_CHARS = 200
ANSWER_PASSAGES = 3
LEXICAL_WEIGHT = 0.3
RANK_PENALTY = 0.02


@dataclass
class Answer:
    text: str
    passage_id: str | None
    hits: list["Hit"] = field(default_factory=list)


def _lexical(sentence: str, tokens: list[str]) -> float:
    total = sum(len(t) for t in tokens)
    if not total:
        return 0.0
    folded = normalize(sentence).lower()
    return sum(len(t) for t in tokens if t in folded) / total


def best_answer(qvec: np.ndarray, qtokens: list[str], hits: list["Hit"], rows: list[int],
                index: "LoadedIndex", tokenize=None) -> Answer:
    if not hits:
        return Answer("", None, hits)
    tokens = sorted(set(qtokens))
    best: tuple[float, int, int] | None = None
    scored: dict[int, np.ndarray] = {}
    for rank, row in enumerate(rows[:ANSWER_PASSAGES]):
        lo, hi = np.searchsorted(index.sent_row, [row, row + 1])
        if lo == hi:
            continue
        passage = hits[rank].passage
        spans = list(zip(index.sent_start[lo:hi], index.sent_end[lo:hi]))
        headings = {normalize(h) for h in passage.heading_path}
        dense = index.sent_vectors[lo:hi] @ qvec
        lex = np.array([_lexical(passage.text[s:e], tokens) for s, e in spans])
        score = dense + LEXICAL_WEIGHT * lex - RANK_PENALTY * rank
        # A heading names a topic; it does not answer a question about it.
        score[[normalize(passage.text[s:e]) in headings for s, e in spans]] = -np.inf
        scored[rank] = score
        i = int(np.argmax(score))
        if best is None or score[i] > best[0]:
            best = (float(score[i]), rank, i)
    if best is None:
        p = hits[0].passage
        return Answer(p.text[:MAX_ANSWER_CHARS], p.passage_id, hits)
    _, rank, i = best
    row = rows[rank]
    lo = int(np.searchsorted(index.sent_row, row))
    starts, ends = index.sent_start, index.sent_end
    text = hits[rank].passage.text
    s, e = int(starts[lo + i]), int(ends[lo + i])
    score = scored[rank]
    # A second sentence only when it is adjacent and still fits: it keeps the answer readable.
    options = [j for j in (i - 1, i + 1) if 0 <= j < len(score) and np.isfinite(score[j])]
    options.sort(key=lambda j: -score[j])
    for j in options:
        s2, e2 = min(s, int(starts[lo + j])), max(e, int(ends[lo + j]))
        if e2 - s2 <= MAX_ANSWER_CHARS:
            s, e = s2, e2
            break
    answer = text[s:e]
    if len(answer) > MAX_ANSWER_CHARS:
        answer = answer[: MAX_ANSWER_CHARS - 1] + "…"
    return Answer(answer, hits[rank].passage.passage_id, hits)
