"""What the engines share: the question engines' batching, the build engines' token states.

`BatchedQueryEncoder` (ONNX Runtime's and OpenVINO's question engines) tokenises questions in the
asking thread and runs them in batches of similar length. `TokenStatesEncoder` (OpenVINO's and
torch's build engines) lays texts out in length-sorted batches (`index/embedding/batches.py`),
tokenises the next wave of texts in a second thread while the model runs this one, and pools a
vector for each text, and for each character span inside it, from the last layer's token states.

Pooling a sentence's vector from its passage's token states (the mean over the sentence's
tokens, found through the tokenizer's offset mapping) is what a build's "pooled" context
vectors are (`RankingSettings.context_vectors`): one forward pass gives a passage and its
sentences read in it; a sentence the passage's 512 tokens do not reach is embedded alone.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from docqa.index.embedding.batches import Rows, group_rows, lay_out, pack_rows


class BatchedQueryEncoder:
    """What the question engines share: questions tokenised in the asking thread, then sent
    through the model in batches of similar length. A subclass sets `tokenizer` and `dim` and
    runs one batch in `_forward`."""

    tokenizer = None
    dim: int

    def prepare_queries(self, texts: Sequence[str], prompt: str = "query: ") -> list[list[int]]:
        """Token ids of each question, stripped as sentence-transformers strips it. Runs in the
        asking thread, so the one thread that runs the model only runs the model."""
        return [self.tokenizer.encode((prompt + t).strip()) for t in texts]

    def encode_prepared(self, rows: Sequence[list[int]], batch_size: int = 64) -> np.ndarray:
        """Vectors of tokenised texts; texts of similar length share a forward pass (the shorter
        ones padded to the longest)."""
        if not rows:
            return np.zeros((0, self.dim), np.float32)
        order = np.argsort([len(r) for r in rows], kind="stable")
        out = np.empty((len(rows), self.dim), np.float32)
        for start in range(0, len(rows), batch_size):
            chunk = order[start:start + batch_size]
            out[chunk] = self._forward([rows[i] for i in chunk])
        return out

    def _forward(self, rows: list[list[int]]) -> np.ndarray:
        raise NotImplementedError

    def encode_queries(self, texts: Sequence[str], prompt: str = "query: ") -> np.ndarray:
        return self.encode_prepared(self.prepare_queries(texts, prompt))

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self.encode_prepared(self.prepare_queries(texts, ""), batch_size)


class TokenStatesEncoder:
    """What every build engine shares: the tokenizer, texts laid out in length-sorted batches
    (`index/embedding/batches.py`), tokenisation of the next wave of texts in a second thread, and pooling
    (the text, and each character span) from the last layer's token states. An engine supplies
    `dim` and `_states` (or `_start` and `_finish`)."""

    dim: int

    def __init__(self, model_dir: Path, *, max_tokens: int = 512):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_tokens)
        self.pad_id = self.tokenizer.token_to_id("<pad>") or 0

    in_flight = 1
    """Batches the engine runs at once (`_start` before the oldest one's `_finish`)."""
    pad_multiple = 1
    """Batch widths are rounded up to this many tokens (kernels that work in tiles)."""
    pack_tokens = 0
    """Rows of up to this many tokens hold several short texts (an engine whose graph reads
    `Rows.segments` and `Rows.positions`); 0: a row per text, `Rows.segments` is the mask."""
    max_batch_tokens: int | None = None
    """A cap on a batch's padded tokens (`batch_size` × 512 otherwise)."""

    def _start(self, rows: Rows):
        """Start the forward pass of one batch; its states come from `_finish` on what this returns."""
        return self._states(rows.ids, rows.segments)

    def _finish(self, started) -> np.ndarray:
        """Float32 [rows, tokens, dim]: read before the next `_start`, which may reuse its memory."""
        return started

    def _states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _tokenize(self, texts: Sequence[str], spans, first: int, stop: int):
        """Token ids of texts[first:stop], and the offsets of those that have spans to pool."""
        ids, offsets = [], {}
        for i, enc in enumerate(self.tokenizer.encode_batch(list(texts[first:stop])), first):
            ids.append(np.asarray(enc.ids, np.int64))
            if spans[i]:
                offsets[i] = (enc.offsets, enc.special_tokens_mask)
        return ids, offsets

    def encode(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]] | None = None,
        *,
        batch_size: int = 16,
        on_batch: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Normalised mean-pooled vectors of `texts` and, per text, one vector per character span.

        A span no token of the (truncated) text covers gets a row of NaN; the caller embeds it
        another way. `on_batch(n)` is called after each batch of n texts. Texts are tokenised
        and laid out in waves of `_WAVE`, the next wave tokenised while the model runs this one,
        so memory stays flat on any corpus (callers pass texts sorted by length)."""
        spans = spans if spans is not None else [[] for _ in texts]
        out = np.empty((len(texts), self.dim), np.float32)
        span_out: list[np.ndarray] = [np.empty((0, self.dim), np.float32)] * len(texts)
        if not texts:
            return out, span_out
        budget = batch_size * _TOKENS_PER_TEXT
        if self.max_batch_tokens:
            budget = min(budget, self.max_batch_tokens)

        def pool(rows: Rows, offsets: dict, started) -> None:
            states = self._finish(started)
            for i, r, a, n in zip(rows.texts, rows.row.tolist(), rows.start.tolist(), rows.length.tolist()):
                own = states[r, a:a + n]
                out[i] = own.mean(axis=0)
                if spans[i]:
                    span_out[i] = _pool_spans(own, *offsets[i], spans[i])
            if on_batch:
                on_batch(len(rows.texts))

        running: deque = deque()
        with ThreadPoolExecutor(1, thread_name_prefix="docqa-tokenize") as tokenizer:
            pending = tokenizer.submit(self._tokenize, texts, spans, 0, min(_WAVE, len(texts)))
            for first in range(0, len(texts), _WAVE):
                ids, offsets = pending.result()
                stop = first + _WAVE
                if stop < len(texts):
                    pending = tokenizer.submit(self._tokenize, texts, spans, stop, min(stop + _WAVE, len(texts)))
                lengths = [len(t) for t in ids]
                for batch in group_rows(pack_rows(lengths, self.pack_tokens), lengths, budget=budget,
                                        multiple=self.pad_multiple):
                    rows = lay_out(batch, ids, self.pad_id, self.pad_multiple, first=first)
                    running.append((rows, offsets, self._start(rows)))
                    if len(running) >= self.in_flight:
                        pool(*running.popleft())
            while running:
                pool(*running.popleft())
        return _normalise(out), span_out


_TOKENS_PER_TEXT = 512
_WAVE = 4096
"""Texts tokenised and laid out at a time."""


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


def _pool_spans(states: np.ndarray, offsets, special, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """Mean of the token states whose characters overlap each span, normalised."""
    n = len(offsets)
    starts = np.array([a for a, _ in offsets], np.int64)
    ends = np.array([b for _, b in offsets], np.int64)
    real = np.array(special, bool) == 0
    starts, ends = np.where(real, starts, -1), np.where(real, ends, -1)
    csum = np.concatenate([np.zeros((1, states.shape[1]), np.float64), np.cumsum(states[:n], axis=0, dtype=np.float64)])
    # Real tokens' offsets increase along the sequence, so each span is a contiguous token range.
    out = np.full((len(spans), states.shape[1]), np.nan, np.float32)
    for j, (s, e) in enumerate(spans):
        hit = np.flatnonzero((starts < e) & (ends > s))
        if len(hit):
            a, b = hit[0], hit[-1] + 1
            out[j] = (csum[b] - csum[a]) / (b - a)
    ok = ~np.isnan(out[:, 0])
    out[ok] = _normalise(out[ok])
    return out
