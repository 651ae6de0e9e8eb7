"""Passage and sentence vectors for a build, run by torch without sentence-transformers.

`TokenStatesEncoder` is what the build engines share (this torch one, and OpenVINO's in
openvino_encode.py, the default where it is installed): tokenizer, batches, pooling.

Answer selection needs a vector per sentence, and embedding each sentence on its own doubles a
build's model work. `encode` can also pool each sentence's vector from its passage's own token
states (the mean over the sentence's tokens, found through the tokenizer's offset mapping:
"late chunking"), so one forward pass gives a passage and all its sentences; a sentence the
passage's 512 tokens do not reach is embedded alone. It halves the work but lowered answer
accuracy on the shared question sets (BENCHMARKS.md), so builds use it only when asked.

Speed on a CPU: the whole model in bfloat16 where the CPU has native bf16 (AVX512-BF16, AMX:
2.5-3x faster than float32 here, vectors at cosine > 0.9999 to float32's; emulated bf16 would
be slower than float32, so other CPUs run float32); batches of similar length;
tokenisation of the next batch in a second thread while the model runs the current one.
"""
from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from docqa.index.token_batch import padded

PRECISIONS = ("auto", "bf16", "fp32")


def cpu_has_bf16() -> bool:
    """Native bf16 arithmetic; without it torch emulates bf16 and is slower than float32."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if cpu_has_bf16() else "fp32"
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
    """What every build engine shares: the tokenizer, length-sorted batches, tokenisation of the
    next batch in a second thread, and pooling (the text, and each character span) from the last
    layer's token states. An engine supplies `dim` and `_states`."""

    dim: int

    def __init__(self, model_dir: Path, *, max_tokens: int = 512):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_tokens)
        self.pad_id = self.tokenizer.token_to_id("<pad>") or 0

    def _tokenize(self, texts: Sequence[str]):
        encs = self.tokenizer.encode_batch(list(texts))
        ids, mask = padded(encs, self.pad_id, self.pad_multiple)
        return encs, ids, mask

    in_flight = 1
    """Batches the engine runs at once (`_start` before the oldest one's `_finish`)."""
    pad_multiple = 1
    """Batch widths are rounded up to this many tokens (kernels that work in tiles)."""
    max_batch_chars: int | None = None
    """A cap on a batch's padded characters (`batch_size` × 512 otherwise)."""

    def _start(self, ids: np.ndarray, mask: np.ndarray):
        """Start the forward pass of one batch; its states come from `_finish` on what this returns."""
        return self._states(ids, mask)

    def _finish(self, started) -> np.ndarray:
        """Float32 [batch, tokens, dim]: read before the next `_start`, which may reuse its memory."""
        return started

    def _states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        raise NotImplementedError

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
        another way. `on_batch(n)` is called after each batch of n texts.
        """
        spans = spans if spans is not None else [[] for _ in texts]
        out = np.empty((len(texts), self.dim), np.float32)
        span_out: list[np.ndarray] = [np.empty((0, self.dim), np.float32)] * len(texts)
        if not texts:
            return out, span_out
        order = np.argsort([-len(t) for t in texts], kind="stable")  # longest first: the ETA errs high
        budget = batch_size * _TOKENS_PER_TEXT
        batches = _batches(order, [len(t) for t in texts], min(budget, self.max_batch_chars or budget))

        def pool(batch, encs, mask, started) -> None:
            states = self._finish(started)
            m = mask[..., None].astype(np.float32)
            pooled = (states * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            out[batch] = _normalise(pooled)
            for row, i in enumerate(batch):
                if spans[i]:
                    span_out[i] = _pool_spans(states[row], encs[row].offsets, encs[row].special_tokens_mask,
                                              spans[i])
            if on_batch:
                on_batch(len(batch))

        running: deque = deque()
        with ThreadPoolExecutor(1, thread_name_prefix="docqa-tokenize") as tokenizer:
            pending = tokenizer.submit(self._tokenize, [texts[i] for i in batches[0]])
            for n, batch in enumerate(batches):
                encs, ids, mask = pending.result()
                if n + 1 < len(batches):
                    pending = tokenizer.submit(self._tokenize, [texts[i] for i in batches[n + 1]])
                running.append((batch, encs, mask, self._start(ids, mask)))
                if len(running) >= self.in_flight:
                    pool(*running.popleft())
            while running:
                pool(*running.popleft())
        return out, span_out


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
_MAX_BATCH = 256


def _batches(order: np.ndarray, lengths: list[int], budget: int) -> list[np.ndarray]:
    """Consecutive runs of `order` (longest first) of about `budget` padded characters each:
    a batch of short sentences holds many more texts than a batch of full passages, so each
    forward pass does a similar amount of work and few passes are spent on overhead."""
    out, i = [], 0
    while i < len(order):
        width = max(1, min(lengths[order[i]], _TOKENS_PER_TEXT))
        n = max(1, min(_MAX_BATCH, budget // width))
        out.append(order[i:i + n])
        i += n
    return out


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
