"""The sentence part of the index: every passage's sentences, their spans and vectors.

Sentence vectors are computed at build time, so scoring a passage by its closest sentence and
choosing the answer sentence each cost a dot product, not another pass of the model. Sentences
are in passage order, so a passage's sentences are one contiguous run of the table.

Each sentence may also have a second vector, `context`: the sentence with its document title and
headings. A sentence that answers a question about its topic often does not name it ("本鱼",
"其叶", "牠们"); alone, it is far from a question that does, and the sentence that merely names
the topic wins. The answer choice mixes the two (see `RankingSettings.context_weight`); ranking
and refusal use the plain vectors only. By default the context vector is the sentence's own
plus its heading path's, so no sentence is embedded twice (`under_headings`); it can also be
the sentence embedded again as "蓝线裸顶鲷：本鱼体呈银灰色。" (`context_texts`), see
`RankingSettings.context_vectors`.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from docqa.ingest.model import Passage
from docqa.ingest.text import normalize, sentence_spans

if TYPE_CHECKING:
    from docqa.index.embedding.embedder import Progress


def topic(passage: Passage) -> str:
    """The document title and the headings above the passage, each once."""
    return " ".join(dict.fromkeys(t for t in (passage.title, *passage.heading_path) if t))


class SentenceTable:
    FILE = "sentences.npz"
    FILES = (FILE,)

    def __init__(self, row: np.ndarray, start: np.ndarray, end: np.ndarray, vectors: np.ndarray,
                 context: np.ndarray | None = None):
        self.row = row
        self.start = start
        self.end = end
        self.vectors = vectors
        self.context = context  # None: built without (context_weight 0, or an older index)
        self._bounds: np.ndarray | None = None

    @staticmethod
    def spans(passages: Sequence[Passage]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """Each passage's sentences: passage row, start, end (offsets into the passage text), text."""
        rows, starts, ends, texts = [], [], [], []
        for row, p in enumerate(passages):
            for s, e in sentence_spans(p.text, line_breaks=True):
                rows.append(row)
                starts.append(s)
                ends.append(e)
                texts.append(p.text[s:e])
        return (np.asarray(rows, dtype=np.int32), np.asarray(starts, dtype=np.int32),
                np.asarray(ends, dtype=np.int32), texts)

    @staticmethod
    def context_texts(passages: Sequence[Passage], row: np.ndarray, texts: Sequence[str]) -> list[str]:
        """Each sentence under its passage's title and headings, as its context vector reads it."""
        return [normalize(f"{topic(passages[r])}：{t}") for r, t in zip(row, texts)]

    @classmethod
    def build(cls, passages: Sequence[Passage], embedder, *, progress: Progress = False,
              context: bool = False) -> "SentenceTable":
        """Embed each distinct sentence once (repeated lines such as running heads are common);
        with `context`, each also under its title and headings."""
        row, start, end, texts = cls.spans(passages)
        wanted = [normalize(t) for t in texts]
        if context:
            wanted += cls.context_texts(passages, row, texts)
        unique = {t: i for i, t in enumerate(dict.fromkeys(wanted))}
        uvecs = embedder.encode_passages(list(unique), progress=progress)
        vectors = (uvecs[[unique[t] for t in wanted]] if wanted else np.zeros((0, embedder.dim))).astype(np.float32)
        n = len(texts)
        return cls(row, start, end, vectors[:n], vectors[n:] if context else None)

    @staticmethod
    def under_headings(passages: Sequence[Passage], row: np.ndarray, vectors: np.ndarray, embedder,
                       weight: float, *, progress: Progress = False) -> np.ndarray:
        """Context vectors without a second pass per sentence: each sentence's own vector plus
        `weight` times the vector of its passage's title and headings, renormalised. The heading
        text is embedded once per distinct heading path (a book has a few hundred, against tens
        of thousands of sentences); a sentence with no title or heading keeps its own vector."""
        topics = [normalize(topic(p)) for p in passages]
        distinct = {t: i for i, t in enumerate(dict.fromkeys(t for t in topics if t))}
        heading = np.zeros((len(passages), vectors.shape[1]), dtype=np.float32)
        if distinct:
            tvecs = embedder.encode_passages(list(distinct), progress=progress)
            for i, t in enumerate(topics):
                if t:
                    heading[i] = tvecs[distinct[t]]
        mixed = vectors + weight * heading[row]
        return (mixed / np.maximum(np.linalg.norm(mixed, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    @staticmethod
    def distinct(passages: Sequence[Passage]) -> int:
        return len(set(SentenceTable.spans(passages)[3]))

    def save(self, folder: Path) -> None:
        # float16 halves the file; the cosines move by ~1e-3, below any ranking difference measured.
        extra = {} if self.context is None else {"context": self.context.astype(np.float16)}
        np.savez(Path(folder) / self.FILE, row=self.row, start=self.start, end=self.end,
                 vectors=self.vectors.astype(np.float16), **extra)

    @classmethod
    def load(cls, folder: Path) -> "SentenceTable":
        with np.load(Path(folder) / cls.FILE) as z:
            context = z["context"].astype(np.float32) if "context" in z.files else None
            return cls(z["row"], z["start"], z["end"], z["vectors"].astype(np.float32), context)

    def __len__(self) -> int:
        return int(len(self.row))

    def problems(self, passages: int, sentences: int | None) -> list[str]:
        out = []
        if sentences is not None and len(self) != sentences:
            out.append(f"{len(self)} sentences, manifest says {sentences}")
        if len(self) and (int(self.row.max()) >= passages or np.any(np.diff(self.row) < 0)):
            out.append("sentence rows out of order or beyond the passages")
        if len(self.vectors) != len(self):
            out.append(f"{len(self.vectors)} sentence vectors for {len(self)} sentences")
        if self.context is not None and self.context.shape != self.vectors.shape:
            out.append(f"{len(self.context)} sentence context vectors for {len(self)} sentences")
        return out

    def bounds(self) -> np.ndarray:
        """Where each passage's sentences start: passage `r`'s are [bounds[r], bounds[r + 1]), for
        every `r` up to the last passage with a sentence (later ones have none). Made once, so a
        question's look-ups are array indexing rather than a search of the table each."""
        if self._bounds is None:
            last = int(self.row[-1]) + 1 if len(self.row) else 0
            self._bounds = np.searchsorted(self.row, np.arange(last + 1)).astype(np.int64)
        return self._bounds

    def _spans(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        bounds = self.bounds()
        top = len(bounds) - 1
        return bounds[np.minimum(rows, top)], bounds[np.minimum(rows + 1, top)]

    def of(self, row: int) -> tuple[int, int]:
        """The table positions [lo, hi) of passage `row`'s sentences."""
        bounds = self.bounds()
        top = len(bounds) - 1
        return int(bounds[min(row, top)]), int(bounds[min(row + 1, top)])

    def best(self, qvec: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Each passage's closest sentence to the question (-1 for a passage with none)."""
        rows = np.asarray(rows, dtype=np.int64)
        lo, hi = self._spans(rows)
        counts = hi - lo
        out = np.full(len(rows), -1.0)
        has = counts > 0
        if not has.any():
            return out
        total = int(counts.sum())
        ends = np.cumsum(counts)
        at = np.arange(total) + np.repeat(lo - (ends - counts), counts)  # every row's sentences, in order
        sims = self.vectors[at] @ qvec
        out[has] = np.maximum.reduceat(sims, (ends - counts)[has])
        return out
