"""The hubness part of the index: per-passage hubness and the language shift.

Some passages (a title page, a table of contents) sit close to every question; a question in
another language than the book sees little else. A passage's mean similarity to generic
questions (`en`, `zh`) is subtracted from its score, as CSLS does for cross-lingual retrieval,
and an English question is moved by the mean difference between the same generic questions
asked in Chinese and in English (`shift`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

LANGUAGE_PAIRS = Path(__file__).parents[1] / "data" / "language_pairs.tsv"


class Hubness:
    FILE = "hubness.npz"
    FILES = (FILE,)

    def __init__(self, en: np.ndarray, zh: np.ndarray, shift: np.ndarray,
                 en_mean: np.ndarray | None = None, zh_mean: np.ndarray | None = None):
        """`en_mean`, `zh_mean`: the mean generic question vector in each language. A passage's
        hubness is its cosine with that mean, so passages added later get theirs without the model."""
        self.en = en
        self.zh = zh
        self.shift = shift
        self.en_mean = en_mean
        self.zh_mean = zh_mean

    @classmethod
    def build(cls, vectors: np.ndarray, embedder) -> "Hubness":
        text = LANGUAGE_PAIRS.read_text(encoding="utf-8")
        pairs = [line.split("\t") for line in text.splitlines() if "\t" in line]
        encode = getattr(embedder, "encode_build_queries", embedder.encode_queries)
        en = encode([a.strip() for a, _ in pairs])
        zh = encode([b.strip() for _, b in pairs])
        en_mean, zh_mean = en.mean(axis=0).astype(np.float32), zh.mean(axis=0).astype(np.float32)
        return cls((vectors @ en_mean).astype(np.float32), (vectors @ zh_mean).astype(np.float32),
                   (zh_mean - en_mean).astype(np.float32), en_mean, zh_mean)

    def extended(self, vectors: np.ndarray) -> "Hubness | None":
        """This hubness with rows for more passages appended, or None when the index predates the
        stored means (the caller then builds it with the model)."""
        if self.en_mean is None or self.zh_mean is None:
            return None
        return Hubness(np.concatenate([self.en, (vectors @ self.en_mean).astype(np.float32)]),
                       np.concatenate([self.zh, (vectors @ self.zh_mean).astype(np.float32)]),
                       self.shift, self.en_mean, self.zh_mean)

    def select(self, rows: np.ndarray) -> "Hubness":
        """The hubness of some passages only (their rows, in order)."""
        return Hubness(self.en[rows], self.zh[rows], self.shift, self.en_mean, self.zh_mean)

    def save(self, folder: Path) -> None:
        means = {} if self.en_mean is None or self.zh_mean is None else {"en_mean": self.en_mean, "zh_mean": self.zh_mean}
        np.savez(Path(folder) / self.FILE, en=self.en, zh=self.zh, shift=self.shift, **means)

    @classmethod
    def load(cls, folder: Path) -> "Hubness":
        with np.load(Path(folder) / cls.FILE) as z:
            means = (z["en_mean"], z["zh_mean"]) if "en_mean" in z.files and "zh_mean" in z.files else (None, None)
            return cls(z["en"], z["zh"], z["shift"], *means)

    def problems(self, passages: int, dimension: int) -> list[str]:
        out = []
        if len(self.en) != passages or len(self.zh) != passages:
            out.append(f"hubness of {len(self.zh)} passages for {passages}")
        if len(self.shift) != dimension:
            out.append(f"language shift of dimension {len(self.shift)}, model dimension {dimension}")
        return out

    def of(self, lang: str) -> np.ndarray:
        """Each passage's hubness for questions in `lang` ("zh" or "en")."""
        return self.zh if lang == "zh" else self.en

    def query_vector(self, qvec: np.ndarray, lang: str) -> np.ndarray:
        """An English question moved towards where the same question in Chinese would be."""
        if lang == "zh":
            return qvec
        qvec = qvec + self.shift
        return (qvec / np.linalg.norm(qvec)).astype(np.float32)
