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
from pathlib import Path

import numpy as np

from docqa.index.embedding.engines.base import BatchedQueryEncoder


class OnnxQuestionEncoder(BatchedQueryEncoder):
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
