"""What a search returns: ranked passages and the answer drawn from them.

Plain dataclasses shared by the ranking (index/search/searcher.py) and the answer choice (index/answer/extract.py), so
neither imports the other.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from docqa.ingest.model import Passage

__all__ = ["Hit", "Answer"]


@dataclass
class Hit:
    """A passage and its fused score (comparable within one question's ranking only)."""

    passage: Passage
    score: float


@dataclass
class Answer:
    """The short extractive answer, the passage it was taken from, and the ranked hits."""

    text: str
    passage_id: str | None
    hits: list[Hit] = field(default_factory=list)
    # A refusal: the book does not answer the question. `text` is then empty, `message` says
    # so in the question's language, and `hits` are only the closest passages.
    refused: bool = False
    message: str | None = None
    # How sure (docqa.index.answer.refusal): `support` 0..1, and "high", "low" (answered with the
    # closest sentence, which may not answer) or "none" (refused); None for a model never calibrated.
    support: float | None = None
    confidence: str | None = None
    evidence: object | None = None  # refusal.Evidence, for calibration
    # Where the asked-for expression (a date for "when", a name for "who"; answer_types) stands
    # in `text`, as (start, end), so a page can mark it; None when the answer holds none.
    span: tuple[int, int] | None = None
    answer_type: str = "other"
