"""Do cited pages hold the answer? Top hits of labelled questions on an index of a PDF, checked
against poppler's pdftotext page by page (another tool than the one docqa reads with).

For each question whose top passage contains a gold string, the gold string must be on a page
in the passage's [page, page_end]. Also counts running-header text inside any passage, for a
header given with --header.

    python benchmarks/page_citations.py BOOK.pdf INDEX_DIR QUESTIONS.jsonl [--header TEXT]
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path


def squeeze(s: str) -> str:
    import unicodedata

    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pdf", type=Path)
    ap.add_argument("index", type=Path)
    ap.add_argument("questions", type=Path)
    ap.add_argument("--header", default="")
    args = ap.parse_args()
    from docqa.index.search.searcher import Searcher

    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(args.pdf), "-"], capture_output=True, text=True,
                         check=True).stdout
    pages = [squeeze(p) for p in out.split("\f")]
    searcher = Searcher.open(args.index)
    checked = right = 0
    for line in args.questions.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        hit = searcher.search(q["question"], k=1)[0].passage
        gold = next((g for g in q["gold"] if squeeze(g) in squeeze(hit.text)), None)
        if gold is None:
            print(f"{q['id']}: top passage holds no gold string (not a page question)")
            continue
        on = [n for n, p in enumerate(pages, start=1) if squeeze(gold) in p]
        ok = any(hit.page <= n <= hit.page_end for n in on)
        checked += 1
        right += ok
        label = f" ({hit.page_label})" if hit.page_label else ""
        print(f"{q['id']}: cited pages {hit.page}-{hit.page_end}{label}; pdftotext finds {gold!r} on {on}: "
              f"{'right' if ok else 'WRONG'}")
    leaks = sum(args.header in p.text for p in searcher.index.passages) if args.header else 0
    print(f"cited page holds the answer: {right}/{checked}"
          + (f"; passages with running-header text: {leaks}/{len(searcher.index.passages)}" if args.header else ""))


if __name__ == "__main__":
    main()
