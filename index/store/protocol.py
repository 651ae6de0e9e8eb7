"""What search and answers need from an index, whatever holds it.

The first implementation is a directory of files (FAISS + bm25s, `docqa.index.store.directory`); the
second is Milvus (`docqa.index.store.milvus`), local through Milvus Lite or a remote cluster.
Nothing here asks for a score of every passage: a remote store answers for the rows asked. Rows are integers 0..n-1 in passage
order, the same in every part.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from docqa.index.ranking import DenseLeg, KeywordLeg, RankingSettings
from docqa.index.store.sentences import SentenceTable
from docqa.ingest.model import Document, Passage


@dataclass(frozen=True)
class Where:
    """A filter on passages: only this chapter number and/or this document."""

    chapter: int | None = None
    doc_id: str | None = None

    @property
    def everything(self) -> bool:
        return self.chapter is None and self.doc_id is None


@runtime_checkable
class IndexStore(Protocol):
    manifest: dict[str, Any]
    """The facts the index was built with: model name and dimension, counts, settings."""
    ranking: RankingSettings
    passages: Sequence[Passage]
    documents: Sequence[Document]
    sentences: SentenceTable

    @property
    def model_name(self) -> str: ...

    def tokenize(self, text: str) -> list[str]:
        """The keyword leg's tokens of a question, cut the way the passages were."""
        ...

    def query_vector(self, qvec: np.ndarray, lang: str) -> np.ndarray:
        """The question vector as the dense leg compares it (an English question is shifted)."""
        ...

    def hubness(self, lang: str) -> np.ndarray:
        """Each passage's hubness for questions in `lang`, subtracted (weighted) from its cosine."""
        ...

    def dense_search(self, qvec: np.ndarray, n: int, where: Where, penalty: np.ndarray) -> DenseLeg:
        """The `n` best passages by cosine minus `penalty`, within `where`."""
        ...

    def dense_scores(self, qvec: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Cosines of the given rows."""
        ...

    def keyword_search(self, tokens: list[str], n: int, where: Where) -> KeywordLeg:
        """The `n` best passages by BM25 within `where`; every passage's score too when it costs
        nothing (the directory store), else None (`keyword_scores` gives the rows fusion needs)."""
        ...

    def keyword_scores(self, tokens: list[str], rows: np.ndarray) -> np.ndarray:
        """BM25 scores of the given rows."""
        ...

    def document_frequency(self, token: str) -> int:
        """How many passages contain `token` (the keyword leg's token)."""
        ...

    def vocabulary(self) -> Sequence[str]:
        """Every token the keyword leg knows (for pinyin names in English questions)."""
        ...

    def check(self) -> None:
        """Raise a DocqaError when the store cannot answer now (a remote store gone away)."""
        ...
