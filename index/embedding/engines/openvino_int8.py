"""The build graph with its matrix products in int8, for OpenVINO on a CPU with native bf16.

A build's time is nearly all forward passes, and on a 2-core Xeon the bf16 graph already runs
its matrix products on AMX: what is left to gain is the products' own arithmetic, which int8
halves. NNCF's post-training quantisation (symmetric activations, `PERFORMANCE` preset, with
its SmoothQuant and bias correction for transformers) turns `build.onnx` into `build-int8.xml`
once per model folder, calibrated on the bundled book's passages and sentences and the
hubness's generic questions in both languages; the layers it leaves alone stay bf16.

Measured here (BENCHMARKS.md, "An int8 build graph"): a build's embedding 0.80-0.86x the time
of the bf16 graph; vectors at cosine 0.9989 (mean) to bf16's on unseen Chinese text and 0.9975
on English; the book sets' answers identical, CMRC's 0.879 against 0.881.

NNCF is imported only to write the graph; an int8 build without it, or whose graph cannot be
made, stops with one line that says so (`openvino_build._int8_graph`).
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from docqa.index.embedding.model.onnx_graph import POSITIONS_INPUT, SEGMENTS_INPUT, add_model_files
from docqa.index.embedding.batches import group_rows, lay_out, pack_rows

BUILD_INT8 = "build-int8.xml"
BUILD_INT8_WEIGHTS = "build-int8.bin"
CALIBRATION_WINDOW = 350
"""Characters per calibration passage: about a passage of a build."""

def nncf_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("nncf") is not None


def calibration_texts() -> list[str]:
    """Text like a build's: the bundled book in passage-sized windows (overlapping by half, for
    more of them) and its sentences, with the passage prompt, and the generic questions in both
    languages with the query prompt."""
    from docqa.corpus import bundled_files
    from docqa.index.store.hubness import LANGUAGE_PAIRS
    from docqa.ingest.text import normalize, sentence_spans

    texts = []
    for path in bundled_files():
        body = normalize(path.read_text(encoding="utf-8"))
        texts += ["passage: " + body[i:i + CALIBRATION_WINDOW] for i in range(0, len(body), CALIBRATION_WINDOW // 2)]
        texts += ["passage: " + body[s:e] for s, e in sentence_spans(body)]
    pairs = [line.split("\t") for line in LANGUAGE_PAIRS.read_text(encoding="utf-8").splitlines() if "\t" in line]
    texts += ["query: " + q.strip() for pair in pairs for q in pair]
    return [t for t in texts if t.strip()]


def calibration_rows(encoder, texts: list[str]) -> Iterator[dict[str, np.ndarray]]:
    """`texts` as the encoder lays out a build's batches (`TokenStatesEncoder.encode`)."""
    ids = [np.asarray(e.ids, np.int64) for e in encoder.tokenizer.encode_batch(texts)]
    lengths = [len(t) for t in ids]
    for batch in group_rows(pack_rows(lengths, encoder.pack_tokens), lengths, budget=encoder.max_batch_tokens,
                            multiple=encoder.pad_multiple):
        rows = lay_out(batch, ids, encoder.pad_id, encoder.pad_multiple)
        yield {"input_ids": rows.ids, SEGMENTS_INPUT: rows.segments, POSITIONS_INPUT: rows.positions}


def ensure_int8_model(model_dir: Path, float_graph: Path, encoder, *, say=None) -> Path:
    """`build-int8.xml` (and its .bin) in the model folder, quantised from `float_graph` the first
    time a build wants it (about 40 s here, once; `add_model_files` writes it aside and renames
    it into place, one process at a time)."""
    if say and not (Path(model_dir) / BUILD_INT8).is_file():
        say("preparing the int8 build graph (one time, about 40 s)...")

    def write(_checkpoint, tmp: Path) -> None:
        os.environ.setdefault("NNCF_CI", "1")  # NNCF's usage telemetry: a build never reaches the network
        import nncf
        import openvino as ov

        rows = list(calibration_rows(encoder, calibration_texts()))
        model = ov.Core().read_model(str(float_graph))
        nncf_logger = logging.getLogger("nncf")
        level = nncf_logger.level
        nncf_logger.setLevel(logging.ERROR)
        try:  # NNCF's progress bars go to stdout, which may be a pipe a caller reads (--json)
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                quantised = nncf.quantize(model, nncf.Dataset(rows), subset_size=len(rows),
                                          model_type=nncf.ModelType.TRANSFORMER,
                                          preset=nncf.QuantizationPreset.PERFORMANCE)
        finally:
            nncf_logger.setLevel(level)
        ov.save_model(quantised, str(tmp / BUILD_INT8))

    graph, _ = add_model_files(model_dir, (BUILD_INT8_WEIGHTS, BUILD_INT8), write, lock="build-int8")[::-1]
    return graph
