"""Question vectors through ONNX Runtime: no torch on the query path, and batches that pay.

The session runs `query.onnx` (`onnx_graph.ensure_query_model`: 4-bit weights mapped from
disk) with the light tokenizer of `index/embedding/unigram.py`, so the engine adds about 60 MB to a process
instead of the ~540 MB of the float graph and `tokenizers`. Its threads never spin: ONNX
Runtime's default spin-wait keeps a core busy between calls, which on a shared 2-core machine
turns a 20 ms question into hundreds of milliseconds for whoever else runs. The memory arena
and memory pattern are off: a server's batches vary in shape, and an arena keeps the largest
one's buffers for good.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np


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


class OnnxEncoder(BatchedQueryEncoder):
    """Tokenizer + ONNX Runtime session for the default model's folder."""

    def __init__(self, model_dir: Path, *, threads: int | None = None, max_tokens: int = 512):
        import onnxruntime as ort

        from docqa.index.embedding.model.onnx_graph import ensure_query_model, model_files
        from docqa.index.embedding.unigram import UnigramTokenizer

        model_dir = Path(model_dir)
        with model_files(f"prepare the question model in {model_dir}"):
            graph, vocab = ensure_query_model(model_dir)
            self.tokenizer = UnigramTokenizer.load(vocab, max_tokens=max_tokens)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or os.cpu_count() or 1  # one batched forward on every core
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.enable_cpu_mem_arena = False
        opts.enable_mem_pattern = False
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
        opts.log_severity_level = 3
        with model_files(f"load {graph}"):
            self.session = ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    def _forward(self, rows: list[list[int]]) -> np.ndarray:
        ids, mask = self.tokenizer.pad(rows)
        return self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
