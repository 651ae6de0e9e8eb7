"""The ranking knobs, each with the measurement that chose it, and the fusion methods they pick.

The settings are saved in the index manifest at build time and read back from there, so an
index keeps ranking the way it was measured. Numbers quoted below are hit@1 unless said
otherwise; "CMRC" is the CMRC 2018 trial set (1000 questions, a hit only in the gold document),
"book-dev" our own 30 questions on the bundled book (`benchmarks/data/book-dev.jsonl`, 13 in
English). `benchmarks/fusion.py` re-measures the fusion choices.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol

import numpy as np

from docqa.errors import InputError

__all__ = ["RankingSettings", "CONTEXT_VECTORS", "Fusion", "ZScoreFusion", "ReciprocalRankFusion", "FUSIONS", "make_fusion",
           "DenseLeg", "KeywordLeg"]

FUSIONS = ("zscore", "rrf", "dense", "keyword")
CONTEXT_VECTORS = ("headings", "pooled", "embedded")
FILLED_WHEN_MISSING = {"context_vectors": "embedded", "heading_weight": 1.0}
"""Settings an older manifest lacks that still describe its index: before `context_vectors`
existed every index embedded its context vectors (so `heading_weight` was never used)."""


@dataclass(frozen=True)
class RankingSettings:
    """How passages are ranked and the answer chosen. Defaults are the measured best."""

    fusion: str = "zscore"
    """How the dense and keyword legs are combined: "zscore" (normalised-score fusion), "rrf"
    (reciprocal-rank fusion), or one leg alone ("dense", "keyword"; for comparison). On CMRC with
    300-character passages: zscore 0.936, rrf 0.918, dense alone 0.881, keyword alone 0.910. On
    book-dev with today's index (`benchmarks/fusion.py`): zscore 0.900, rrf 0.633, dense alone
    0.867, keyword alone 0.600."""

    dense_weight: float = 1.0
    """Weight of the dense leg against the keyword leg (1.0: equal). `benchmarks/fusion.py` on
    book-dev: 0.5 / 1.0 / 1.5 / 2.0 give hit@1 0.867 / 0.900 / 0.867 / 0.867 (the 14 shared book
    questions: 0.929 at each)."""

    rrf_k: int = 60
    """The damping constant of reciprocal-rank fusion, the value of Cormack et al. (2009); used only
    when fusion is "rrf", which lost to zscore, so it was not tuned."""

    candidate_pool: int = 50
    """Candidates each leg proposes; the z-scores are computed over the union of both legs'.
    Fixed, so the order of the first hits does not depend on how many are asked for (it was
    max(50, 4k), so k above 12 reordered the top). Every README number was measured with 50
    (eval asks k=10). A question gets at most as many hits as the pools hold."""

    dense_overfetch: int = 2
    """FAISS returns this many times the pool before the hubness correction re-sorts it, so a
    passage pushed down by its hubness is replaced by one that was just below the cut."""

    sentence_weight: float = 0.5
    """Share of a passage's dense score taken from its closest sentence (the rest from the whole
    passage): one sentence often answers alone. Raised CMRC from 0.977 to 0.983."""

    hub_weight_zh: float = 0.5
    """How much of a passage's hubness (its mean similarity to generic questions, CSLS-style) is
    subtracted for a Chinese question."""

    hub_weight_en: float = 1.0
    """The same for a question with no Chinese character, which also gets the language shift.
    Hubness correction, the shift and the keyword coverage weight together took book-dev from
    0.57 to 0.90, mostly on its English questions."""

    overlap_threshold: float = 0.5
    """A passage sharing more than this share of the shorter one's span with a passage already
    returned is dropped. Chunks overlap by one sentence, far below half, so neighbours both stay;
    not tuned."""

    answer_passages: int = 3
    """The answer sentence is chosen from this many top passages."""

    lexical_weight: float = 0.2
    """Weight of the question's non-topic words found in a sentence, next to its cosine, when
    choosing the answer sentence (the topic-aware answer choice of commit 0a80e1f)."""

    rank_penalty: float = 0.1
    """Subtracted per rank of the sentence's passage, so a near tie goes to the better passage.
    0.1 over 0.02 (answer accuracy, issue 11): CMRC 0.845 -> 0.849, book-dev 0.900 -> 0.933,
    book-en 0.968 -> 0.968; 0.2 gave CMRC 0.851 but book-en 0.903."""

    context_weight: float = 0.8
    """Share of an answer sentence's cosine taken from its context vector, the sentence read under
    its document title and headings (the rest from the sentence alone); 0 builds no context
    vectors. A sentence that answers a question about its topic often does not name it ("叶呈扇形"
    under "银杏"). Answer accuracy (`benchmarks/sentence_vectors.py`), CMRC tuning / checking
    halves, with "headings" context vectors (`heading_weight` 1.0): 0 0.871 / 0.875, 0.4 0.875 /
    0.881, 0.6 0.873 / 0.883, 0.7 0.873 / 0.884, 0.8 0.875 / 0.888, 0.9 0.873 / 0.886 (book-dev
    0.933 up to 0.8, 0.900 at 0.9; book-en 0.968 at 0.4, 1.000 from 0.6). 0.8: the best of the
    tuning half that keeps every book set. For "embedded" ones 0.6 was chosen
    (`benchmarks/answers.py`: 0 0.871 / 0.873, 0.4 0.879 / 0.883, 0.6 0.883 / 0.883, 0.7 0.883 /
    0.884, 1.0 0.877 / 0.877); an index keeps the weight it was built with."""

    context_vectors: str = "headings"
    """How the context vectors are made. "headings" (the default): each sentence's own vector plus
    `heading_weight` times the vector of its title and headings, renormalised; one embedding per
    distinct heading path, so almost no model work. "embedded": each sentence embedded again as
    "title headings：sentence" (a second pass over every sentence: 92.1 CPU s for a cold CMRC
    build against 63.3 with headings ones and 60.5 with none, `benchmarks/bench_context.py`). "pooled": each sentence's tokens averaged out of its
    passage's own forward pass (late chunking, no extra model work; only the bundled model's
    encoder can, others embed). Answer accuracy (`benchmarks/sentence_vectors.py`, one run on the
    indexes of `benchmarks/bench_context.py`), book-shared / book-dev / book-en / book-zht and
    CMRC tune / check: embedded at 0.6 1.000 / 0.933 / 0.968 / 0.968, 0.883 / 0.884; headings at
    0.8 1.000 / 0.933 / 1.000 / 0.968, 0.875 / 0.888; pooled at 0.6 1.000 / 0.933 / 0.968 /
    0.968, 0.867 / 0.883; none 0.871 / 0.875. Headings ones stay within 0.01 of embedded ones on
    every set for a fraction of the cost, so they are the default. An index saved before this
    setting existed holds embedded ones."""

    heading_weight: float = 1.0
    """For "headings" context vectors: the weight of the title-and-headings vector added to the
    sentence's own before renormalising. Used at build time, saved with the index. At
    `context_weight` 0.8, CMRC tune / check: 0.5 0.875 / 0.884, 0.75 0.875 / 0.886, 1.0 0.875 /
    0.888, 1.25 and 1.5 0.875 / 0.886, 2.0 0.877 / 0.886 but book-dev 0.933 -> 0.900; book-en
    1.000 throughout (0.968 embedded). 1.0: the middle of the plateau."""

    answer_type_bonus: float = 0.05
    """Added, when choosing the answer sentence, to a sentence that holds an expression of the type
    the question asks for (a time for "when", a number for "how many", a name for "who", a
    chapter for "which part"; `kinds.TYPED`), so of two close sentences the one with the
    thing asked wins. `benchmarks/answer_types.py`, refusal off, bonus 0 / 0.05: book-dev 0.933 / 0.933,
    book-en 1.000 / 1.000, book-zht 0.968 / 0.968, DRCD dev tuning split (300 paragraphs) 0.901 / 0.898,
    CMRC trial tuning split 0.878 / 0.880; with 0.05 the book's "“一带一路”倡议最早是什么时候提出的？"
    answers with 2013 (0 does not). Only 0 and 0.05 were compared on DRCD/CMRC (time ran out): a
    wash there, so it is not yet shown to help beyond the book's "when" questions."""

    max_answer_chars: int = 200
    """An answer is one sentence, or two adjacent ones when they fit in this many characters."""

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise InputError(f"unknown fusion {self.fusion!r}", hint=f"use one of {', '.join(FUSIONS)}")
        if self.candidate_pool < 1 or self.answer_passages < 1 or self.dense_overfetch < 1:
            raise InputError("candidate_pool, answer_passages and dense_overfetch must be at least 1")
        if self.context_vectors not in CONTEXT_VECTORS:
            raise InputError(f"unknown context_vectors {self.context_vectors!r}",
                             hint=f"use one of {', '.join(CONTEXT_VECTORS)}")
        if not 0.0 <= self.context_weight <= 1.0:
            raise InputError(f"context_weight must be between 0 and 1, got {self.context_weight}")
        if not 0.0 <= self.heading_weight <= 10.0:
            raise InputError(f"heading_weight must be between 0 and 10, got {self.heading_weight}")

    def hub_weight(self, lang: str) -> float:
        return self.hub_weight_zh if lang == "zh" else self.hub_weight_en

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RankingSettings":
        """Settings from a manifest; unknown keys are refused (an index from a newer docqa)."""
        known = {f.name for f in fields(cls)}
        extra = sorted(set(data) - known)
        if extra:
            raise InputError(f"unknown ranking settings: {', '.join(extra)}")
        return cls(**{**FILLED_WHEN_MISSING, **data})


@dataclass
class DenseLeg:
    """The dense leg's candidates (best first) and their hubness-corrected cosines."""

    rows: np.ndarray
    scores: np.ndarray


@dataclass
class KeywordLeg:
    """The keyword leg's candidates (best first), the BM25 score of every row (None when no
    word of the question is in the corpus, or when the store does not hold every score at hand:
    fusion then asks for the rows it needs), and the share of the question's words the corpus has."""

    rows: np.ndarray
    scores: np.ndarray
    all_scores: np.ndarray | None
    coverage: float


class DenseScorer(Protocol):
    """What a fusion may ask of either side for passages only the other leg proposed."""

    def dense_scores(self, rows: np.ndarray) -> np.ndarray: ...

    def sentence_scores(self, rows: np.ndarray) -> np.ndarray: ...

    def keyword_scores(self, rows: np.ndarray) -> np.ndarray:
        """BM25 of rows, asked only when the keyword leg carries no score per passage."""
        ...


class Fusion(Protocol):
    def fuse(self, dense: DenseLeg, keyword: KeywordLeg, scorer: DenseScorer) -> list[tuple[int, float]]:
        """Rows with their fused score, best first (ties by row)."""
        ...


def _zscore(x: np.ndarray) -> np.ndarray:
    std = float(x.std())
    return (x - x.mean()) / std if std > 1e-9 else np.zeros_like(x, dtype=np.float64)


@dataclass(frozen=True)
class ZScoreFusion:
    """Normalised-score fusion: both legs scored on the union of candidates, each turned into
    z-scores there and summed, so a clear BM25 winner is not flattened to a rank. The keyword leg
    speaks for the share of the question the corpus has words for: an English question about a
    Chinese book only meets stray English words. A leg of weight 0 is left out."""

    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    sentence_weight: float = 0.5

    def fuse(self, dense: DenseLeg, keyword: KeywordLeg, scorer: DenseScorer) -> list[tuple[int, float]]:
        rows = np.array(sorted(set(map(int, dense.rows)) | set(map(int, keyword.rows))), dtype=np.int64)
        if len(rows) == 0:
            return []
        fused = np.zeros(len(rows))
        if self.dense_weight:
            known = dict(zip(map(int, dense.rows), map(float, dense.scores)))
            missing = np.array([r for r in rows if int(r) not in known], dtype=np.int64)
            if len(missing):
                known.update(zip(map(int, missing), map(float, scorer.dense_scores(missing))))
            d = np.array([known[int(r)] for r in rows])
            if self.sentence_weight:
                d = (1 - self.sentence_weight) * d + self.sentence_weight * scorer.sentence_scores(rows)
            fused += self.dense_weight * _zscore(d)
        if self.keyword_weight and len(keyword.rows):
            bm25 = keyword.all_scores[rows] if keyword.all_scores is not None else scorer.keyword_scores(rows)
            fused += self.keyword_weight * _zscore(bm25) * keyword.coverage
        order = np.lexsort((rows, -fused))
        return [(int(rows[i]), float(fused[i])) for i in order]


@dataclass(frozen=True)
class ReciprocalRankFusion:
    """Each leg adds weight / (k + rank): needs no score calibration, but flattens a clear winner."""

    k: int = 60
    dense_weight: float = 1.0

    def fuse(self, dense: DenseLeg, keyword: KeywordLeg, scorer: DenseScorer) -> list[tuple[int, float]]:
        fused: dict[int, float] = {}
        for weight, rows in ((self.dense_weight, dense.rows), (1.0, keyword.rows)):
            for rank, row in enumerate(rows):
                fused[int(row)] = fused.get(int(row), 0.0) + weight / (self.k + rank + 1)
        return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def make_fusion(settings: RankingSettings) -> Fusion:
    """The fusion object the settings name."""
    if settings.fusion == "rrf":
        return ReciprocalRankFusion(settings.rrf_k, settings.dense_weight)
    if settings.fusion == "dense":
        return ZScoreFusion(1.0, 0.0, settings.sentence_weight)
    if settings.fusion == "keyword":
        return ZScoreFusion(0.0, 1.0, settings.sentence_weight)
    return ZScoreFusion(settings.dense_weight, 1.0, settings.sentence_weight)
