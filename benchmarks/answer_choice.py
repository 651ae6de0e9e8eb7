"""Answer-choice accuracy with retrieval cached on disk (issue 21), for iterating on index/answer/.

    python benchmarks/answer_choice.py --book-index DIR --set drcd=/tmp/answers-drcd-tune \\
        --set cmrc=/tmp/answers-cmrc-tune --cache /tmp/choice [--knob answer_type_bonus=0.1] [--out misses.jsonl]

Each set's retrieval (question vector, tokens, hits, rows) is pickled into `--cache` on the first
run, so a later run re-runs only the answer step: a change to the sentence choice is measured in
about a minute instead of five on a loaded machine. Delete the cache after changing retrieval or
rebuilding an index. Refusal is off (threshold 0): the numbers are about which sentence is chosen.
A row is right when the answer's passage is the gold one and its text holds a gold span; every
answer's `span` is checked to lie inside its text. Book sets are benchmarks/data/book-*.jsonl
("book-shared" the shared book questions, a test set). `--vectors` keeps the encoded questions.
"""
from __future__ import annotations

import argparse
import json
import pickle
import sys
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from answers import StoredQueries  # noqa: E402
from refusal import SHARED_BOOK, _rows  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--book-index", type=Path)
    p.add_argument("--book-sets", default="book-dev,book-en,book-zht")
    p.add_argument("--set", action="append", default=[], help="NAME=DIR with DIR/index and DIR/questions.jsonl")
    p.add_argument("--cache", type=Path, required=True)
    p.add_argument("--vectors", type=Path)
    p.add_argument("--knob", action="append", default=[], help="RankingSettings field=value")
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    from docqa.index.search.searcher import Searcher
    from docqa.ingest.text import compact

    a.cache.mkdir(parents=True, exist_ok=True)
    cache: dict = {}
    current = [None]
    retrieve = Searcher._retrieve_steps

    def cached(self, question, k, chapter, doc_id):
        key = (current[0], question, k)
        if key in cache:
            yield self.query_text(question.strip())
            return cache[key]
        result = yield from retrieve(self, question, k, chapter, doc_id)
        cache[key] = result
        return result

    Searcher._retrieve_steps = cached
    sets = []
    if a.book_index:
        for name in filter(None, a.book_sets.split(",")):
            path = SHARED_BOOK if name == "book-shared" else HERE / "data" / f"{name}.jsonl"
            sets.append((name, a.book_index, _rows(path)))
    for spec in a.set:
        name, folder = spec.split("=", 1)
        sets.append((name, Path(folder) / "index", _rows(Path(folder) / "questions.jsonl")))
    emb = None
    out = open(a.out, "w", encoding="utf-8") if a.out else None
    knobs = {k.split("=")[0]: float(k.split("=")[1]) for k in a.knob}
    for name, index, rows in sets:
        s = Searcher.open(index, embedder=emb, refusal_threshold=0.0)
        if emb is None:
            emb = StoredQueries(s.embedder, a.vectors)
        s.embedder = emb
        if knobs:
            s.ranking = replace(s.ranking, **knobs)
        current[0] = name
        stored = a.cache / f"{name}.pkl"
        if stored.exists():
            cache.update(pickle.loads(stored.read_bytes()))
        else:
            emb.add([s.query_text(r["question"]) for r in rows])
        right = 0
        for r in rows:
            ans = s.ask(r["question"], k=10)
            gold = [compact(g) for g in r["gold"]]
            src = next((h.passage for h in ans.hits if h.passage.passage_id == ans.passage_id), None)
            good_src = src is not None and (r.get("doc_id") is None or src.doc_id == r["doc_id"]) \
                and any(g in compact(src.text) for g in gold)
            correct = not ans.refused and good_src and any(g in compact(ans.text or "") for g in gold)
            if ans.span is not None:
                assert 0 <= ans.span[0] < ans.span[1] <= len(ans.text), (r["question"], ans.text, ans.span)
            right += correct
            if out and not correct:
                out.write(json.dumps({"set": name, "q": r["question"], "gold": r["gold"], "answer": ans.text,
                                      "type": ans.answer_type, "same_passage": good_src}, ensure_ascii=False) + "\n")
        if not stored.exists():
            stored.write_bytes(pickle.dumps({k: v for k, v in cache.items() if k[0] == name}))
        print(f"{name:12} n={len(rows):4} answer {right / len(rows):.3f}", flush=True)
    if emb is not None:
        emb.save()


if __name__ == "__main__":
    main()
