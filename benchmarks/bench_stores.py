"""The directory store and the Milvus store side by side: build, open and query times at 10k and
100k passages.

    python benchmarks/bench_stores.py [--sizes 10000 100000] [--queries 100] [--uri milvus://host:19530/bench]

The corpus is synthetic: passages of random common Chinese characters cut into sentences (so
jieba, bm25s, the sentence table and the real `build_index` all run), with random 384-d vectors
(the e5-small dimension) from a mixture of Gaussians standing in for the model, whose time is the
same for both stores and is left out. The directory store is built by `build_index` (FAISS flat +
bm25s); the Milvus store by what `docqa build --store` runs: that build, then `save_store` into
Milvus (Milvus Lite in a temporary file unless --uri names a server). Queries are whole
`Searcher.search` calls (both legs, fusion, sentence scores; the question's embedding excluded),
one at a time.
"""
from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from docqa.index.store.milvus import open_store, parts_of_directory, save_store
from docqa.index.search.searcher import Searcher
from docqa.index.store.directory import build_index, load_index
from docqa.ingest.model import Corpus, Document, Passage

DIM = 384


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


class SyntheticEmbedder:
    """Stands in for the model: a text's vector is a fixed function of the text (clustered)."""

    model_name = "synthetic-384"
    dim = DIM
    prompts = {"query": "", "passage": ""}

    def __init__(self, clusters: int = 1000):
        rng = np.random.default_rng(0)
        c = rng.standard_normal((clusters, DIM)).astype(np.float32)
        self.centres = c / np.linalg.norm(c, axis=1, keepdims=True)

    def _one(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        rng = np.random.default_rng(seed)
        v = self.centres[rng.integers(len(self.centres))] + 0.05 * rng.standard_normal(DIM).astype(np.float32)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def encode_queries(self, texts):
        return np.stack([self._one(t) for t in texts]) if len(texts) else np.zeros((0, DIM), np.float32)

    def encode_passages(self, texts, *, progress=False, batch_size=16):
        return self.encode_queries(list(texts))


def synthetic_corpus(n: int, rng: np.random.Generator) -> tuple[Corpus, list[str]]:
    from docqa.ingest.encoding import common_han

    chars = np.array(sorted(common_han())[:3000])
    words = np.array(["".join(rng.choice(chars, size=int(rng.integers(2, 4)))) for _ in range(20_000)])
    p = 1.0 / np.arange(1, len(words) + 1) ** 1.07
    p /= p.sum()
    lengths = rng.integers(8, 15, size=(n, 3))
    drawn = words[rng.choice(len(words), size=int(lengths.sum()), p=p)]  # one draw: per-call choice is slow
    source, passages, pos = "", [], 0
    docs = max(1, n // 500)
    for i in range(n):
        sentences = []
        for length in lengths[i]:
            sentences.append("".join(drawn[pos:pos + length]) + "。")
            pos += length
        text = "".join(sentences)
        start = len(source)
        source += text + "\n"
        doc = f"doc{i % docs}"
        passages.append(Passage(passage_id=f"{doc}:{i:07d}", doc_id=doc, title=doc, chapter=1 + i % 20,
                                chapter_title=f"第{1 + i % 20}章", section=None, section_number=None, subsection=None,
                                heading_path=[], source="synthetic.txt", start=start, end=start + len(text), text=text))
    documents = [Document(doc_id=f"doc{d}", title=f"doc{d}", source="synthetic.txt", text="", checksum="0" * 64)
                 for d in range(docs)]
    questions = ["".join(words[rng.choice(len(words), size=4, p=p)]) + "是什么？" for _ in range(1000)]
    return Corpus(root=".", documents=documents, passages=passages), questions


def query_ms(searcher: Searcher, questions: list[str]) -> list[float]:
    searcher.search(questions[0], k=5)  # warm
    out = []
    for q in questions:
        t = time.perf_counter()
        searcher.search(q, k=5)
        out.append((time.perf_counter() - t) * 1000)
    return out


def timed(work):
    """What `work()` returns, and the seconds it took."""
    t = time.perf_counter()
    out = work()
    return out, time.perf_counter() - t


def bench(n: int, nq: int, uri: str | None, work: Path) -> list[dict]:
    rng = np.random.default_rng(n)
    corpus, questions = synthetic_corpus(n, rng)
    questions = questions[:nq]
    embedder = SyntheticEmbedder()
    folder = work / f"dir-{n}"
    _, dir_build = timed(lambda: build_index(corpus, folder, embedder, chunker={"synthetic": True},
                                             progress=False, say=None))
    local, dir_open = timed(lambda: load_index(folder))
    dir_searcher = Searcher(local, embedder)
    dir_ms = query_ms(dir_searcher, questions)
    target = uri or f"milvus-lite://{work}/bench.db/bench{n}"
    _, write = timed(lambda: save_store(parts_of_directory(local), target))
    remote, m_open = timed(lambda: open_store(target))
    m_searcher = Searcher(remote, embedder)
    m_ms = query_ms(m_searcher, questions)
    same = sum([h.passage.passage_id for h in dir_searcher.search(q, k=5)]
               == [h.passage.passage_id for h in m_searcher.search(q, k=5)] for q in questions[:20])
    return [
        {"n": n, "store": "directory (FAISS flat + bm25s)", "build_s": dir_build, "open_s": dir_open,
         "p50_ms": statistics.median(dir_ms), "p95_ms": pct(dir_ms, 95)},
        {"n": n, "store": f"milvus ({'Lite' if uri is None else uri}, FLAT + sparse IP)", "build_s": dir_build + write,
         "write_s": write, "open_s": m_open, "p50_ms": statistics.median(m_ms), "p95_ms": pct(m_ms, 95),
         "same_top5": f"{same}/{len(questions[:20])}"},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--uri", help="a Milvus server store URI (default: Milvus Lite in a temporary file)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            rows += bench(n, args.queries, args.uri, Path(tmp))
            print(f"  n={n} done", file=sys.stderr, flush=True)
    print(f"{'passages':>9} {'store':46s} {'build s':>8} {'(Milvus write s)':>16} {'open s':>7} "
          f"{'query p50 ms':>12} {'p95 ms':>7}  same top-5")
    for r in rows:
        write = f"{r['write_s']:.1f}" if "write_s" in r else ""
        print(f"{r['n']:>9} {r['store']:46s} {r['build_s']:>8.1f} {write:>16} {r['open_s']:>7.2f} "
              f"{r['p50_ms']:>12.1f} {r['p95_ms']:>7.1f}  {r.get('same_top5', '')}")


if __name__ == "__main__":
    main()
