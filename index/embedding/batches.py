"""Token batches for the build engines: texts laid out in rows, rows grouped into batches.

A build embeds passages of a few hundred tokens and sentences of a few dozen. Padding each
sentence to the longest in its batch wasted two fifths of the sentence pass here (115,873 real
tokens took 195,424 padded ones on a 400k-character corpus). An engine whose graph takes a
segment number and a position per token (`Rows.segments`, `Rows.positions`) instead gets
several short texts packed into one row: each token attends only to its own text's tokens and
counts its position from its text's start, so every text's token states are those of the text
alone (cosine 0.99999 here in bf16), with no padding between them.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_LOOKBACK = 64
"""Open rows a text may be packed into (the newest ones): first fit over all rows costs
quadratic time on a large corpus for a few tokens saved."""


def pack_rows(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Text indices laid out in rows of at most `capacity` tokens, longest text first (first fit
    decreasing over the newest rows). A text of `capacity` tokens or more, or every text when
    `capacity` is 0, has a row of its own."""
    order = np.argsort(-np.asarray(lengths, np.int64), kind="stable")
    rows: list[list[int]] = []
    room: list[int] = []
    for i in order.tolist():
        n = int(lengths[i])
        for r in range(len(rows) - 1, max(-1, len(rows) - 1 - _LOOKBACK), -1):
            if room[r] >= n:
                rows[r].append(i)
                room[r] -= n
                break
        else:
            rows.append([i])
            room.append(max(capacity - n, 0))
    return rows


def group_rows(rows: list[list[int]], lengths: Sequence[int], *, budget: int, multiple: int,
               max_rows: int = 256) -> list[list[list[int]]]:
    """Rows in batches of about `budget` padded tokens, widest first: a batch of short rows holds
    more of them, so each forward pass does a similar amount of work."""
    widths = [sum(int(lengths[i]) for i in row) for row in rows]
    order = np.argsort(-np.asarray(widths, np.int64), kind="stable").tolist()
    out, k = [], 0
    while k < len(order):
        width = _round_up(widths[order[k]], multiple)
        n = max(1, min(max_rows, budget // max(width, 1)))
        out.append([rows[j] for j in order[k:k + n]])
        k += n
    return out


@dataclass
class Rows:
    """One batch's arrays, and where each of its texts lies in them."""

    texts: list[int]
    """The batch's texts (indices into the caller's list), in row order."""
    row: np.ndarray
    start: np.ndarray
    length: np.ndarray
    ids: np.ndarray
    """[rows, width] token ids, `pad_id` after the last text of a row."""
    segments: np.ndarray
    """[rows, width]: 1, 2, … for the first, second, … text of the row, 0 for padding (with one
    text per row: the attention mask)."""
    positions: np.ndarray
    """[rows, width]: each token's position in its own text."""


def lay_out(batch: list[list[int]], token_ids: Sequence[np.ndarray], pad_id: int, multiple: int = 1,
            *, first: int = 0) -> Rows:
    """The arrays for a batch of rows from `group_rows`; `Rows.texts` numbers the texts from
    `first` (where `token_ids` starts in the caller's list)."""
    width = _round_up(max(sum(len(token_ids[i]) for i in row) for row in batch), multiple)
    ids = np.full((len(batch), width), pad_id, np.int64)
    segments = np.zeros((len(batch), width), np.int64)
    positions = np.zeros((len(batch), width), np.int64)
    texts, where, starts, lengths = [], [], [], []
    for r, row in enumerate(batch):
        at = 0
        for k, i in enumerate(row):
            n = len(token_ids[i])
            ids[r, at:at + n] = token_ids[i]
            segments[r, at:at + n] = k + 1
            positions[r, at:at + n] = np.arange(n)
            texts.append(first + i)
            where.append(r)
            starts.append(at)
            lengths.append(n)
            at += n
    return Rows(texts, np.array(where), np.array(starts), np.array(lengths), ids, segments, positions)


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple
