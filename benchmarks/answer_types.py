"""Answer accuracy with and without the answer-type bonus (issue 21), refusal off, per set and per type.

    python benchmarks/cmrc.py ../shared/bench/DRCD_dev.json /tmp/drcd-tune --split tune --max-paragraphs 300
    python benchmarks/cmrc.py ../shared/bench/cmrc2018_trial.json /tmp/cmrc-tune --split tune
    docqa build /tmp/drcd-tune/docs.jsonl --index /tmp/drcd-tune/index   # likewise the others
    docqa build --index /tmp/book
    python benchmarks/answer_types.py --book-index /tmp/book --set drcd-tune=/tmp/drcd-tune \\
        --set cmrc-tune=/tmp/cmrc-tune --bonus 0,0.03,0.05,0.1 [--shared]

Refusal is off (threshold 0), so the numbers are about which sentence is chosen, not whether one
is given. The book sets in benchmarks/data are tuning sets; the shared book questions
(`--shared`) and the frozen test splits of DRCD and CMRC (`benchmarks/data/splits`) are test sets:
pass them once, at the end. A row per set and bonus, then per answer type the count and the
accuracy at each bonus, so a rule's effect shows on the questions it touches.
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from answers import StoredQueries, judge  # noqa: E402
from refusal import _rows  # noqa: E402

BOOK_SETS = (("book-dev", HERE / "data" / "book-dev.jsonl"), ("book-en", HERE / "data" / "book-en.jsonl"),
             ("book-zht", HERE / "data" / "book-zht.jsonl"))
SHARED = next((p for p in (HERE.parent.parent / "shared" / "eval" / "book-questions.jsonl",
                           HERE.parent.parent.parent / "shared" / "eval" / "book-questions.jsonl") if p.is_file()),
              None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book-index", type=Path, required=True)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=DIR",
                        help="a folder from benchmarks/cmrc.py with an index/ built in it")
    parser.add_argument("--bonus", default="0,0.05", help="answer_type_bonus values, comma-separated")
    parser.add_argument("--shared", action="store_true", help="also the shared book questions (a test set)")
    parser.add_argument("--vectors", type=Path, help="keep the encoded questions here between runs")
    args = parser.parse_args()

    from docqa.index.answer.kinds import classify
    from docqa.index.search.searcher import Searcher
    from docqa.service.engine import open_searcher
    from docqa.service.settings import Settings

    book = open_searcher(Settings(index=args.book_index, refusal_threshold=0.0))
    book.embedder = StoredQueries(book.embedder, args.vectors)
    sets = [(name, book, _rows(path)) for name, path in BOOK_SETS if path.is_file()]
    if args.shared and SHARED:
        sets.append(("book-shared", book, _rows(SHARED)))
    for spec in args.set:
        name, folder = spec.split("=", 1)
        s = Searcher.open(Path(folder) / "index", embedder=book.embedder, refusal_threshold=0.0)
        sets.append((name, s, _rows(Path(folder) / "questions.jsonl")))
    for _, s, rows in sets:
        s.embedder.add([s.query_text(r["question"]) for r in rows])
    book.embedder.save()
    bonuses = [float(b) for b in args.bonus.split(",")]
    per_type: dict[tuple[str, str], dict[float, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for name, s, rows in sets:
        base = s.ranking
        line = [f"{name:12} n={len(rows):4}"]
        for bonus in bonuses:
            s.ranking = replace(base, answer_type_bonus=bonus)
            res = [judge(s, r) for r in rows]
            for r in res:
                per_type[(name, classify(r["question"]))][bonus].append(r["correct"])
            line.append(f"bonus {bonus:g}: {sum(r['correct'] for r in res) / max(len(res), 1):.3f}")
        s.ranking = base
        print("  ".join(line), flush=True)
    print("per type (set, type, n, accuracy at each bonus):")
    for (name, kind), by in sorted(per_type.items()):
        n = len(next(iter(by.values())))
        print(f"  {name:12} {kind:13} n={n:4}  " + "  ".join(f"{sum(v) / n:.3f}" for v in by.values()))


if __name__ == "__main__":
    main()
