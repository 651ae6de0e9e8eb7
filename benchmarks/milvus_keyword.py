"""Which Milvus keyword leg matches docqa's embedded one (bm25s over docqa's tokenizer)?

Two candidates, both in Milvus Lite, each compared with `DirectoryStore.keyword_search` on the
same questions (top 10 each):

- "milvus-bm25": Milvus's BM25 function over the passages' indexed text, with its jieba
  analyzer (search mode), with and without docqa's corpus terms in its dictionary;
- "docqa-sparse": docqa's tokens with bm25s's weights in a sparse field, searched by inner
  product (what `docqa.index.store.milvus` does).

Printed per candidate: the share of questions whose first keyword hit is the embedded leg's,
the mean overlap of the top 10, and the share with an identical top-10 list.

    python benchmarks/milvus_keyword.py --index /tmp/cmrc/index --questions /tmp/cmrc/questions.jsonl
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from docqa.index.store.protocol import Where
from docqa.index.store.milvus import migrate, open_store
from docqa.index.store.directory import indexed_text, load_index
from docqa.ingest.text import normalize

K = 10


def bm25_function_collection(client, name: str, texts: list[str], terms: list[str] | None) -> None:
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    tokenizer = {"type": "jieba", "mode": "search", **({"dict": terms} if terms else {})}
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                     analyzer_params={"tokenizer": tokenizer})
    schema.add_field("bm25", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("pad", DataType.FLOAT_VECTOR, dim=2)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                 output_field_names=["bm25"]))
    index = client.prepare_index_params()
    index.add_index("bm25", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    index.add_index("pad", index_type="FLAT", metric_type="IP")
    client.create_collection(name, schema=schema, index_params=index)
    for lo in range(0, len(texts), 1000):
        client.insert(name, [{"row": i, "text": texts[i], "pad": [1.0, 0.0]} for i in range(lo, min(len(texts), lo + 1000))])
    client.flush(name)
    client.load_collection(name)


def compare(reference: list[list[int]], candidate: list[list[int]]) -> dict[str, float]:
    top1 = np.mean([r[:1] == c[:1] for r, c in zip(reference, candidate)])  # both empty: they agree
    overlap = np.mean([len(set(r) & set(c)) / max(len(r), len(c), 1) if r or c else 1.0
                       for r, c in zip(reference, candidate)])
    same = np.mean([r == c for r, c in zip(reference, candidate)])
    return {"top1_agree": round(float(top1), 3), "overlap@10": round(float(overlap), 3), "same_top10": round(float(same), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in args.questions.read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    local = load_index(args.index)
    reference = [list(map(int, local.keyword_search(local.tokenize(q), K, Where()).rows)) for q in questions]
    from pymilvus import MilvusClient

    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        uri = f"milvus-lite://{tmp}/kw.db/shelf"
        migrate(args.index, uri)
        store = open_store(uri)
        t0 = time.perf_counter()
        got = [list(map(int, store.keyword_search(store.tokenize(q), K, Where()).rows)) for q in questions]
        results["docqa-sparse"] = {**compare(reference, got), "ms_per_query": round(1000 * (time.perf_counter() - t0) / len(questions), 1)}
        client = MilvusClient(f"{tmp}/kw.db")
        texts = [normalize(indexed_text(p)) for p in local.passages]
        for name, terms in (("milvus_bm25_jieba", None), ("milvus_bm25_jieba_terms", local.keyword.tokenizer.terms)):
            bm25_function_collection(client, name, texts, terms)
            t0 = time.perf_counter()
            got = []
            for q in questions:
                res = client.search(name, data=[normalize(q)], anns_field="bm25", limit=K, output_fields=["row"])
                got.append([int(h["entity"]["row"]) for h in res[0]])
            results[name] = {**compare(reference, got),
                             "ms_per_query": round(1000 * (time.perf_counter() - t0) / len(questions), 1)}
    print(f"{len(questions)} questions, {len(local.passages)} passages; agreement with the embedded keyword leg "
          f"(bm25s over docqa's tokenizer), top {K}:")
    for name, r in results.items():
        print(f"  {name:26s} top-1 agree {r['top1_agree']:.3f}  overlap@10 {r['overlap@10']:.3f}  "
              f"identical top-10 {r['same_top10']:.3f}  {r['ms_per_query']} ms/query")


if __name__ == "__main__":
    main()
