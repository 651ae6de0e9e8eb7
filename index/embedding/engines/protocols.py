"""The two contracts an engine keeps: a question encoder and a passage encoder.

`choice.py` picks the engine for each; the embedder (`index/embedding/embedder.py`) sees only
these protocols, so a new runtime is a new class that keeps one of them.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np


class QuestionEncoder(Protocol):
    """Questions to vectors, for a searcher that may batch many at once.

    The contract:
    - `dim`: the length of every vector.
    - `prepare_queries(texts)` does the per-question work that needs no model (tokenising) and
      runs in the asking thread; what it returns is opaque to the caller.
    - `encode_prepared(prepared)` runs the model on prepared questions, possibly many callers'
      together, in the one thread that runs the model; it returns float32 [len, dim] vectors,
      L2-normalised, in the order given, under the model's "query: " prompt.
    - `encode_queries(texts)` is the two in one.
    Vectors agree with the passage encoder's model at cosine >= 0.9998 on real questions.
    """

    dim: int

    def prepare_queries(self, texts: Sequence[str]) -> list[Any]: ...

    def encode_prepared(self, prepared: Sequence[Any]) -> np.ndarray: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...


class PassageEncoder(Protocol):
    """Passages (and the sentences inside them) to vectors, for a build.

    The contract:
    - `dim`: the length of every vector; `precision`: the arithmetic that really ran ("bf16" or
      "fp32"), which the embedding cache keeps apart.
    - `encode(texts, spans, batch_size=, on_batch=)` takes texts with their prompt already
      prefixed and returns (float32 [len, dim] L2-normalised mean-pooled vectors in the order
      given, and per text one vector per character span of `spans`, pooled from the same
      forward pass; a span no token of the truncated text covers is a row of NaN).
      `on_batch(n)` is called after each batch of n texts. Texts are truncated at 512 tokens.
    """

    dim: int
    precision: str

    def encode(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]] | None = None,
        *,
        batch_size: int = 16,
        on_batch: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]: ...
