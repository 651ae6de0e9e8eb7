"""Passage and sentence vectors for a build, run by torch without sentence-transformers.

`TokenStatesEncoder` is what the build engines share (this torch one, and OpenVINO's in
index/embedding/engines/openvino_build.py, the default where it is installed): tokenizer, batches, pooling.

Answer selection needs a vector per sentence, and embedding each sentence on its own doubles a
build's model work. `encode` can also pool each sentence's vector from its passage's own token
states (the mean over the sentence's tokens, found through the tokenizer's offset mapping:
"late chunking"), so one forward pass gives a passage and all its sentences; a sentence the
passage's 512 tokens do not reach is embedded alone. It halves the work but lowered answer
accuracy on the shared question sets (BENCHMARKS.md), so builds use it only when asked.

Speed on a CPU: the whole model in bfloat16 where the CPU has native bf16 (AVX512-BF16, AMX:
2.5-3x faster than float32 here, vectors at cosine > 0.9999 to float32's; emulated bf16 would
be slower than float32, so other CPUs run float32); batches of similar length, short texts
packed several to a row where the engine's graph allows it (`index/embedding/batches.py`); tokenisation of
the next wave of texts in a second thread while the model runs the current one.
"""
from __future__ import annotations

import logging
import os
import sys
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from docqa.index.embedding.batches import Rows, group_rows, lay_out, pack_rows

PRECISIONS = ("auto", "bf16", "fp32")


def cpu_has_bf16() -> bool:
    """Native bf16 arithmetic; without it torch emulates bf16 and is slower than float32."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_precision(precision: str) -> str:
    """The precision the CPU will really run. An explicit "bf16" on a CPU without native bf16
    runs float32 (OpenVINO falls back to f32 there, and torch's emulated bf16 is slower than
    float32), and says so, so the precision reported is the one that ran."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if cpu_has_bf16() else "fp32"
    if precision == "bf16" and not cpu_has_bf16():
        logging.getLogger("docqa").warning(
            "bf16 was asked for, but this CPU has no native bf16 (AVX-512 BF16 or AMX): running float32")
        return "fp32"
    return precision


def quiet_transformers() -> None:
    """No "Loading weights" bars or load reports on every command."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except Exception:  # noqa: BLE001 - only cosmetics
        pass


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


class TorchEncoder(TokenStatesEncoder):
    """A BERT-style encoder folder (config.json, model.safetensors, tokenizer.json) run by torch."""

    def __init__(self, model_dir: Path, *, precision: str = "auto", max_tokens: int = 512):
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import torch

        quiet_transformers()
        from transformers import AutoModel

        super().__init__(model_dir, max_tokens=max_tokens)
        self.torch = torch
        self.precision = resolve_precision(precision)
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
        self.model = AutoModel.from_pretrained(str(model_dir), local_files_only=True, dtype=dtype).eval()
        self.dim = int(self.model.config.hidden_size)

    def _states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            out = self.model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
        return out.last_hidden_state.float().numpy()


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


def progress_bar(total: int, *, enabled: bool, desc: str):
    """A tqdm bar with an ETA on a terminal; nothing when stderr is not one or `enabled` is off."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="text", file=sys.stderr, dynamic_ncols=True, leave=False,
                disable=True if not enabled else None, smoothing=0.1)
