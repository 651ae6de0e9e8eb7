"""How the hybrid ranking was chosen: every fusion method and dense weight on labelled questions,
plus each leg alone, on one loaded index.

    python benchmarks/fusion.py --index DIR QUESTIONS.jsonl [QUESTIONS.jsonl ...]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from docqa.index.evaluate import evaluate, read_questions
from docqa.index.search import Searcher

VARIANTS = [("rrf", 1.0), ("rrf", 1.5), ("zscore", 0.5), ("zscore", 1.0), ("zscore", 1.5), ("zscore", 2.0),
            ("dense-only", 1.0), ("bm25-only", 1.0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("questions", type=Path, nargs="+")
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions of each file")
    args = parser.parse_args()
    searcher = Searcher.open(args.index)
    # Every variant asks the same questions: embed each once.
    encode, seen = searcher.embedder.encode_queries, {}

    def cached(texts):
        key = tuple(texts)
        if key not in seen:
            seen[key] = encode(texts)
        return seen[key]

    searcher.embedder.encode_queries = cached
    sets = {q.name: read_questions(q, need_gold=True) for q in args.questions}
    if args.limit:
        sets = {k: v[: args.limit] for k, v in sets.items()}
    print(f"{'variant':<16}" + "".join(f"{name[:22]:>48}" for name in sets))
    for fusion, weight in VARIANTS:
        if fusion == "dense-only":
            searcher.fusion, searcher.dense_weight = "zscore", 1e6
        elif fusion == "bm25-only":
            searcher.fusion, searcher.dense_weight = "zscore", 1e-6
        else:
            searcher.fusion, searcher.dense_weight = fusion, weight
        cells = []
        for questions in sets.values():
            r = evaluate(searcher, questions).to_dict()
            cells.append(f"h@1 {r['hit@1']:.3f} h@5 {r['hit@5']:.3f} mrr {r['mrr@10']:.3f} ans {r['answer']:.3f}")
        print(f"{fusion + ' ' + str(weight):<16}" + "".join(f"{c:>48}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
