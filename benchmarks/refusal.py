"""Calibrate "not in this book" so that it transfers: leave one distribution out.

Six distributions, each with answerable and (but for the English book questions) unanswerable
questions:

- cmrc: CMRC 2018 trial paragraphs (Simplified Wikipedia); unanswerable = questions of articles
  left out of the index (half of the articles are removed, the other half's questions are
  asked again of that smaller index as answerable ones).
- drcd: DRCD dev paragraphs (Traditional Wikipedia), made the same way.
- book: the bundled book's book-dev and book-zht questions (Simplified and Traditional).
- english: book-en (English questions about the Chinese book; answerable only).
- offnear: off-topic and near-topic questions about the book (Chinese and English; unanswerable only).
- regulations: benchmarks/data/regulations-questions.jsonl on a library of 36 of the regulations
  (those of its questions' files drawn with seed 0; the questions of the others are left out), plus
  the questions of the regulations removed from half the library.

For each distribution the model is fitted on the others' tuning rows, its threshold chosen on
them, and the left-out distribution's tuning rows are judged: answerable refused (target <= 3%;
also shown: how many of them were answered right, i.e. what a refusal hid) and unanswerable
refused (target >= 85%). The features are read against each index's own similarity levels
(docqa.index.store.calibration): an index built before them gets them computed in memory here, and
each half-library index its own. Then the shipped model (fitted on every tuning row)
is judged once on the frozen test splits (benchmarks/data/splits/, the shared book questions).

    python benchmarks/refusal.py prepare /tmp/refusal      # corpora and question files
    docqa build /tmp/refusal/drcd/docs.jsonl --index /tmp/refusal/drcd/index
    docqa build /tmp/refusal/cmrc/docs.jsonl --index /tmp/refusal/cmrc/index
    docqa build /tmp/refusal/regs/docs --index /tmp/refusal/regs/index
    python benchmarks/refusal.py gather /tmp/refusal        # features -> /tmp/refusal/features-*.jsonl
    python benchmarks/refusal.py lodo /tmp/refusal [--test] # fold table (and the test splits)

Subsets keep it to minutes on two shared cores: 313 DRCD and 160 CMRC paragraphs, two
questions each.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SPLITS = DATA / "splits"
SHARED = Path("/work/shared") if Path("/work/shared").is_dir() else HERE.parent.parent / "shared"
SHARED_BOOK = SHARED / "eval" / "book-questions.jsonl"
TARGET_REFUSE, TARGET_FALSE = 0.85, 0.03
RIGHT_REFUSED = 0.0
"""A threshold may hide no right answer of any fitting set: at the 3% the targets allow, the
model fitted on every tuning row (threshold 0.31) refused one right regulations answer of 43."""
DISTRIBUTIONS = ("cmrc", "drcd", "book", "english", "offnear", "regulations")


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def _write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


# ---------------------------------------------------------------------------------------- prepare

def _squad(source: Path, out: Path, test_file: str, per_split: dict[str, int]) -> None:
    """Whole articles, shuffled (seed 0), until each split has its paragraphs; two questions per
    paragraph (seeded by its id). Test articles are those frozen in benchmarks/data/splits."""
    data = json.loads(source.read_text(encoding="utf-8"))["data"]
    test = set((SPLITS / test_file).read_text().split())
    articles = list(data)
    random.Random(0).shuffle(articles)
    counts = {"tune": 0, "test": 0}
    docs, questions = [], []
    for a in articles:
        split = "test" if str(a["id"]) in test else "tune"
        if counts[split] >= per_split[split]:
            continue
        counts[split] += len(a["paragraphs"])
        for p in a["paragraphs"]:
            docs.append({"id": p["id"], "title": a.get("title") or p["id"], "text": p["context"], "article": str(a["id"])})
            qas = [qa for qa in p["qas"] if qa["question"].strip() and any(x["text"].strip() for x in qa["answers"])]
            for qa in random.Random(p["id"]).sample(qas, min(2, len(qas))):
                questions.append({"id": qa["id"], "question": qa["question"], "doc_id": p["id"], "article": str(a["id"]),
                                  "gold": sorted({x["text"] for x in qa["answers"] if x["text"].strip()}), "split": split})
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "docs.jsonl", docs)
    _write(out / "questions.jsonl", questions)
    print(out, counts, len(questions))


def prepare(out: Path) -> None:
    _squad(SHARED / "bench" / "DRCD_dev.json", out / "drcd", "drcd-test-articles.txt", {"tune": 200, "test": 100})
    _squad(SHARED / "bench" / "cmrc2018_trial.json", out / "cmrc", "cmrc-test-articles.txt", {"tune": 110, "test": 50})
    library = SHARED / "corpus" / "regulations"
    files = sorted({r["file"] for r in _rows(DATA / "regulations-questions.jsonl") if r.get("file")})
    files = sorted(random.Random(0).sample(files, 36))
    docs = out / "regs" / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for name in files:
        shutil.copyfile(library / name, docs / name)
    print(docs, len(files))


# ----------------------------------------------------------------------------------------- gather

def subset_index(index, keep_docs: set[str]):
    """The same index without the passages of other documents (vectors, keywords, sentences)."""
    import bm25s

    from docqa.index.store import calibration
    from docqa.index.store.dense import DenseVectors
    from docqa.index.store.hubness import Hubness
    from docqa.index.store.keyword import KeywordIndex
    from docqa.index.store.sentences import SentenceTable
    from docqa.index.store.directory import DirectoryStore, indexed_text

    rows = [i for i, p in enumerate(index.passages) if p.doc_id in keep_docs]
    remap = {r: i for i, r in enumerate(rows)}
    vecs = np.stack([index.dense.index.reconstruct(r) for r in rows])
    passages = [index.passages[r] for r in rows]
    tok = index.keyword.tokenizer
    bm25 = bm25s.BM25()
    bm25.index([tok(indexed_text(p)) or [""] for p in passages], show_progress=False)
    st = index.sentences
    sel = np.isin(st.row, rows)
    sent_row = np.array([remap[int(r)] for r in st.row[sel]], dtype=np.int32)
    hub = Hubness(index.hub.en[rows], index.hub.zh[rows], index.hub.shift)
    table = SentenceTable(sent_row, st.start[sel], st.end[sel], st.vectors[sel],
                          None if st.context is None else st.context[sel])
    manifest = {**index.manifest, "calibration": calibration.levels(vecs, table.vectors, table.row)}
    return DirectoryStore(index.path, manifest, passages, [d for d in index.documents if d.doc_id in keep_docs],
                          DenseVectors.build(vecs), KeywordIndex(tok, bm25), table, hub)


def _matches(text: str, gold: list[str]) -> bool:
    from docqa.ingest.text import compact

    return any(compact(g) in compact(text) for g in gold)


class PrecomputedQueries:
    """The searcher's embedder with every question encoded up front in batches: on a shared
    machine one question at a time costs seconds, a batch costs a fraction of that each."""

    def __init__(self, embedder):
        self.inner, self.cache = embedder, {}
        self.model_name, self.dim = embedder.model_name, embedder.dim

    def add(self, texts: list[str]) -> None:
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        for i in range(0, len(todo), 64):
            batch = todo[i:i + 64]
            self.cache.update(zip(batch, self.inner.encode_queries(batch)))

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        self.add(texts)
        return np.stack([self.cache[t] for t in texts])


def with_levels(searcher):
    """An index built before calibration version 1 gets its levels here, in memory (as `build`
    now saves them), so that old benchmark indexes need no rebuild."""
    from docqa.index.store import calibration
    from docqa.index.answer import refusal

    store = searcher.store
    if calibration.of_store(store) is None:
        vecs = np.stack([store.dense.index.reconstruct(r) for r in range(len(store.passages))])
        store.manifest = {**store.manifest, "calibration": calibration.levels(
            vecs, store.sentences.vectors, store.sentences.row)}
        searcher.refusal_coefficients = refusal.coefficients_for(store)
        searcher.refusal_model = refusal.model_version(searcher.refusal_coefficients)
    return searcher


def collect(searcher, rows: list[dict], dist: str, group: str, answerable: bool, split: str | None = None) -> list[dict]:
    searcher.embedder.add([searcher.query_text(r["question"]) for r in rows])
    out = []
    for r in rows:
        a = searcher.ask(r["question"], k=5)
        ev = a.evidence
        source = searcher.passage(a.passage_id) if a.passage_id else None
        right_doc = (source is None or (r.get("doc_id") is None or source.doc_id == r["doc_id"])
                     and (r.get("file") is None or Path(source.source).name == r["file"]))
        out.append({"dist": dist, "group": group, "id": r["id"], "question": r["question"], "answerable": answerable,
                    "split": split or r.get("split") or "tune", "language": ev.language if ev else None,
                    "features": ev.features() if ev else None, "answer": a.text,
                    "correct": bool(answerable and _matches(a.text, r.get("gold", [])) and right_doc)})
    return out


def _halves(searcher, questions: list[dict], key: str, dist: str, unit_of) -> list[dict]:
    """Half of the documents' units (articles, or regulation files; `unit_of(passage)`) removed:
    the kept units' questions answerable, the removed ones' not, both asked of the smaller index."""
    from docqa.index.search.searcher import Searcher

    units = sorted({q[key] for q in questions})
    removed = set(random.Random(1).sample(units, len(units) // 2))
    keep = {p.doc_id for p in searcher.passages if unit_of(p) not in removed}
    half = Searcher(subset_index(searcher.store, keep), searcher.embedder, refusal_threshold=0.0)
    return (collect(half, [q for q in questions if q[key] not in removed], dist, f"{dist}-half-kept", True)
            + collect(half, [q for q in questions if q[key] in removed], dist, f"{dist}-removed", False))


def _book_searcher():
    from docqa.service.engine import open_searcher
    from docqa.service.settings import Settings

    book = with_levels(open_searcher(Settings(refusal_threshold=0.0)))
    book.embedder = PrecomputedQueries(book.embedder)
    return book


def gather_book(root: Path, book) -> list[dict]:
    out = collect(book, _rows(SHARED_BOOK), "book", "book-shared", True, "test")
    out += collect(book, _rows(DATA / "book-dev.jsonl"), "book", "book-dev", True)
    out += collect(book, _rows(DATA / "book-zht.jsonl"), "book", "book-zht", True)
    out += collect(book, _rows(DATA / "book-en.jsonl"), "english", "book-en", True)
    for name in ("offtopic", "neartopic"):
        rows = _rows(DATA / f"unanswerable-{name}.jsonl")
        for r in rows:
            r["split"] = "test" if r.get("split") == "heldout" else "tune"
        out += collect(book, rows, "offnear", name, False)
    return out


def gather_wiki(root: Path, book, dist: str) -> list[dict]:
    from docqa.index.search.searcher import Searcher

    full = with_levels(Searcher.open(root / dist / "index", embedder=book.embedder, refusal_threshold=0.0))
    questions = _rows(root / dist / "questions.jsonl")
    article = {d["id"]: d["article"] for d in _rows(root / dist / "docs.jsonl")}
    return (collect(full, questions, dist, dist, True)
            + _halves(full, questions, "article", dist, lambda p: article[p.doc_id]))


def gather_regulations(root: Path, book, regs_index: Path | None = None) -> list[dict]:
    from docqa.index.search.searcher import Searcher

    regs = with_levels(Searcher.open(regs_index or root / "regs" / "index", embedder=book.embedder,
                                     refusal_threshold=0.0))
    present = {Path(p.source).name for p in regs.passages}
    questions = [q for q in _rows(DATA / "regulations-questions.jsonl") if not q.get("file") or q["file"] in present]
    return (collect(regs, [q for q in questions if q["answerable"]], "regulations", "regulations", True)
            + collect(regs, [q for q in questions if not q["answerable"]], "regulations", "regulations-neartopic", False)
            + _halves(regs, [q for q in questions if q["answerable"]], "file", "regulations",
                      lambda p: Path(p.source).name))


def gather(root: Path, parts, regs_index: Path | None = None) -> None:
    """Features of each part's questions into root/features-PART.jsonl (parts: book, cmrc, drcd,
    regulations), so a part whose index is not built yet can be gathered later."""
    from docqa.index.answer import refusal

    refusal.MEASURE_UNUSED = True
    book = _book_searcher()
    for part in parts:
        t0 = time.perf_counter()
        if part == "book":
            rows = gather_book(root, book)
        elif part == "regulations":
            rows = gather_regulations(root, book, regs_index)
        else:
            rows = gather_wiki(root, book, part)
        _write(root / f"features-{part}.jsonl", rows)
        print(f"{part}: {len(rows)} questions, {time.perf_counter() - t0:.0f}s", file=sys.stderr)


# -------------------------------------------------------------------------------------------- fit

def _weights(rows: list[dict]) -> np.ndarray:
    """Each class weighs the same, and within a class each set weighs the same, whatever their
    sizes: a thousand CMRC questions must not drown thirty about the book."""
    y = [r["answerable"] for r in rows]
    groups = [r["group"] for r in rows]
    per_class = {c: len({g for g, yy in zip(groups, y) if yy == c}) for c in (False, True)}
    count = {g: groups.count(g) for g in set(groups)}
    return np.array([0.5 / per_class[yy] / count[g] for g, yy in zip(groups, y)])


def fit(rows: list[dict], features, steps: int = 3000, l2: float = 1e-2) -> dict[str, float]:
    """Logistic regression (answerable = 1) on standardised features, returned in raw units."""
    x = np.array([[r["features"][f] for f in features] for r in rows])
    y = np.array([float(r["answerable"]) for r in rows])
    w_row = _weights(rows)
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mu) / sd
    w, b = np.zeros(len(features)), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        g = (p - y) * w_row
        w -= 2.0 * (z.T @ g + l2 * w)
        b -= 2.0 * g.sum()
    raw = w / sd
    return {"bias": round(float(b - raw @ mu), 4), **{f: round(float(v), 4) for f, v in zip(features, raw)}}


def support(r: dict, c: dict) -> float:
    """The model's support for a measured row; `c` is one model, or one per question language."""
    if not r["features"]:
        return 1.0
    if "bias" not in c:
        c = c[r["language"]]
    z = c["bias"] + sum(v * r["features"].get(f, 0.0) for f, v in c.items() if f != "bias")
    return 1 / (1 + math.exp(-max(min(z, 50), -50)))


def _rates(rows: list[dict], c, t: float) -> tuple[float, float]:
    """Mean over sets of the refused share: of answerable sets, of unanswerable sets."""
    out = {True: [], False: []}
    for g in sorted({r["group"] for r in rows}):
        gr = [r for r in rows if r["group"] == g]
        out[gr[0]["answerable"]].append(sum(support(r, c) < t for r in gr) / len(gr))
    return (float(np.mean(out[True])) if out[True] else float("nan"),
            float(np.mean(out[False])) if out[False] else float("nan"))


def _right_refused(rows: list[dict], c, t: float) -> float:
    """The share of a set's questions whose right answer a refusal would hide."""
    return sum(r["correct"] and support(r, c) < t for r in rows) / len(rows)


def choose_threshold(rows: list[dict], c) -> float:
    """The highest threshold at which no answerable set (of the fitting rows) has a question
    refused that was answered right (`RIGHT_REFUSED`): a wrong refusal hides a right answer, while
    refusing a question whose retrieval found nothing relevant (a wrong answer) loses nothing.
    Both shares are reported (`describe`)."""
    best = 0.01
    groups = [[r for r in rows if r["group"] == g] for g in sorted({r["group"] for r in rows if r["answerable"]})]
    for t in np.arange(0.01, 0.96, 0.01):
        if max(_right_refused(gr, c, t) for gr in groups) <= RIGHT_REFUSED:
            best = float(round(t, 2))
    return best


def choose_high(rows: list[dict], c, floor: float, share: float = 0.05) -> float:
    """The lowest support at or above `floor` that no more than `share` of any unanswerable set
    reaches: an answer given as "high" confidence is then almost never one the book lacks."""
    groups = {r["group"] for r in rows if not r["answerable"]}
    for t in np.arange(floor, 0.991, 0.01):
        if all(sum(support(r, c) >= t for r in gr) / len(gr) <= share
               for g in groups for gr in [[r for r in rows if r["group"] == g]]):
            return float(round(t, 2))
    return 0.99


def describe(rows: list[dict], c, t: float) -> str:
    parts = []
    for answerable in (True, False):
        sel = [r for r in rows if r["answerable"] == answerable]
        if sel:
            refused = sum(support(r, c) < t for r in sel)
            word = "answerable refused" if answerable else "unanswerable refused"
            parts.append(f"{word} {refused}/{len(sel)} ({refused / len(sel):.1%})")
            if answerable:
                right = sum(r["correct"] and support(r, c) < t for r in sel)
                parts.append(f"right answers refused {right} ({right / len(sel):.1%})")
    answered = [r for r in rows if r["answerable"]]
    if answered:
        acc = sum(r["correct"] and support(r, c) >= t for r in answered) / len(answered)
        parts.append(f"answer {acc:.3f}")
    return ", ".join(parts)


def separable(answerable: list[dict], unanswerable: list[dict], c) -> str:
    """How far the left-out fold's own supports overlap: the share of its unanswerable questions
    below the support that refuses `TARGET_FALSE` of its answerable ones, i.e. what the best
    threshold for this fold alone (not knowable from the others) would refuse."""
    if not answerable or not unanswerable:
        return "-"
    cut = float(np.quantile([support(r, c) for r in answerable], TARGET_FALSE))
    return f"{np.mean([support(r, c) < cut for r in unanswerable]):.1%}"


def lodo(rows: list[dict], features) -> list[str]:
    tune = [r for r in rows if r["split"] == "tune" and r["features"]]
    lines = [f"features: {', '.join(features)}",
             f"{'left out':12} {'n':>5} {'thr':>5}  {'answerable refused':>22}  {'of them right':>14}  "
             f"{'unanswerable refused':>22}  verdict  {'separable at best':>18}"]
    for dist in DISTRIBUTIONS:
        train = [r for r in tune if r["dist"] != dist]
        test = [r for r in tune if r["dist"] == dist]
        c = fit(train, features)
        t = choose_threshold(train, c)
        an = [r for r in test if r["answerable"]]
        un = [r for r in test if not r["answerable"]]
        fa = sum(support(r, c) < t for r in an)
        fu = sum(support(r, c) < t for r in un)
        fr = sum(r["correct"] and support(r, c) < t for r in an)
        r_txt = f"{fr} ({fr / len(an):.1%})" if an else "-"
        ok = (not an or fa / len(an) <= TARGET_FALSE) and (not un or fu / len(un) >= TARGET_REFUSE)
        a_txt = f"{fa}/{len(an)} ({fa / len(an):.1%})" if an else "-"
        u_txt = f"{fu}/{len(un)} ({fu / len(un):.1%})" if un else "-"
        lines.append(f"{dist:12} {len(test):5} {t:5.2f}  {a_txt:>22}  {r_txt:>14}  {u_txt:>22}  "
                     f"{'ok' if ok else 'MISS':7}  {separable(an, un, c)}")
        for g in sorted({r["group"] for r in test}):
            gr = [r for r in test if r["group"] == g]
            lines.append(f"    {g:24} {describe(gr, c, t)}")
    return lines


FEATURES = ("cal_s", "cal_p", "overlap", "anchors", "is_en")
"""The features of `refusal.CALIBRATED`: the best sentence and passage against the index's own
levels, the rare words found, the translation-free terms found, and the question's language."""


def shipped_form(c: dict[str, float], t: float, at: float) -> dict[str, float]:
    """The model with its bias moved so that support `at` (the searcher's one threshold knob)
    falls where support `t` did: the same refusals, one setting for every index."""
    shift = math.log(at / (1 - at)) - math.log(t / (1 - t))
    return {**c, "bias": round(c["bias"] + shift, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("prepare", "gather", "lodo"))
    parser.add_argument("root", type=Path, help="working folder (corpora, indexes, features.jsonl)")
    parser.add_argument("--features", default=",".join(FEATURES), help="comma-separated features to fit on")
    parser.add_argument("--parts", default="book,cmrc,drcd,regulations", help="what gather measures")
    parser.add_argument("--regs-index", type=Path, help="an index of the whole regulations library to use instead")
    parser.add_argument("--test", action="store_true", help="judge the shipped model on the frozen test splits")
    args = parser.parse_args()
    if args.command == "prepare":
        return prepare(args.root)
    if args.command == "gather":
        return gather(args.root, args.parts.split(","), args.regs_index)
    from docqa.index.answer.refusal import COEFFICIENTS, DEFAULT_THRESHOLD, INDEX_CALIBRATED

    rows = [r for path in sorted(args.root.glob("features-*.jsonl")) for r in _rows(path)]
    features = tuple(f for f in args.features.split(",") if f)
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        counts[(r["group"], r["split"])] = counts.get((r["group"], r["split"]), 0) + 1
    print("questions:", ", ".join(f"{g}/{s} {n}" for (g, s), n in sorted(counts.items())))
    print("\nLeave one distribution out (tuning rows; fit and threshold on the other five):")
    print("\n".join(lodo(rows, features)))
    tune = [r for r in rows if r["split"] == "tune" and r["features"]]
    c = fit(tune, features)
    t = choose_threshold(tune, c)
    high = choose_high(tune, c, t)
    print(f"\nfitted on every tuning row: {json.dumps(c)}  threshold {t}  high confidence from {high}")
    print(f"  as shipped (threshold {DEFAULT_THRESHOLD}): {json.dumps(shipped_form(c, t, DEFAULT_THRESHOLD))}"
          f"  high confidence from {choose_high(tune, shipped_form(c, t, DEFAULT_THRESHOLD), DEFAULT_THRESHOLD)}")
    print("per set, this model at that threshold (tune):")
    for g in sorted({r["group"] for r in tune}):
        gr = [r for r in tune if r["group"] == g]
        low = sum(t <= support(r, c) < high for r in gr)
        print(f"  {g:24} n={len(gr):4}  {describe(gr, c, t)}, low {low}")
    splits = ("tune", "test") if args.test else ("tune",)
    for name, shipped in (("absolute-cosine (indexes without levels)", COEFFICIENTS),
                          ("index-calibrated-1", INDEX_CALIBRATED)):
        print(f"\nshipped {name}: {json.dumps(shipped['zh'] if shipped is INDEX_CALIBRATED else shipped)}  "
              f"threshold {DEFAULT_THRESHOLD}")
        print("per set, at that threshold" + (" (tune | test)" if args.test else " (tune)"))
        for g in sorted({r["group"] for r in rows}):
            cells = []
            for split in splits:
                gr = [r for r in rows if r["group"] == g and r["split"] == split and r["features"]]
                cells.append(f"{split} n={len(gr)}: {describe(gr, shipped, DEFAULT_THRESHOLD)}" if gr else f"{split}: -")
            print(f"  {g:24} " + "  |  ".join(cells))


if __name__ == "__main__":
    main()
