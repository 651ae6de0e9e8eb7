"""How many real questions the `asks_nothing` half of the content-free rule could refuse.

    python benchmarks/content_free_rule.py > benchmarks/results/content-free-rule.txt

A question is refused as content-free by this rule only when `index.question.asks_nothing` holds
(plain ASCII, no question mark, no asking word) AND none of its keyword tokens occurs in the
books (`refusal.review`). The first half needs no index, so every question of every set is
checked; a question it does not catch can never be refused by the rule. Sets: the shared book
questions, CMRC 2018 trial and DRCD dev (all of them; neither is a tuning split here), and the
repository's own sets (English, Traditional, regulations, unanswerable).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def questions(path: Path):
    if path.suffix == ".jsonl":
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield json.loads(line)["question"]
        return
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                yield qa["question"]


def main() -> int:
    from docqa.index.question import asks_nothing
    from docqa.service.questions import is_blank

    sets = [SHARED / "eval/book-questions.jsonl", SHARED / "bench/cmrc2018_trial.json", SHARED / "bench/DRCD_dev.json",
            *sorted((ROOT / "benchmarks/data").glob("*.jsonl"))]
    print(f"{'set':44} {'questions':>9} {'ascii':>6} {'caught':>6}  caught (blank ones are refused before any rule)")
    total = caught_real = 0
    for path in sets:
        if not path.exists():
            print(f"{path.name:44} missing")
            continue
        qs = list(questions(path))
        caught = [q for q in qs if asks_nothing(q)]
        real = [q for q in caught if not is_blank(q)]
        total += len(qs)
        caught_real += len(real)
        print(f"{path.name:44} {len(qs):9d} {sum(q.isascii() for q in qs):6d} {len(caught):6d}  "
              f"{[q for q in caught][:5]}")
    print(f"all sets: {total} questions, {caught_real} non-blank caught by asks_nothing (so at most "
          f"{caught_real} could be refused by the rule); floor 0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
