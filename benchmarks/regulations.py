"""A library of many similar documents: the 120 regulations in ../shared/corpus/regulations.

Questions (benchmarks/data/regulations-lookup.jsonl, split frozen before tuning: "tune" and
"test", alternate questions of each category) are natural questions with the regulation
unnamed or named, English ones, and article look-ups ("校车安全管理条例第十七条讲什么"; in English,
"en-lookup": "What does Article 17 of the School Bus Safety Management Regulations say?", added
with their split before any tuning on them).
A passage is right when it is from the gold file and holds the gold text (whitespace aside).

    docqa build ../shared/corpus/regulations --index /tmp/regs
    python benchmarks/regulations.py --index /tmp/regs [--split tune|test|all] [--misses]
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--questions", type=Path, default=HERE / "data" / "regulations-lookup.jsonl")
    ap.add_argument("--split", choices=["tune", "test", "all"], default="tune")
    ap.add_argument("--misses", action="store_true", help="print the questions whose first passage is wrong")
    args = ap.parse_args(argv)

    from docqa.index.search.searcher import Searcher
    from docqa.ingest.text import compact

    s = Searcher.open(args.index)
    rows = [json.loads(x) for x in args.questions.read_text(encoding="utf-8").splitlines() if x.strip()]
    rows = [r for r in rows if args.split == "all" or r["split"] == args.split]
    stats = defaultdict(lambda: defaultdict(int))

    def right(p, r):
        return Path(p.source).name == r["gold_source"] and compact(r["gold_text"]) in compact(p.text)

    for r in rows:
        ans = s.ask(r["question"], k=5)
        hits = [h.passage for h in ans.hits]
        for cat in (r["category"], "all"):
            st = stats[cat]
            st["n"] += 1
            st["first"] += bool(hits) and right(hits[0], r)
            st["top5"] += any(right(p, r) for p in hits)
            st["doc_first"] += bool(hits) and Path(hits[0].source).name == r["gold_source"]
            st["answer"] += bool(ans.text) and compact(r["gold_text"])[:12] in compact(ans.text)
        if args.misses and not (hits and right(hits[0], r)):
            top = hits[0] if hits else None
            print(f"MISS {r['id']} {r['question']} -> "
                  f"{Path(top.source).stem if top else None} {top.unit if top else None}: {top.text[:50] if top else ''}")
    print(f"split={args.split} index={args.index}")
    print(f"{'category':10} {'n':>3} {'first':>6} {'top5':>6} {'doc@1':>6} {'answer':>6}")
    for cat in ("natural", "named", "english", "lookup", "en-lookup", "all"):
        st = stats.get(cat)
        if not st:
            continue
        n = st["n"]
        print(f"{cat:10} {n:3d} {st['first']/n:6.3f} {st['top5']/n:6.3f} {st['doc_first']/n:6.3f} {st['answer']/n:6.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
