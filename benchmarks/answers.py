"""Answer accuracy of every labelled set in one run, CMRC split in two halves, and why the misses missed.

    python benchmarks/cmrc.py ../shared/bench/cmrc2018_trial.json /tmp/cmrc
    docqa build /tmp/cmrc/docs.jsonl --index /tmp/cmrc/index
    docqa build --index /tmp/book
    python benchmarks/answers.py --cmrc /tmp/cmrc --book-index /tmp/book [--vectors /tmp/qvecs.npz] [--misses FILE]

The same searcher `docqa eval` uses (default refusal threshold; a refusal counts as wrong), with
the questions encoded in batches up front (one at a time costs seconds on a loaded machine);
`--vectors` keeps those encodings between runs, since answer-choice changes do not move them.
CMRC is split by the parity of the context number ("TRIAL_800" is even): answer-choice rules are
tuned on the even half ("tune") and checked on the odd half ("check"), which shares no passage
with it. A miss is classed by where the gold string is: not in the answer's source passage
("other passage": a lower passage was chosen, or the right one was never retrieved), in the
chosen passage but not in the answer ("wrong sentence"), or overlapping the answer without fitting
in it ("cut": by the length limit, or running on into the next sentence).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from refusal import SHARED_BOOK, PrecomputedQueries, _rows  # noqa: E402

BOOK_SETS = (("book-shared", SHARED_BOOK), ("book-dev", HERE / "data" / "book-dev.jsonl"),
             ("book-en", HERE / "data" / "book-en.jsonl"), ("book-zht", HERE / "data" / "book-zht.jsonl"))


class StoredQueries(PrecomputedQueries):
    """Encoded questions kept in an .npz file across runs."""

    def __init__(self, embedder, path: Path | None):
        super().__init__(embedder)
        self.path = path
        if path and path.is_file():
            with np.load(path) as z:
                self.cache.update(zip(z["texts"].tolist(), z["vectors"]))

    def save(self) -> None:
        if self.path:
            texts = list(self.cache)
            np.savez(self.path, texts=np.array(texts), vectors=np.stack([self.cache[t] for t in texts]))


def half(row: dict) -> str:
    m = re.search(r"(\d+)", str(row.get("doc_id", "")))
    return "tune" if m is None or int(m.group(1)) % 2 == 0 else "check"


def judge(searcher, row: dict) -> dict:
    from docqa.ingest.text import compact

    a = searcher.ask(row["question"], k=10)
    gold = [compact(g) for g in row["gold"]]
    src = next((h.passage for h in a.hits if h.passage.passage_id == a.passage_id), None)
    right_doc = src is not None and (row.get("doc_id") is None or src.doc_id == row["doc_id"])
    text = compact(a.text)
    correct = not a.refused and right_doc and any(g in text for g in gold)
    why = None
    if not correct:
        if a.refused:
            why = "refused"
        elif not right_doc or not any(g in compact(src.text) for g in gold):
            why = "other passage"
        else:
            why = "wrong sentence"
            body, stem = compact(src.text), text.rstrip("…")
            at = body.find(stem)
            for g in gold:
                g_at = body.find(g)
                while at >= 0 and g_at >= 0:
                    if g_at < at + len(stem) and g_at + len(g) > at:
                        why = "cut"
                    g_at = body.find(g, g_at + 1)
    return {"id": row["id"], "question": row["question"], "gold": row["gold"], "answer": a.text,
            "correct": correct, "why": why, "refused": a.refused, "half": half(row) if "doc_id" in row else None}


def run(searcher, rows: list[dict]) -> tuple[list[dict], float]:
    searcher.embedder.add([searcher.query_text(r["question"]) for r in rows])
    t = time.perf_counter()
    out = [judge(searcher, r) for r in rows]
    return out, (time.perf_counter() - t) / max(len(rows), 1)


def summary(name: str, res: list[dict], per_q: float) -> str:
    n = len(res)
    why = {}
    for r in res:
        if r["why"]:
            why[r["why"]] = why.get(r["why"], 0) + 1
    misses = ", ".join(f"{k} {v}" for k, v in sorted(why.items()))
    return (f"{name:18} n={n:4}  answer {sum(r['correct'] for r in res) / max(n, 1):.3f}  "
            f"refused {sum(r['refused'] for r in res):3}  ask {per_q * 1000:5.1f} ms/q  misses: {misses}")


def latency(searcher, questions: list[str], rounds: int) -> str:
    """p50 of `ask` with the real query encoder, of the encoding alone, and of their difference."""
    import statistics

    stored, searcher.embedder = searcher.embedder, searcher.embedder.inner
    try:
        for q in questions[:10]:
            searcher.ask(q, k=5)
        ask, floor = [], []
        for _ in range(rounds):
            for q in questions:
                t = time.perf_counter()
                searcher.ask(q, k=5)
                ask.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                searcher.embedder.encode_queries([searcher.query_text(q)])
                floor.append((time.perf_counter() - t) * 1000)
    finally:
        searcher.embedder = stored
    return (f"latency      n={len(ask):4}  ask p50 {statistics.median(ask):.1f} ms  floor (query embedding) p50 "
            f"{statistics.median(floor):.1f} ms  ask - floor p50 {statistics.median(a - f for a, f in zip(ask, floor)):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cmrc", type=Path, help="folder from benchmarks/cmrc.py with an index/ built in it")
    parser.add_argument("--vectors", type=Path, help="keep the encoded questions here between runs")
    parser.add_argument("--misses", type=Path, help="write every miss here (JSON lines)")
    parser.add_argument("--latency", type=int, default=0, metavar="ROUNDS",
                        help="also time in-process ask on the book questions (real query encoding), "
                             "ROUNDS times each, next to the query embedding alone (the floor)")
    parser.add_argument("--book-index", type=Path, help="the book's index (default: the bundled book's, in the user cache)")
    parser.add_argument("--context-weights", metavar="W,W,...",
                        help="instead of each index's saved context_weight, run every set once per weight given")
    args = parser.parse_args()

    from docqa.index.search.searcher import Searcher
    from docqa.service.engine import open_searcher
    from docqa.service.settings import Settings

    book = open_searcher(Settings(index=args.book_index) if args.book_index else Settings())
    book.embedder = StoredQueries(book.embedder, args.vectors)
    cmrc = None
    if args.cmrc is not None:
        cmrc = Searcher.open(args.cmrc / "index", embedder=book.embedder, refusal_threshold=book.refusal_threshold)
    weights = [float(w) for w in args.context_weights.split(",")] if args.context_weights else [None]
    results = {}
    lines = []
    for weight in weights:
        tag = "" if weight is None else f" w={weight:g}"
        for searcher in (book, cmrc):
            if searcher is not None and weight is not None:
                searcher.ranking = replace(searcher.ranking, context_weight=weight)
        for name, path in BOOK_SETS:
            if path.is_file():
                res, per_q = run(book, _rows(path))
                results[name + tag] = res
                lines.append(summary(name + tag, res, per_q))
        if cmrc is not None:
            res, per_q = run(cmrc, _rows(args.cmrc / "questions.jsonl"))
            results["cmrc" + tag] = res
            lines.append(summary("cmrc" + tag, res, per_q))
            for part in ("tune", "check"):
                lines.append(summary(f"cmrc-{part}{tag}", [r for r in res if r["half"] == part], per_q))
    book.embedder.save()
    if args.latency:
        lines.append(latency(book, [r["question"] for _, path in BOOK_SETS if path.is_file() for r in _rows(path)],
                             args.latency))
    print("\n".join(lines))
    if args.misses:
        with open(args.misses, "w", encoding="utf-8") as f:
            for name, res in results.items():
                for r in res:
                    if not r["correct"]:
                        f.write(json.dumps({"set": name, **r}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
