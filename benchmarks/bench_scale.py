"""How search cost grows with the corpus: 10k, 100k, 1M passages, on synthetic data.

    python benchmarks/bench_scale.py [--sizes 10000 100000 1000000] [--queries 200] [--k 100] [--skip-bm25]

Vector side: random unit 384-d vectors (the e5-small dimension) in the two FAISS indexes
`index/store/dense.py` builds (`DenseVectors.build`: exact IndexFlatIP, approximate HNSW M=32,
efConstruction=80, efSearch=128); build time, size on disk, single-query latency for the top 100
(what `Searcher` asks FAISS for: twice its pool of 50 candidates), and recall@10 of HNSW against
exact search.
"uniform" vectors have no structure at all, the worst case for HNSW (every neighbour is about
as far as any other); "clustered" ones (a mixture of Gaussians) are closer to real embeddings.

Keyword side: synthetic token documents with Zipf-distributed terms and the bundled book's
passage length (about 130 tokens), indexed with bm25s as `build_index` does; build time, size on
disk, and the latency of `KeywordIndex.search` (BM25 scores of every document + top 50).
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


from docqa.index.store.dense import DenseVectors  # noqa: E402
from docqa.index.store.keyword import KeywordIndex  # noqa: E402
from docqa.index.ranking import RankingSettings  # noqa: E402
from docqa.index.store.tokenize import Tokenizer  # noqa: E402

DIM = 384
TOP = RankingSettings().candidate_pool  # candidates each leg proposes
DENSE_K = RankingSettings().dense_overfetch * TOP  # what FAISS is asked for before the hubness rescoring
THREADS = os.cpu_count() or 1


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def unit(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def vectors(n: int, kind: str, rng: np.random.Generator, chunk: int = 100_000) -> np.ndarray:
    out = np.empty((n, DIM), dtype=np.float32)
    centres = unit(rng.standard_normal((max(1, n // 100), DIM), dtype=np.float32)) if kind == "clustered" else None
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        block = rng.standard_normal((b - a, DIM), dtype=np.float32)
        if centres is not None:
            block = centres[rng.integers(0, len(centres), b - a)] + 0.03 * block
        out[a:b] = unit(block)
    return out


def queries(base: np.ndarray, n: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "uniform":
        return unit(rng.standard_normal((n, DIM), dtype=np.float32))
    # A question lands near some passage, not on it.
    picks = base[rng.integers(0, len(base), n)]
    return unit(picks + 0.02 * rng.standard_normal(picks.shape, dtype=np.float32))


def file_size(index, work: Path) -> int:
    import faiss

    path = work / "index.faiss"
    faiss.write_index(index, str(path))
    size = path.stat().st_size
    path.unlink()
    return size


def single_query_ms(index, qs: np.ndarray, k: int, threads: int) -> list[float]:
    """One query at a time, as `Searcher` sends them, with FAISS's OpenMP team at `threads`."""
    import faiss

    default = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        out = []
        for q in qs:
            t = time.perf_counter()
            index.search(q[None, :], k)
            out.append((time.perf_counter() - t) * 1000)
        return out
    finally:
        faiss.omp_set_num_threads(default)


def recall_at_10(exact: np.ndarray, approx: np.ndarray) -> float:
    return float(np.mean([len(set(e[:10]) & set(a[:10])) / 10 for e, a in zip(exact, approx)]))


def light_hnsw(vectors: np.ndarray, m: int, ef_construction: int):
    """`DenseVectors.build(..., "hnsw")` with a smaller graph, for sizes where its own build takes too long."""
    import faiss

    index = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    index.hnsw.efSearch = 128
    index.add(vectors)
    return index


def recall_at_ef(index, qs: np.ndarray, exact: np.ndarray, ef: int) -> float:
    import faiss

    _, approx = index.search(qs, 10, params=faiss.SearchParametersHNSW(efSearch=ef))
    return recall_at_10(exact, approx)


def bench_vectors(n: int, kind: str, nq: int, work: Path, light: tuple[int, int] | None, rng,
                  args_k: int = DENSE_K) -> list[dict]:
    t = time.perf_counter()
    base = vectors(n, kind, rng)
    gen_s = time.perf_counter() - t
    qs = queries(base, nq, kind, rng)
    rows = []

    t = time.perf_counter()
    flat = DenseVectors.build(base, "flat").index
    flat_build = time.perf_counter() - t
    lat = single_query_ms(flat, qs, args_k, THREADS)
    lat1 = single_query_ms(flat, qs, args_k, 1)
    _, exact = flat.search(qs, 10)
    rows.append({"n": n, "data": kind, "index": "flat (exact)", "build_s": flat_build, "bytes": file_size(flat, work),
                 "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "p50_1t_ms": pct(lat1, 50), "p99_1t_ms": pct(lat1, 99),
                 "recall@10": 1.0,
                 "recall@10_ef512": 1.0})
    del flat
    gc.collect()

    t = time.perf_counter()
    if light:
        hnsw = light_hnsw(base, *light)
        label = f"HNSW M={light[0]} efC={light[1]} efS=128 (lighter build)"
    else:
        hnsw = DenseVectors.build(base, "hnsw").index
        label = "HNSW M=32 efC=80 efS=128"
    hnsw_build = time.perf_counter() - t
    lat = single_query_ms(hnsw, qs, args_k, THREADS)
    lat1 = single_query_ms(hnsw, qs, args_k, 1)
    _, approx = hnsw.search(qs, 10)
    rows.append({"n": n, "data": kind, "index": label, "build_s": hnsw_build,
                 "bytes": file_size(hnsw, work), "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
                 "p50_1t_ms": pct(lat1, 50), "p99_1t_ms": pct(lat1, 99),
                 "recall@10": recall_at_10(exact, approx), "recall@10_ef512": recall_at_ef(hnsw, qs, exact, 512)})
    del hnsw, base
    gc.collect()
    print(f"  vectors n={n} {kind}: generated in {gen_s:.1f}s", file=sys.stderr, flush=True)
    return rows


def zipf_probabilities(vocab: int, s: float = 1.07) -> np.ndarray:
    p = 1.0 / np.arange(1, vocab + 1) ** s
    return p / p.sum()


def bench_bm25(n: int, nq: int, work: Path, rng) -> dict:
    import bm25s

    vocab_size = int(min(400_000, 200 * math.sqrt(n)))  # Heaps' law: vocabulary grows like sqrt(tokens)
    p = zipf_probabilities(vocab_size)
    lengths = rng.integers(60, 200, n)
    flat_ids = rng.choice(vocab_size, size=int(lengths.sum()), p=p).astype(np.int64)
    ints = list(range(vocab_size))  # one int object per id, shared by every document
    docs, pos = [], 0
    for length in lengths:
        docs.append(tuple(ints[i] for i in flat_ids[pos:pos + length]))
        pos += length
    del flat_ids
    vocab = {f"t{i}": i for i in range(vocab_size)}

    t = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index((docs, vocab), show_progress=False)
    build_s = time.perf_counter() - t
    del docs
    gc.collect()
    path = work / "bm25"
    retriever.save(str(path), show_progress=False)
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    shutil.rmtree(path)

    keyword = KeywordIndex(Tokenizer(), retriever)
    qtokens = [[f"t{i}" for i in rng.choice(vocab_size, size=int(rng.integers(3, 9)), p=p)] for _ in range(nq)]
    lat = []
    for tokens in qtokens:
        t = time.perf_counter()
        keyword.search(tokens, TOP, None)
        lat.append((time.perf_counter() - t) * 1000)
    return {"n": n, "vocab": vocab_size, "tokens": int(lengths.sum()), "build_s": build_s, "bytes": size,
            "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}


def main() -> None:
    import faiss

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=DENSE_K, help="FAISS results per query")
    parser.add_argument("--clustered-max", type=int, default=100_000, help="also run clustered data up to this size")
    parser.add_argument("--light-hnsw-from", type=int, default=1_000_000,
                        help="from this size on, build HNSW with --light-hnsw M,efC (the default graph takes too long)")
    parser.add_argument("--light-hnsw", default="16,40")
    parser.add_argument("--skip-bm25", action="store_true")
    parser.add_argument("--skip-vectors", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    work = Path(tempfile.mkdtemp(prefix="docqa-bench-scale-"))
    print(f"faiss {faiss.__version__}, omp threads {faiss.omp_get_max_threads()}, "
          f"load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    vec_rows, bm25_rows = [], []
    try:
        for n in args.sizes:
            if not args.skip_vectors:
                for kind in ("uniform", "clustered") if n <= args.clustered_max else ("uniform",):
                    light = tuple(map(int, args.light_hnsw.split(","))) if n >= args.light_hnsw_from else None
                    vec_rows += bench_vectors(n, kind, args.queries, work, light, rng, args.k)
                    r = vec_rows[-1]
                    print(f"  {n} {kind}: flat {vec_rows[-2]['p50_ms']:.2f} ms, hnsw {r['p50_ms']:.2f} ms "
                          f"(build {r['build_s']:.0f}s), recall@10 {r['recall@10']:.3f}", file=sys.stderr, flush=True)
            if not args.skip_bm25:
                bm25_rows.append(bench_bm25(n, args.queries, work, rng))
                print(f"  {n} bm25: {bm25_rows[-1]}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    if vec_rows:
        print(f"\nFAISS, {DIM}-d unit vectors, single query, top {args.k} (ms, {THREADS} OpenMP threads unless said); "
              "recall@10 against exact search")
        print("| passages | data | index | build s | size MB | p50 ms | p99 ms | p50 ms, 1 thread | p99 ms, 1 thread "
              "| recall@10 | recall@10, efS=512 |")
        print("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in vec_rows:
            print(f"| {r['n']:,} | {r['data']} | {r['index']} | {r['build_s']:.1f} | {r['bytes'] / 1e6:.1f} | "
                  f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['p50_1t_ms']:.2f} | {r['p99_1t_ms']:.2f} | {r['recall@10']:.3f} | "
                  f"{r['recall@10_ef512']:.3f} |")
        builds = {(r["n"], r["data"]): r["build_s"] for r in vec_rows if r["index"].startswith("HNSW M=32")}
        known = sorted(n for n, d in builds if d == "uniform")
        if known and max(known) < max(args.sizes):
            n0, n1 = known[-1], max(args.sizes)
            t1 = builds[(n0, "uniform")] * (n1 / n0) * math.log(n1) / math.log(n0)
            print(f"\nHNSW M=32 efC=80 at {n1:,} uniform, not built: extrapolated from {n0:,} as N log N: "
                  f"about {t1:.0f}s ({t1 / 60:.0f} min) to build")
    if bm25_rows:
        print(f"\nBM25 (bm25s), Zipf tokens, 60-200 per passage; `KeywordIndex.search`: all scores + top {TOP}")
        print("| passages | tokens | vocabulary | build s | size MB | p50 ms | p99 ms |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for r in bm25_rows:
            print(f"| {r['n']:,} | {r['tokens']:,} | {r['vocab']:,} | {r['build_s']:.1f} | {r['bytes'] / 1e6:.1f} | "
                  f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} |")
    print(f"\nload average at the end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    if args.json:
        args.json.write_text(json.dumps({"vectors": vec_rows, "bm25": bm25_rows}, indent=2))


if __name__ == "__main__":
    main()
