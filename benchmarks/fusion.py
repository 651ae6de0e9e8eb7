"""How the hybrid ranking was chosen: every fusion method and dense weight on labelled questions,
plus each leg alone, on one loaded index.

    python benchmarks/fusion.py --index DIR QUESTIONS.jsonl [QUESTIONS.jsonl ...]

Each variant is a `RankingSettings` passed to a `Searcher` over the same loaded index and model;
the first row is the setting saved with the index.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from docqa.index.evaluate import evaluate, read_questions
from docqa.index.search.searcher import Searcher

VARIANTS = [("rrf", 1.0), ("rrf", 1.5), ("zscore", 0.5), ("zscore", 1.0), ("zscore", 1.5), ("zscore", 2.0),
            ("dense", 1.0), ("keyword", 1.0)]


class _RememberedQueries:
    """The index's embedder, remembering question vectors: every variant asks the same questions."""

    def __init__(self, embedder):
        self._embedder = embedder
        self._seen: dict[tuple[str, ...], object] = {}
        self.model_name, self.dim = embedder.model_name, embedder.dim

    def encode_queries(self, texts):
        key = tuple(texts)
        if key not in self._seen:
            self._seen[key] = self._embedder.encode_queries(texts)
        return self._seen[key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("questions", type=Path, nargs="+")
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions of each file")
    args = parser.parse_args()
    opened = Searcher.open(args.index)
    embedder = _RememberedQueries(opened.embedder)
    sets = {q.name: read_questions(q, need_gold=True) for q in args.questions}
    if args.limit:
        sets = {k: v[: args.limit] for k, v in sets.items()}
    saved = opened.ranking
    print(f"index settings: fusion {saved.fusion}, dense weight {saved.dense_weight}, pool {saved.candidate_pool}")
    print(f"{'variant':<16}" + "".join(f"{name[:22]:>48}" for name in sets))
    for fusion, weight in VARIANTS:
        searcher = Searcher(opened.store, embedder, ranking=replace(saved, fusion=fusion, dense_weight=weight))
        cells = []
        for questions in sets.values():
            r = evaluate(searcher, questions).to_dict()
            cells.append(f"h@1 {r['hit@1']:.3f} h@5 {r['hit@5']:.3f} mrr {r['mrr@10']:.3f} ans {r['answer']:.3f}")
        print(f"{fusion + ' ' + str(weight):<16}" + "".join(f"{c:>48}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
