"""Where the misses are (issue 21): refused / gold passage below the answer passages / another passage chosen / wrong sentence of the gold passage / cut. Run: python benchmarks/answer_misses.py [--book] --set NAME=DIR [--threshold 0] [--out misses.jsonl]."""
import json, sys, time, argparse
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from answers import StoredQueries
from refusal import _rows

p = argparse.ArgumentParser()
p.add_argument("--set", action="append", default=[])
p.add_argument("--book", action="store_true")
p.add_argument("--limit", type=int, default=0)
p.add_argument("--threshold", type=float, default=None)
p.add_argument("--out", type=Path)
p.add_argument("--vectors", type=Path, help="keep the encoded questions here between runs")
a = p.parse_args()
from docqa.index.search.searcher import Searcher
from docqa.service.engine import open_searcher
from docqa.service.settings import Settings
from docqa.ingest.text import compact

book = open_searcher(Settings())
emb = StoredQueries(book.embedder, a.vectors)
book.embedder = emb
if a.threshold is not None:
    book.refusal_threshold = a.threshold
sets = []
H = Path(__file__).resolve().parent / "data"
if a.book:
    for n in ("book-dev", "book-en", "book-zht"):
        sets.append((n, book, _rows(H / f"{n}.jsonl")))
for spec in a.set:
    n, folder = spec.split("=", 1)
    s = Searcher.open(Path(folder) / "index", embedder=emb, refusal_threshold=book.refusal_threshold)
    rows = _rows(Path(folder) / "questions.jsonl")
    if a.limit: rows = rows[:a.limit]
    sets.append((n, s, rows))
for _, s, rows in sets:
    emb.add([s.query_text(r["question"]) for r in rows])
emb.save()
out = open(a.out, "w") if a.out else None
for n, s, rows in sets:
    t = time.perf_counter()
    cnt = {}
    ok = 0
    for r in rows:
        ans = s.ask(r["question"], k=10)
        gold = [compact(g) for g in r["gold"]]
        text = compact(ans.text or "")
        hits = ans.hits
        def has(h):
            return (r.get("doc_id") is None or h.passage.doc_id == r["doc_id"]) and any(g in compact(h.passage.text) for g in gold)
        pos = next((i for i, h in enumerate(hits) if has(h)), None)
        src = next((i for i, h in enumerate(hits) if h.passage.passage_id == ans.passage_id), None)
        correct = not ans.refused and src is not None and has(hits[src]) and any(g in text for g in gold)
        if correct:
            ok += 1; why = None
        elif ans.refused and any(g in text for g in gold): why = "refused(text right)"
        elif ans.refused: why = "refused"
        elif pos is None: why = "gold not in top10"
        elif pos >= s.ranking.answer_passages: why = f"gold at rank>={s.ranking.answer_passages}"
        elif src == pos:
            body = compact(hits[pos].passage.text)
            stem = text.rstrip("…")
            at = body.find(stem)
            why = "wrong sentence (same passage)"
            for g in gold:
                ga = body.find(g)
                while at >= 0 and ga >= 0:
                    if ga < at + len(stem) and ga + len(g) > at: why = "cut"
                    ga = body.find(g, ga + 1)
        else: why = f"other passage chosen (gold at {pos}, chose {src})"
        if why: cnt[why] = cnt.get(why, 0) + 1
        if out and why:
            out.write(json.dumps({"set": n, "why": why, "q": r["question"], "gold": r["gold"], "answer": ans.text,
                                  "type": ans.answer_type, "pos": pos, "src": src,
                                  "passage": hits[pos].passage.text if pos is not None else None}, ensure_ascii=False) + "\n")
    dt = (time.perf_counter() - t) / max(len(rows), 1)
    print(f"{n:10} n={len(rows):4} answer {ok/len(rows):.3f}  {dt*1000:.0f} ms/q  " + ", ".join(f"{k}: {v}" for k, v in sorted(cnt.items(), key=lambda kv: -kv[1])), flush=True)
