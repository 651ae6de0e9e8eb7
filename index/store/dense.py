"""The dense part of the index: one vector per passage in FAISS, row i = passage i."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from docqa.errors import InputError

FAISS_KINDS = ("flat", "hnsw")


class DenseVectors:
    """Passage vectors in a FAISS inner-product index (exact, or HNSW for large corpora)."""

    FILE = "vectors.faiss"
    FILES = (FILE,)

    def __init__(self, index):
        self.index = index

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str = "flat") -> "DenseVectors":
        import faiss

        dim = vectors.shape[1]
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
            index.hnsw.efSearch = 128
        else:
            raise InputError(f"unknown FAISS index kind {kind!r}", hint=f"use one of {', '.join(FAISS_KINDS)}")
        index.add(vectors)
        return cls(index)

    def save(self, folder: Path) -> None:
        import faiss

        # Through Python, whose write raises on a full disk; faiss's own writer can only warn
        # ("close error") and leave a short file behind.
        (Path(folder) / self.FILE).write_bytes(faiss.serialize_index(self.index).tobytes())

    @classmethod
    def load(cls, folder: Path) -> "DenseVectors":
        import faiss

        return cls(faiss.read_index(str(Path(folder) / cls.FILE)))

    def problems(self, passages: int, dimension: int) -> list[str]:
        """How this part disagrees with the manifest's counts, if it does."""
        out = []
        if self.index.ntotal != passages:
            out.append(f"{self.index.ntotal} vectors for {passages} passages")
        if self.index.d != dimension:
            out.append(f"vector dimension {self.index.d}, model dimension {dimension}")
        return out

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def search(self, qvec: np.ndarray, n: int, mask: np.ndarray | None,
               penalty: np.ndarray, overfetch: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """The `n` best rows by cosine minus `penalty` (the hubness correction), from a pool
        `overfetch` times wider, within `mask` when one is given."""
        import faiss

        want, n = n, min(self.index.ntotal, overfetch * n)
        params = None
        if mask is not None:
            ids = np.flatnonzero(mask).astype(np.int64)
            n = min(n, len(ids))
            if n == 0:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(ids))
            if isinstance(self.index, faiss.IndexHNSW):
                params = faiss.SearchParametersHNSW(sel=faiss.IDSelectorBatch(ids), efSearch=max(128, n))
        scores, rows = self.index.search(qvec[None, :], n, params=params)
        keep = rows[0] >= 0
        rows, scores = rows[0][keep], scores[0][keep] - penalty[rows[0][keep]]
        order = np.argsort(-scores, kind="stable")[:want]
        return rows[order], scores[order]

    def scores(self, qvec: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Cosines of given rows (passages only the keyword leg proposed)."""
        if len(rows) == 0:
            return np.zeros(0, np.float32)
        vecs = np.stack([self.index.reconstruct(int(r)) for r in rows])
        return vecs @ qvec
