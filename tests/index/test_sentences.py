"""The sentence table's look-ups: each passage's run of sentences and its closest sentence."""
from __future__ import annotations

import numpy as np
import pytest

from docqa.index.store.sentences import SentenceTable


def _table(counts: list[int], dim: int = 8, seed: int = 0) -> SentenceTable:
    row = np.repeat(np.arange(len(counts)), counts).astype(np.int32)
    vectors = np.random.default_rng(seed).standard_normal((len(row), dim)).astype(np.float32)
    zeros = np.zeros(len(row), np.int32)
    return SentenceTable(row, zeros, zeros, vectors)


def test_each_passage_gets_its_own_sentences_and_none_gets_another_s():
    # passages 1 and 4 have no sentence; 6 and 7 are past the last passage that has one
    table = _table([2, 0, 3, 1, 0, 2])
    expected = {0: (0, 2), 1: (2, 2), 2: (2, 5), 3: (5, 6), 4: (6, 6), 5: (6, 8), 6: (8, 8), 7: (8, 8)}
    assert {r: table.of(r) for r in expected} == expected
    q = np.random.default_rng(1).standard_normal(8).astype(np.float32)
    rows = np.array([5, 1, 2, 7, 0, 2, 4, 3])
    sims = table.vectors @ q
    want = [sims[a:b].max() if b > a else -1.0 for a, b in (expected[int(r)] for r in rows)]
    assert table.best(q, rows).tolist() == pytest.approx(want, rel=1e-6)
    assert table.best(q, np.array([1, 4, 6])).tolist() == [-1.0, -1.0, -1.0]
    assert table.best(q, np.array([], dtype=np.int64)).shape == (0,)


def test_an_empty_table_has_no_sentence_for_any_passage():
    table = _table([])
    assert table.of(0) == (0, 0) and table.of(3) == (0, 0)
    assert table.best(np.ones(8, np.float32), np.array([0, 2])).tolist() == [-1.0, -1.0]
