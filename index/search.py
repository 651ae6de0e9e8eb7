"""Hybrid retrieval: dense vectors (FAISS) and keywords (BM25) fused into one ranking.

Each leg proposes its own candidates, then reciprocal-rank fusion decides: RRF needs no score
calibration between a cosine and a BM25 score, and a passage that either leg ranks high
survives. A passage that mostly repeats one already returned is dropped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from docqa.index import refusal
from docqa.index.answer import Answer, best_answer
from docqa.index.navigation import is_navigation
from docqa.index.question import classify, corpus_script, fold_script
from docqa.index.store import LoadedIndex, load_index
from docqa.ingest.model import Passage

RRF_K = 60
HUB_WEIGHT = {"zh": 0.5, "en": 1.0}
SENTENCE_WEIGHT = 0.5
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
FUSIONS = ("rrf", "zscore")


@dataclass
class Hit:
    passage: Passage
    score: float


def _zscore(x: np.ndarray) -> np.ndarray:
    std = float(x.std())
    return (x - x.mean()) / std if std > 1e-9 else np.zeros_like(x, dtype=np.float64)


def _mostly_overlaps(a: Passage, b: Passage) -> bool:
    """Neighbours share a sentence of overlap and are both worth returning; a passage that is
    mostly the same text as one already returned is not."""
    if a.doc_id != b.doc_id or a.source != b.source:
        return False
    shared = min(a.end, b.end) - max(a.start, b.start)
    return shared > 0.5 * min(a.end - a.start, b.end - b.start)


class Searcher:
    """A loaded index plus its embedding model, answering questions."""

    def __init__(self, index: LoadedIndex, embedder, *, fusion: str = "zscore", dense_weight: float = 1.0,
                 refusal_threshold: float = refusal.DEFAULT_THRESHOLD, refusal_coefficients: dict | None = None):
        """`refusal_threshold`: `ask` says the book does not answer a question whose support
        (0..1, see docqa.index.refusal) is below it; 0 never refuses, higher refuses more."""
        from docqa.index.tokenize import Tokenizer

        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}: use one of {', '.join(FUSIONS)}")
        self.index = index
        self.embedder = embedder
        self.fusion = fusion
        self.dense_weight = dense_weight
        if not 0.0 <= refusal_threshold <= 1.0:
            raise ValueError(f"refusal_threshold must be between 0 and 1, got {refusal_threshold}")
        self.refusal_threshold = refusal_threshold
        self.refusal_coefficients = refusal_coefficients or refusal.COEFFICIENTS
        self.tokenize = Tokenizer(index.terms)
        self.passages = index.passages
        self.documents = index.documents
        self.model_name = index.manifest["model"]["name"]
        self._row = {p.passage_id: i for i, p in enumerate(self.passages)}
        self._doc_ids = np.array([p.doc_id for p in self.passages], dtype=object)
        self._chapters = np.array([-1 if p.chapter is None else p.chapter for p in self.passages])
        self._vocab = index.bm25.vocab_dict
        self._navigation = np.array([is_navigation(p) for p in self.passages], dtype=bool)
        self.script = corpus_script([p.text for p in self.passages])
        self._names = None

    @classmethod
    def open(cls, index_dir: Path, model: str | None = None, *, embedder=None, cache_dir: Path | None = None,
             **kwargs) -> "Searcher":
        from docqa.index.embed import load_embedder
        from docqa.index.cache import default_cache_dir

        index = load_index(index_dir, model_name=model)
        name = index.manifest["model"]["name"]
        if embedder is None or embedder.model_name != name:
            embedder = load_embedder(name, cache_dir or default_cache_dir())
        return cls(index, embedder, **kwargs)

    def query_text(self, question: str, info=None) -> str:
        """What is searched for a question: in the corpus's script, with the corpus words an
        English question spells in pinyin."""
        info = info or classify(question)
        question = fold_script(question.strip(), self.script)
        if info.language == "en":
            question = " ".join([question, *self._pinyin_names().spelled(question)])
        return question

    def _pinyin_names(self):
        if self._names is None:
            from docqa.index.names import PinyinNames

            self._names = PinyinNames(self._vocab)
        return self._names

    def passage(self, passage_id: str) -> Passage:
        return self.passages[self._row[passage_id]]

    def neighbours(self, passage_id: str) -> tuple[str | None, str | None]:
        row = self._row[passage_id]
        doc = self.passages[row].doc_id
        prev = self.passages[row - 1].passage_id if row > 0 and self.passages[row - 1].doc_id == doc else None
        nxt = (self.passages[row + 1].passage_id
               if row + 1 < len(self.passages) and self.passages[row + 1].doc_id == doc else None)
        return prev, nxt

    def _mask(self, chapter: int | None, doc_id: str | None) -> np.ndarray | None:
        if chapter is None and doc_id is None:
            return None
        mask = np.ones(len(self.passages), dtype=bool)
        if chapter is not None:
            mask &= self._chapters == chapter
        if doc_id is not None:
            mask &= self._doc_ids == doc_id
        return mask

    def _dense(self, qvec: np.ndarray, n: int, mask: np.ndarray | None, hub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """FAISS candidates (a wider pool), rescored as cosine minus the passage's hubness."""
        import faiss

        want, n = n, min(self.index.vectors.ntotal, 2 * n)
        params = None
        if mask is not None:
            ids = np.flatnonzero(mask).astype(np.int64)
            n = min(n, len(ids))
            if n == 0:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(ids))
            if isinstance(self.index.vectors, faiss.IndexHNSW):
                params = faiss.SearchParametersHNSW(sel=faiss.IDSelectorBatch(ids), efSearch=max(128, n))
        scores, rows = self.index.vectors.search(qvec[None, :], n, params=params)
        keep = rows[0] >= 0
        rows, scores = rows[0][keep], scores[0][keep] - hub[rows[0][keep]]
        order = np.argsort(-scores, kind="stable")[:want]
        return rows[order], scores[order]

    def _keyword(self, tokens: list[str], n: int, mask: np.ndarray | None):
        """Top rows by BM25, the scores of every row (fusion reads those of dense candidates), and
        the share of the query's tokens that the corpus has."""
        ids = [self._vocab[t] for t in tokens if t in self._vocab]
        coverage = len(set(ids)) / max(len(set(tokens)), 1)
        if not ids:
            return np.zeros(0, np.int64), np.zeros(0, np.float32), None, 0.0
        scores = self.index.bm25.get_scores_from_ids(ids)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        n = min(n, int(np.count_nonzero(scores > 0)))
        if n == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32), None, 0.0
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return top, scores[top], scores, coverage

    def _fuse(self, qvec: np.ndarray, dense, keyword, hub: np.ndarray) -> list[tuple[int, float]]:
        d_rows, d_scores = dense
        k_rows, _k_scores, all_keyword, coverage = keyword
        if self.fusion == "rrf":
            fused: dict[int, float] = {}
            for weight, rows in ((self.dense_weight, d_rows), (1.0, k_rows)):
                for rank, row in enumerate(rows):
                    fused[int(row)] = fused.get(int(row), 0.0) + weight / (RRF_K + rank + 1)
            return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
        # Normalised-score fusion: both legs scored on the union of candidates, each turned into
        # z-scores there, so a clear BM25 winner is not flattened to a rank.
        rows = np.array(sorted(set(map(int, d_rows)) | set(map(int, k_rows))), dtype=np.int64)
        if len(rows) == 0:
            return []
        known = dict(zip(map(int, d_rows), map(float, d_scores)))
        missing = [r for r in rows if r not in known]
        if missing:
            vecs = np.stack([self.index.vectors.reconstruct(int(r)) for r in missing])
            known.update(zip(missing, map(float, vecs @ qvec - hub[missing])))
        dense = np.array([known[int(r)] for r in rows])
        if SENTENCE_WEIGHT:
            dense = (1 - SENTENCE_WEIGHT) * dense + SENTENCE_WEIGHT * (self._best_sentence(qvec, rows) - hub[rows])
        dense_z = _zscore(dense)
        keyword_z = _zscore(all_keyword[rows]) if all_keyword is not None else np.zeros(len(rows))
        # The keyword leg speaks for the share of the question the corpus has words for: an
        # English question about a Chinese book only meets stray English words.
        fused_scores = self.dense_weight * dense_z + keyword_z * coverage
        order = np.lexsort((rows, -fused_scores))
        return [(int(rows[i]), float(fused_scores[i])) for i in order]

    def _best_sentence(self, qvec: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Each passage's closest sentence to the question: one sentence often answers alone."""
        idx = self.index
        lo = np.searchsorted(idx.sent_row, rows)
        hi = np.searchsorted(idx.sent_row, rows + 1)
        sims = idx.sent_vectors[np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)])] @ qvec
        out, pos = np.full(len(rows), -1.0), 0
        for i, (a, b) in enumerate(zip(lo, hi)):
            if b > a:
                out[i] = sims[pos:pos + b - a].max()
            pos += b - a
        return out

    def _retrieve(self, question: str, k: int, chapter: int | None, doc_id: str | None):
        question = question.strip()
        if not question:
            raise ValueError("the question is empty: ask something, e.g. “本书一共分为几章？”")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        info = classify(question)
        question = self.query_text(question, info)
        qvec = self.embedder.encode_queries([question])[0]
        lang = info.language
        if lang == "en":
            qvec = qvec + self.index.hub["shift"]
            qvec = (qvec / np.linalg.norm(qvec)).astype(np.float32)
        hub = HUB_WEIGHT[lang] * self.index.hub[lang]
        mask = self._mask(chapter, doc_id)
        n = max(50, 4 * k)
        ranked = self._fuse(qvec, self._dense(qvec, n, mask, hub), self._keyword(self.tokenize(question), n, mask), hub)
        if not info.navigation:
            # Contents and copyright pages are evidence only for questions about the book itself.
            ranked = [rs for rs in ranked if not self._navigation[rs[0]]] or ranked
        hits: list[Hit] = []
        for row, score in ranked:
            p = self.passages[row]
            if any(_mostly_overlaps(h.passage, p) for h in hits):
                continue
            hits.append(Hit(p, round(score, 6)))
            if len(hits) == k:
                break
        return qvec, hits, info, question

    def search(self, question: str, k: int = 5, chapter: int | None = None, doc_id: str | None = None) -> list[Hit]:
        return self._retrieve(question, k, chapter, doc_id)[1]

    def ask(self, question: str, k: int = 5, chapter: int | None = None, doc_id: str | None = None) -> Answer:
        qvec, hits, info, folded = self._retrieve(question, k, chapter, doc_id)
        rows = [self._row[h.passage.passage_id] for h in hits]
        tokens = self.tokenize(folded)
        answer = best_answer(qvec, tokens, hits, rows, self.index, info)
        return refusal.review(self, question, info, qvec, tokens, answer)
