"""What sentence vectors computed only when a question reaches their passage would cost at question time.

    python benchmarks/lazy_sentences.py /tmp/refusal/cmrc/index /tmp/refusal/cmrc/questions.jsonl --split tune

Issue 25 asks for a build that embeds passages only (about half of today's model work on text
whose sentences are distinct), with each passage's sentence vectors made on demand and cached.
This measures that idea on a built index before any code depends on it: the index's stored
sentence vectors are swapped for a lazy array that embeds a passage's sentences (and mixes in
its heading vector, as `context_vectors="headings"` does) the first time any question reads one
of them, with the same passage engine, rounded to float16 as the index stores them. The
questions are asked with the stored vectors (eager), then lazily from an empty cache, then
lazily again with the cache full. It prints ms per question for each, how many sentences the
lazy side had to embed after 1, 10 and all questions, and how many answers differ.

Every question needs the sentence vectors of the whole fused candidate pool (both legs' 50,
`RankingSettings.candidate_pool`): `sentence_weight` mixes a passage's closest sentence into its
dense score before ranking, and refusal reads the dense pool's closest sentences. So one
question reaches most of a small corpus's passages.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


class LazyVectors:
    """Sentence vectors indexed like the stored array, each passage's embedded on first read."""

    def __init__(self, table, passages, embedder, *, heading_weight: float | None):
        from docqa.index.store.sentences import topic
        from docqa.ingest.text import normalize

        self.table, self.passages, self.embedder = table, passages, embedder
        self.heading_weight = heading_weight
        self.plain = np.zeros((len(table), embedder.dim), dtype=np.float32)
        self.context = np.zeros_like(self.plain) if heading_weight is not None else None
        self.done = np.zeros(len(passages), dtype=bool)
        self.topics = [normalize(topic(p)) for p in passages]
        self.topic_vec: dict[str, np.ndarray] = {}
        self.embedded = 0
        self.seconds = 0.0
        self._normalize = normalize

    def ensure(self, at: np.ndarray) -> None:
        rows = np.unique(self.table.row[np.asarray(at, dtype=np.int64)])
        rows = rows[~self.done[rows]]
        if not len(rows):
            return
        t = time.perf_counter()
        spans = [self.table.of(int(r)) for r in rows]
        texts = [self._normalize(self.passages[int(r)].text[s:e]) for r, (lo, hi) in zip(rows, spans)
                 for s, e in zip(self.table.start[lo:hi].tolist(), self.table.end[lo:hi].tolist())]
        distinct = list(dict.fromkeys(texts))
        vecs = self.embedder.encode_passages(distinct) if distinct else np.zeros((0, self.embedder.dim))
        vecs = vecs.astype(np.float16).astype(np.float32)  # as the index stores them
        by = {t: v for t, v in zip(distinct, vecs)}
        heads = [t for t in dict.fromkeys(self.topics[int(r)] for r in rows) if t and t not in self.topic_vec]
        if heads and self.context is not None:
            self.topic_vec.update(zip(heads, self.embedder.encode_passages(heads)))
        i = 0
        for r, (lo, hi) in zip(rows, spans):
            own = np.array([by[t] for t in texts[i:i + hi - lo]], dtype=np.float32).reshape(-1, self.embedder.dim)
            i += hi - lo
            self.plain[lo:hi] = own
            if self.context is not None:
                head = self.topic_vec.get(self.topics[int(r)])
                mixed = own + self.heading_weight * head if head is not None else own
                mixed = mixed / np.maximum(np.linalg.norm(mixed, axis=1, keepdims=True), 1e-12)
                self.context[lo:hi] = mixed.astype(np.float16).astype(np.float32)
        self.done[rows] = True
        self.embedded += len(distinct)
        self.seconds += time.perf_counter() - t


class _View:
    def __init__(self, lazy: LazyVectors, which: str):
        self.lazy, self.which = lazy, which
        self.shape = lazy.plain.shape

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, at):
        self.lazy.ensure(at)
        return getattr(self.lazy, self.which)[at]


def answers(searcher, rows):
    out, spent = [], []
    for r in rows:
        t = time.perf_counter()
        a = searcher.ask(r["question"], k=5)
        spent.append(time.perf_counter() - t)
        out.append((a.refused, a.passage_id, a.text, round(getattr(a, "support", 0.0) or 0.0, 3)))
    return out, np.array(spent) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("questions", type=Path, help="jsonl with a 'question' field")
    parser.add_argument("--split", default=None, help="only rows whose 'split' is this (never a test split)")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--precision", default="auto")
    args = parser.parse_args()
    if args.split == "test":
        sys.exit("lazy_sentences.py: test splits are looked at once, at the end of tuning; use a tuning split")

    import docqa.index  # noqa: F401
    from docqa.index.cache import default_cache_dir
    from docqa.index.embedding.embedder import load_embedder
    from docqa.index.search.searcher import Searcher
    from docqa.index.store.directory import load_index

    rows = [json.loads(x) for x in args.questions.read_text(encoding="utf-8").splitlines() if x.strip()]
    rows = [r for r in rows if args.split is None or r.get("split") == args.split]
    if args.limit:
        rows = rows[:args.limit]
    store = load_index(args.index)
    embedder = load_embedder(store.model_name, Path(os.environ.get("DOCQA_CACHE_DIR") or default_cache_dir()),
                             embedding_cache=False, precision=args.precision)
    searcher = Searcher(store, embedder)
    searcher.ask("热身", k=5)  # load the question engine outside the timing
    embedder.encode_passages(["热身"])  # and the passage engine, which the lazy side needs
    print(f"{args.index}: {len(store.passages)} passages, {len(store.sentences)} sentences; {len(rows)} questions; "
          f"passage engine {type(embedder.passage_encoder).__name__} {embedder.passage_precision}; "
          f"load average {os.getloadavg()[0]:.2f}")

    eager, eager_ms = answers(searcher, rows)
    table = store.sentences
    stored = (table.vectors, table.context)
    ranking = searcher.ranking
    headings = table.context is not None and ranking.context_vectors == "headings"
    if table.context is not None and not headings:
        sys.exit(f"this index's context vectors are {ranking.context_vectors!r}; the lazy side makes 'headings' ones only")
    lazy = LazyVectors(table, store.passages, embedder, heading_weight=ranking.heading_weight if headings else None)
    table.vectors = _View(lazy, "plain")
    table.context = _View(lazy, "context") if headings else None
    marks = {}
    cold, cold_ms = [], []
    for i, r in enumerate(rows):
        got, ms = answers(searcher, [r])
        cold += got
        cold_ms.append(ms[0])
        if i + 1 in (1, 10):
            marks[i + 1] = (lazy.embedded, int(lazy.done.sum()))
    cold_ms = np.array(cold_ms)
    marks[len(rows)] = (lazy.embedded, int(lazy.done.sum()))
    warm, warm_ms = answers(searcher, rows)
    table.vectors, table.context = stored

    def stat(ms):
        return f"mean {ms.mean():.1f}, p50 {np.median(ms):.1f}, p90 {np.percentile(ms, 90):.1f}, max {ms.max():.1f}"

    cos = float(np.mean(np.sum(lazy.plain * stored[0], axis=1)))
    print(f"eager (stored vectors):     ms/question {stat(eager_ms)}")
    print(f"lazy, empty cache at start: ms/question {stat(cold_ms)}; first question {cold_ms[0]:.0f} ms, "
          f"first 10 {cold_ms[:10].mean():.0f} ms each; {lazy.seconds:.1f} s of it embedding")
    print(f"lazy, cache full:           ms/question {stat(warm_ms)}")
    for n, (sents, passages) in marks.items():
        print(f"after {n} questions: {sents} sentences embedded ({sents / max(len(table), 1):.0%} of the table), "
              f"{passages} of {len(store.passages)} passages")
    differ = sum(a != b for a, b in zip(eager, cold))
    print(f"answers differing from eager: {differ} of {len(rows)} (cold), "
          f"{sum(a != b for a, b in zip(eager, warm))} (warm); mean cosine lazy to stored sentence vector {cos:.5f}")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
