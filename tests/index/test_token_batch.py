"""Packing texts into rows: every text once, rows and batches within their limits, and, through
the real build graph, each packed text embedded exactly as if it were alone."""
from __future__ import annotations

import numpy as np
import pytest

from docqa.index.embedding.batches import group_rows, lay_out, pack_rows

LENGTHS = [300, 12, 40, 7, 255, 256, 90, 33, 33, 500, 1, 120, 64, 64, 64, 5]


@pytest.mark.parametrize("capacity", [0, 64, 128, 256])
def test_every_text_is_in_one_row_within_the_capacity(capacity):
    rows = pack_rows(LENGTHS, capacity)
    assert sorted(i for row in rows for i in row) == list(range(len(LENGTHS)))
    for row in rows:
        assert len(row) == 1 or sum(LENGTHS[i] for i in row) <= capacity
    if capacity == 0:
        assert all(len(row) == 1 for row in rows)
    else:
        assert len(rows) < len(LENGTHS)


def test_batches_keep_to_their_token_budget():
    rows = pack_rows(LENGTHS, 128)
    batches = group_rows(rows, LENGTHS, budget=512, multiple=32)
    assert sorted(i for b in batches for row in b for i in row) == list(range(len(LENGTHS)))
    for batch in batches:
        width = -(-max(sum(LENGTHS[i] for i in row) for row in batch) // 32) * 32
        assert len(batch) == 1 or len(batch) * width <= 512


def test_a_row_numbers_its_texts_and_their_positions():
    ids = [np.arange(10, 13), np.arange(20, 22), np.arange(30, 34)]
    rows = lay_out([[2, 0], [1]], ids, pad_id=1, multiple=8)
    assert rows.ids.shape == (2, 8)
    assert rows.ids[0].tolist() == [30, 31, 32, 33, 10, 11, 12, 1]
    assert rows.segments[0].tolist() == [1, 1, 1, 1, 2, 2, 2, 0]
    assert rows.positions[0].tolist() == [0, 1, 2, 3, 0, 1, 2, 0]
    assert rows.segments[1].tolist() == [1, 1, 0, 0, 0, 0, 0, 0]
    assert (rows.texts, rows.row.tolist(), rows.start.tolist(), rows.length.tolist()) == (
        [2, 0, 1], [0, 0, 1], [0, 4, 0], [4, 3, 2])
    assert lay_out([[2, 0], [1]], ids, pad_id=1, first=4096).texts == [4098, 4096, 4097]  # a later wave


def test_packed_texts_embed_as_if_alone(cache_dir):
    """Through the real build graph in float32: texts (and the spans pooled inside them) packed
    several to a row get the vectors they get in rows of their own. Attention leaking across
    texts, or positions counted from the row's start, would move them far below this."""
    from docqa.index.embedding.model.rebuild import ensure_model_dir
    from docqa.index.embedding.engines.openvino_build import OpenVinoPassageEncoder

    texts = ["passage: 丝绸之路经济带连接亚洲和欧洲。", "passage: 产能合作。", "passage: 一带一路倡议由中国提出，"
             "旨在加强沿线国家的基础设施建设与贸易往来。", "passage: 第三章 投资环境",
             "passage: The railway opened in 2016.", "passage: 外汇储备规模较大。"] * 3
    spans = [[(9, 13)] if len(t) > 20 else [] for t in texts]
    encoder = OpenVinoPassageEncoder(ensure_model_dir(cache_dir), precision="fp32")
    packed, packed_spans = encoder.encode(texts, spans)
    encoder.pack_tokens = 0
    alone, alone_spans = encoder.encode(texts, spans)
    assert np.sum(packed * alone, axis=1).min() >= 0.99999
    for a, b in zip(packed_spans, alone_spans):
        assert a.shape == b.shape and (not len(a) or np.sum(a * b, axis=1).min() >= 0.99999)
    assert np.sum(packed[0] * packed[1]) < 0.99  # distinct texts kept distinct
