"""Answer accuracy with passage vectors pooled from the stored sentence vectors (issue 25), from built indexes.

    python benchmarks/pooled_passages.py --book-index /tmp/answers-book --cmrc /tmp/answers-cmrc-tune \
        --drcd /tmp/answers-drcd-tune --regs /tmp/regs [--variants len,mean,lenh1] [--vectors FILE]

A build that embeds only the sentences (`encode_passages_and_sentences(passage_vectors="sentences")`,
timed by `benchmarks/bench_build.py --alternate N --pooled-passages`) would give each passage
the mean of its sentences' vectors. Here those vectors are made from each index's stored
sentence vectors and swapped in (FAISS and the hubness rebuilt from them), then every set is
asked as `benchmarks/answers.py` judges it, with the index's own passage vectors first in the
same run. Variants: "mean" (unweighted), "len" (weighted by sentence length, what the embedder
does), "...hW" (plus W times the passage's title-and-headings vector). The CMRC and DRCD
folders are tune splits (`questions.jsonl` beside `index/`); regulations use the tune split of
`benchmarks/data/regulations-lookup.jsonl` and count the first passage as
`benchmarks/regulations.py` does.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from answers import BOOK_SETS, StoredQueries, judge  # noqa: E402
from refusal import _rows  # noqa: E402


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)).astype(np.float32)


def heading_vectors(searcher, embedder) -> np.ndarray:
    from docqa.index.store.sentences import topic
    from docqa.ingest.text import normalize

    topics = [normalize(topic(p)) for p in searcher.store.passages]
    distinct = list(dict.fromkeys(t for t in topics if t))
    out = np.zeros((len(topics), embedder.dim), np.float32)
    if distinct:
        vecs = embedder.encode_passages(distinct)
        at = {t: i for i, t in enumerate(distinct)}
        for i, t in enumerate(topics):
            if t:
                out[i] = vecs[at[t]]
    return out


def pooled(searcher, kind: str, headings: np.ndarray, orig: np.ndarray) -> np.ndarray:
    st = searcher.store.sentences
    out = np.zeros_like(orig)
    weights = (st.end - st.start).astype(np.float32) if kind.startswith("len") else np.ones(len(st), np.float32)
    np.add.at(out, st.row, st.vectors * weights[:, None])
    out = unit(out)
    if "h" in kind:
        out = unit(out + float(kind.split("h")[1]) * headings)
    empty = np.bincount(st.row, minlength=len(orig)) == 0
    out[empty] = orig[empty]
    return out


def swap(searcher, vecs: np.ndarray) -> None:
    from docqa.index.store.dense import DenseVectors
    from docqa.index.store.hubness import Hubness

    hub = searcher.store.hub
    searcher.store.dense = DenseVectors.build(vecs)
    searcher.store.hub = Hubness((vecs @ hub.en_mean).astype(np.float32), (vecs @ hub.zh_mean).astype(np.float32),
                                 hub.shift, hub.en_mean, hub.zh_mean)


def regulations(searcher) -> str:
    from docqa.ingest.text import compact

    rows = [json.loads(x) for x in (HERE / "data" / "regulations-lookup.jsonl").read_text(encoding="utf-8").splitlines()
            if x.strip()]
    rows = [r for r in rows if r["split"] == "tune"]
    first = 0
    for r in rows:
        hits = [h.passage for h in searcher.ask(r["question"], k=5).hits]
        first += bool(hits) and Path(hits[0].source).name == r["gold_source"] and \
            compact(r["gold_text"]) in compact(hits[0].text)
    return f"tune first passage {first / len(rows):.3f} n={len(rows)}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--book-index", type=Path, required=True)
    ap.add_argument("--cmrc", type=Path)
    ap.add_argument("--drcd", type=Path)
    ap.add_argument("--regs", type=Path, help="an index of ../shared/corpus/regulations")
    ap.add_argument("--variants", default="len,lenh1")
    ap.add_argument("--vectors", type=Path, help="keep the encoded questions here between runs")
    args = ap.parse_args()

    from docqa.index.search.searcher import Searcher

    book = Searcher.open(args.book_index)
    embedder = StoredQueries(book.embedder, args.vectors)
    book.embedder = embedder
    targets = {"book": book}
    for name in ("cmrc", "drcd"):
        if getattr(args, name):
            targets[name] = Searcher.open(getattr(args, name) / "index", embedder=embedder,
                                          refusal_threshold=book.refusal_threshold)
    if args.regs:
        targets["regs"] = Searcher.open(args.regs, embedder=embedder)
    for name, searcher in targets.items():
        orig = searcher.store.dense.index.reconstruct_n(0, searcher.store.dense.size)
        headings = heading_vectors(searcher, embedder.inner)
        for variant in ["embedded", *args.variants.split(",")]:
            vecs = orig if variant == "embedded" else pooled(searcher, variant, headings, orig)
            swap(searcher, vecs)
            t = time.perf_counter()
            if name == "book":
                parts = []
                for set_name, path in BOOK_SETS:
                    if path.is_file():
                        res = [judge(searcher, r) for r in _rows(path)]
                        parts.append(f"{set_name} {sum(r['correct'] for r in res) / len(res):.3f}")
                line = " ".join(parts)
            elif name == "regs":
                line = regulations(searcher)
            else:
                res = [judge(searcher, r) for r in _rows(getattr(args, name) / "questions.jsonl")]
                line = (f"answer {sum(r['correct'] for r in res) / len(res):.3f} "
                        f"refused {sum(r['refused'] for r in res)} n={len(res)}")
            cos = float(np.mean(np.sum(vecs * orig, axis=1)))
            print(f"{name:5} {variant:9} cos to embedded {cos:.3f}  {line}  ({time.perf_counter() - t:.0f} s)", flush=True)
        swap(searcher, orig)
    embedder.save()


if __name__ == "__main__":
    main()
