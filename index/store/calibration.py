"""How close an index's own passages and sentences sit to each other: the scale a question's
similarity is read against.

A cosine of 0.90 means little by itself: in a library of many similar regulations every
sentence has a neighbour at 0.96, while in Wikipedia articles on unrelated topics the typical
nearest neighbour is at 0.90. The refusal model (`docqa.index.answer.refusal`) reads a question's best
sentence and passage against these levels, so that it transfers across corpora and scripts
instead of holding to one corpus's absolute scale. The levels come from the stored vectors
alone (no model run), so `build` and `add` compute them in a second, and an index of another
model gets its own.
"""
from __future__ import annotations

from typing import Any

import numpy as np

VERSION = 1
SAMPLE = 400
"""Sentences (and passages) whose nearest neighbour is measured: the median of 400 is within
about 0.002 of that of the whole table on the indexes of benchmarks/refusal.py (AMD EPYC AVX2,
under 1.5 s for the 13,573 sentences of the 121 regulations)."""


def _nearest_other(vectors: np.ndarray, groups: np.ndarray, pick: np.ndarray) -> np.ndarray:
    """Each picked vector's highest cosine with a vector of another group (-1 when none)."""
    out = np.empty(len(pick), dtype=np.float64)
    for lo in range(0, len(pick), 100):
        at = pick[lo:lo + 100]
        sims = vectors[at] @ vectors.T
        sims[groups[at][:, None] == groups[None, :]] = -1.0
        out[lo:lo + 100] = sims.max(axis=1)
    return out


def levels(passage_vectors: np.ndarray, sentence_vectors: np.ndarray, sentence_rows: np.ndarray,
           *, sample: int = SAMPLE, seed: int = 0) -> dict[str, Any] | None:
    """The median cosine of a sentence to its nearest sentence in another passage, and of a
    passage to its nearest other passage, on a seeded sample; None for an index of fewer than
    two passages (nothing to compare)."""
    n = len(passage_vectors)
    if n < 2 or len(sentence_vectors) < 2 or len(np.unique(sentence_rows)) < 2:
        return None
    rng = np.random.default_rng(seed)
    s_pick = rng.choice(len(sentence_vectors), size=min(sample, len(sentence_vectors)), replace=False)
    p_pick = rng.choice(n, size=min(sample, n), replace=False)
    sentence = _nearest_other(np.asarray(sentence_vectors, dtype=np.float32), np.asarray(sentence_rows), s_pick)
    passage = _nearest_other(np.asarray(passage_vectors, dtype=np.float32), np.arange(n), p_pick)
    return {"version": VERSION, "sentence": round(float(np.median(sentence)), 5),
            "passage": round(float(np.median(passage)), 5), "sample": int(len(s_pick))}


def of_store(store) -> dict[str, Any] | None:
    """The levels saved with an index (its manifest), or None for an index built before them."""
    cal = getattr(store, "manifest", {}).get("calibration")
    return cal if isinstance(cal, dict) and cal.get("version") == VERSION else None
