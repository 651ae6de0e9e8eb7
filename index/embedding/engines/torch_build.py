"""Passage and sentence vectors for a build, run by torch without sentence-transformers.

The fallback build engine where OpenVINO is not installed or cannot load the model
(`choice.load_passage_encoder`). Speed on a CPU: the whole model in bfloat16 where the CPU has
native bf16 (AVX512-BF16, AMX: 2.5-3x faster than float32 here, vectors at cosine > 0.9999 to
float32's; emulated bf16 would be slower than float32, so other CPUs run float32), with the
batching of `base.TokenStatesEncoder`.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from docqa.index.embedding.engines.base import TokenStatesEncoder
from docqa.index.embedding.engines.choice import resolve_precision


def quiet_transformers() -> None:
    """No "Loading weights" bars or load reports on every command."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except Exception:  # noqa: BLE001 - only cosmetics
        pass


class TorchPassageEncoder(TokenStatesEncoder):
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
