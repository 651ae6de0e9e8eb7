"""Token batches for the model runtimes (torch and ONNX Runtime take the same arrays)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def padded(encodings: Sequence, pad_id: int, multiple: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Ids padded to the longest encoding (rounded up to a `multiple`), and the attention mask
    that marks the real tokens."""
    width = -(-max(len(e.ids) for e in encodings) // multiple) * multiple
    ids = np.full((len(encodings), width), pad_id, np.int64)
    mask = np.zeros((len(encodings), width), np.int64)
    for i, e in enumerate(encodings):
        ids[i, :len(e.ids)] = e.ids
        mask[i, :len(e.ids)] = 1
    return ids, mask
