"""A small deterministic embedder for unit tests that assert exact rankings and files."""
from __future__ import annotations

import hashlib

import numpy as np

from docqa.ingest.model import Corpus, Document, Passage


class FakeEmbedder:
    """Bags of character bigrams hashed into 64 dimensions: similar strings, similar vectors."""

    def __init__(self, model_name: str = "fake-bigram-64", dim: int = 64):
        self.model_name = model_name
        self.dim = dim
        self.prompts = {"query": "", "passage": ""}

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for a, b in zip(text, text[1:]):
            v[int(hashlib.md5((a + b).encode()).hexdigest(), 16) % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_queries(self, texts):
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_passages(self, texts, *, progress=False, batch_size=16):
        return self.encode_queries(list(texts))


def make_corpus(texts_by_chapter: dict[int, list[str]], doc_id: str = "doc") -> Corpus:
    """A corpus whose passages are given verbatim, laid end to end in one made-up source text."""
    source, passages = "", []
    for chapter, texts in texts_by_chapter.items():
        for t in texts:
            start = len(source)
            source += t + "\n\n"
            passages.append(Passage(
                passage_id=f"{doc_id}:{len(passages):04d}", doc_id=doc_id, title="测试书", chapter=chapter,
                chapter_title=f"第{chapter}章", section=None, section_number=None, subsection=None,
                heading_path=[f"第{chapter}章"], source=f"{doc_id}.txt", start=start, end=start + len(t), text=t))
    doc = Document(doc_id=doc_id, title="测试书", source=f"{doc_id}.txt", text=source, checksum="0" * 64)
    return Corpus(root=".", documents=[doc], passages=passages)
