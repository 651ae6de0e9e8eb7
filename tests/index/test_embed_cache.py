"""The on-disk embedding cache: only new texts are embedded; a damaged file is set aside, not trusted."""
from __future__ import annotations

import sqlite3

import numpy as np

from docqa.index.embed_cache import EmbeddingCache
from tests.fakes import FakeEmbedder


class CountingModel:
    def __init__(self):
        self.fake = FakeEmbedder()
        self.calls: list[list[str]] = []

    def __call__(self, texts):
        self.calls.append(list(texts))
        return self.fake.encode_passages(texts)


def test_only_texts_not_cached_are_embedded(tmp_path):
    model = CountingModel()
    path = tmp_path / "emb" / "m.sqlite"
    cache = EmbeddingCache(path, 64)
    first = cache.encode(["甲乙丙", "丁戊己", "甲乙丙"], "passage: ", model)
    assert model.calls == [["甲乙丙", "丁戊己"]]  # a repeated text is embedded once
    np.testing.assert_allclose(first[0], first[2])
    cache.close()

    cache = EmbeddingCache(path, 64)
    again = cache.encode(["丁戊己", "庚辛壬", "甲乙丙"], "passage: ", model)
    assert model.calls[1:] == [["庚辛壬"]]
    np.testing.assert_allclose(again[0], first[1])
    np.testing.assert_allclose(again[2], first[0])
    np.testing.assert_allclose(again[1], model.fake.encode_passages(["庚辛壬"])[0])
    # The prompt is part of the key: the same text under another prompt is another vector.
    cache.encode(["甲乙丙"], "query: ", model)
    assert model.calls[-1] == ["甲乙丙"]
    cache.close()


def test_a_vector_of_the_wrong_size_is_recomputed(tmp_path):
    model = CountingModel()
    path = tmp_path / "m.sqlite"
    EmbeddingCache(path, 64).encode(["甲乙丙"], "", model)
    db = sqlite3.connect(path)
    db.execute("UPDATE vectors SET vector = ?", (np.zeros(3, np.float32).tobytes(),))
    db.commit()
    db.close()
    out = EmbeddingCache(path, 64).encode(["甲乙丙"], "", model)
    assert len(model.calls) == 2
    np.testing.assert_allclose(out[0], model.fake.encode_passages(["甲乙丙"])[0])


def test_a_damaged_file_is_set_aside_and_started_afresh(tmp_path):
    model = CountingModel()
    path = tmp_path / "m.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    cache = EmbeddingCache(path, 64)
    out = cache.encode(["甲乙丙"], "", model)
    cache.close()
    assert path.with_suffix(".damaged").read_bytes() == b"this is not a database" * 100
    assert model.calls == [["甲乙丙"]]
    np.testing.assert_allclose(out[0], model.fake.encode_passages(["甲乙丙"])[0])
    cache = EmbeddingCache(path, 64)  # the fresh file is a working cache
    cache.encode(["甲乙丙"], "", model)
    assert len(model.calls) == 1
    cache.close()
