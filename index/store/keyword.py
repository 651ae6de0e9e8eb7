"""The keyword part of the index: the corpus's tokenizer and a BM25 index (bm25s) over passages."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from docqa.index.store import lean_import
from docqa.index.ranking import KeywordLeg
from docqa.index.store.tokenize import FrozenDictionary, Tokenizer, corpus_terms


class KeywordIndex:
    """BM25 over the passages as the tokenizer cuts them; the corpus terms are saved with it so a
    question is cut the same way the passages were."""

    DIR = "bm25"
    TERMS = "terms.json"
    DICTIONARY = "dictionary.npz"
    FILES = (TERMS, DICTIONARY)

    def __init__(self, tokenizer: Tokenizer, bm25):
        self.tokenizer = tokenizer
        self.bm25 = bm25
        self._vocab = bm25.vocab_dict

    @classmethod
    def build(cls, texts: Sequence[str], *, term_sources: Sequence[str], headings: Sequence[str]) -> "KeywordIndex":
        """Index `texts` (row i = text i); the tokenizer keeps the terms of `term_sources` and
        `headings` whole."""
        bm25s = lean_import.bm25s()
        tokenizer = Tokenizer(corpus_terms(term_sources, headings))
        tokens = [tokenizer(t) or [""] for t in texts]
        bm25 = bm25s.BM25()
        bm25.index(tokens, show_progress=False)
        return cls(tokenizer, bm25)

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        self.bm25.save(str(folder / self.DIR), show_progress=False)
        (folder / self.TERMS).write_text(json.dumps(self.tokenizer.terms, ensure_ascii=False), encoding="utf-8")
        self.tokenizer.save_dictionary(folder / self.DICTIONARY)

    @classmethod
    def load(cls, folder: Path) -> "KeywordIndex":
        bm25s = lean_import.bm25s()
        folder = Path(folder)
        terms = json.loads((folder / cls.TERMS).read_text(encoding="utf-8"))
        frozen = folder / cls.DICTIONARY
        dictionary = FrozenDictionary.load(frozen) if frozen.is_file() else None
        return cls(Tokenizer(terms, dictionary=dictionary), bm25s.BM25.load(str(folder / cls.DIR)))

    @classmethod
    def listed(cls, files: Sequence[str]) -> str | None:
        """What the manifest's file list lacks of this part, if anything."""
        if cls.TERMS not in files:
            return f"{cls.TERMS} is not listed"
        if not any(name.startswith(cls.DIR + "/") for name in files):
            return f"no {cls.DIR}/ files are listed"
        return None

    def settings(self) -> dict:
        return self.tokenizer.settings()

    def problems(self, passages: int) -> list[str]:
        docs = int(self.bm25.scores["num_docs"])
        return [] if docs == passages else [f"{docs} keyword documents for {passages} passages"]

    def tokenize(self, text: str) -> list[str]:
        return self.tokenizer(text)

    def _ids(self, tokens: list[str]) -> list[int]:
        return [self._vocab[t] for t in tokens if t in self._vocab]

    def scores_of(self, tokens: list[str], rows: np.ndarray) -> np.ndarray:
        """BM25 scores of the given rows."""
        ids = self._ids(tokens)
        if not ids:
            return np.zeros(len(rows), np.float32)
        return self.bm25.get_scores_from_ids(ids)[np.asarray(rows, dtype=np.int64)]

    def document_frequency(self, token: str) -> int:
        """How many passages contain `token`: the length of its column in bm25s's score matrix,
        rather than scoring every passage to count one word."""
        ids = self._ids([token])
        if not ids:
            return 0
        if self.bm25.nonoccurrence_array is not None:  # variants that score absent words too
            return int(np.count_nonzero(self.bm25.get_scores_from_ids(ids) > 0))
        indptr, data = self.bm25.scores["indptr"], self.bm25.scores["data"]
        if ids[0] + 1 >= len(indptr):  # bm25s lists "" in its vocabulary without a column
            return 0
        return int(np.count_nonzero(data[indptr[ids[0]]:indptr[ids[0] + 1]] > 0))

    def search(self, tokens: list[str], n: int, mask: np.ndarray | None) -> KeywordLeg:
        """Top rows by BM25, the scores of every row (fusion reads those of dense candidates), and
        the share of the query's tokens that the corpus has."""
        ids = self._ids(tokens)
        coverage = len(set(ids)) / max(len(set(tokens)), 1)
        empty = KeywordLeg(np.zeros(0, np.int64), np.zeros(0, np.float32), None, 0.0)
        if not ids:
            return empty
        scores = self.bm25.get_scores_from_ids(ids)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        n = min(n, int(np.count_nonzero(scores > 0)))
        if n == 0:
            return empty
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return KeywordLeg(top, scores[top], scores, coverage)
