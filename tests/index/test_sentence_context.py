"""Sentence context vectors: each sentence read under its title and headings, for the answer choice."""
from __future__ import annotations

import json

import numpy as np

from docqa.index.ranking import RankingSettings
from docqa.index.search import Searcher
from docqa.index.sentences import SentenceTable
from docqa.index.store import build_index, load_index
from docqa.ingest.pipeline import chunker_settings, load_corpus
from tests.fakes import FakeEmbedder, make_corpus

CHUNKER = {"target_chars": 300, "overlap_sentences": 1}


def test_context_vectors_are_saved_with_the_index_and_skipped_at_weight_zero(tmp_path):
    corpus = make_corpus({1: ["银杏是落叶乔木。叶呈扇形。", "种子椭圆形。"]})
    build_index(corpus, tmp_path / "ctx", FakeEmbedder(), chunker=CHUNKER, progress=False, say=None)
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
    # introduces the tree by name. Read under its title, it is the answer.
    doc = {"id": "ginkgo", "title": "银杏",
           "text": "银杏（学名：Ginkgo biloba）是银杏科银杏属的落叶乔木，原产于中国，现广泛栽培于世界各地。"
                   "树高可达40米，胸径可达4米。叶呈扇形，有长柄，秋季变为金黄色。种子椭圆形，外种皮肉质，成熟时有臭味。"}
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")
    build_index(load_corpus([path]), tmp_path / "idx", embedder, chunker=chunker_settings(), progress=False, say=None)
    searcher = Searcher.open(tmp_path / "idx", embedder=embedder, refusal_threshold=0.0)
    assert "叶呈扇形" in searcher.ask("银杏的叶子是什么形状的？").text
    alone = Searcher.open(tmp_path / "idx", embedder=embedder, refusal_threshold=0.0,
                          ranking=RankingSettings(context_weight=0.0))
    assert "叶呈扇形" not in alone.ask("银杏的叶子是什么形状的？").text


def test_a_library_add_and_remove_keep_the_context_vectors_of_a_fresh_build(tmp_path):
    from docqa.index.library import add_documents, remove_documents

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
    from docqa.index.store import MANIFEST, corpus_checksums, is_current

    corpus = make_corpus({1: ["银杏是落叶乔木。叶呈扇形。"]})
    build_index(corpus, tmp_path / "idx", FakeEmbedder(), chunker=CHUNKER, progress=False, say=None)
    inputs = dict(model_name="fake-bigram-64", chunker=CHUNKER, files=corpus_checksums(corpus))
    assert is_current(tmp_path / "idx", **inputs)
    manifest = json.loads((tmp_path / "idx" / MANIFEST).read_text(encoding="utf-8"))
    del manifest["ranking"]["context_weight"]  # as an older docqa saved it
    (tmp_path / "idx" / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    assert not is_current(tmp_path / "idx", **inputs)
