import json
import os
import shutil

import pytest

from docqa.index.ranking import RankingSettings
from docqa.index.search.searcher import Searcher
from docqa.index.store.directory import (BM25_DIR, FORMAT_VERSION, MANIFEST, MARKER, PASSAGES, VECTORS, IndexLoadError, build_index, indexed_text,
                         load_index)
from docqa.ingest.text import normalize
from tests.fakes import FakeEmbedder, make_corpus

CHUNKER = {"target_chars": 300, "overlap_sentences": 1}
TEXTS = {
    1: ["丝绸之路经济带主要有三个走向。", "海上丝绸之路重点方向有两条。"],
    2: ["中国外汇储备接近4万亿美元。", "煤炭开采和洗选业的产能利用率最低。"],
}


@pytest.fixture()
def built(tmp_path):
    corpus = make_corpus(TEXTS)
    target = tmp_path / "idx"
    build_index(corpus, target, FakeEmbedder(), chunker=CHUNKER, progress=False, say=None)
    return corpus, target


def test_index_folder_holds_exactly_the_documented_files(built):
    _, target = built
    names = sorted(p.name for p in target.iterdir())
    assert names == sorted([MANIFEST, MARKER, PASSAGES, VECTORS, BM25_DIR, "documents.json", "sentences.npz", "terms.json",
                            "dictionary.npz", "hubness.npz"])
    manifest = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["format_version"] == FORMAT_VERSION
    assert RankingSettings.from_dict(manifest["ranking"]) == RankingSettings()
    assert manifest["model"] == {"name": "fake-bigram-64", "dimension": 64, "prompts": {"query": "", "passage": ""}}
    assert manifest["counts"] == {"documents": 1, "passages": 4, "sentences": 4}
    assert manifest["chunker"] == CHUNKER
    assert manifest["corpus"]["files"] == [{"source": "doc.txt", "sha256": "0" * 64}]
    lines = (target / PASSAGES).read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["passage_id"] for x in lines] == ["doc:0000", "doc:0001", "doc:0002", "doc:0003"]
    assert "外汇储备" in lines[2]  # ensure_ascii=False
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".idx.building-")]


def test_rows_line_up_across_faiss_bm25_and_passages(built):
    _, target = built
    s = Searcher(load_index(target), FakeEmbedder())
    hits = s.search("外汇储备", k=4)
    assert hits[0].passage.passage_id == "doc:0002"
    row = next(i for i, p in enumerate(s.passages) if p.passage_id == "doc:0002")
    expected = FakeEmbedder().encode_passages([normalize(indexed_text(s.passages[row]))])[0]
    assert s.store.dense.index.reconstruct(row) @ expected == pytest.approx(1.0)
    bm25 = s.store.keyword.bm25
    assert bm25.get_scores_from_ids([bm25.vocab_dict["外汇"]]).argmax() == row


def test_chapter_and_document_filters(built):
    _, target = built
    s = Searcher(load_index(target), FakeEmbedder())
    assert {h.passage.chapter for h in s.search("产能利用率", k=4, chapter=1)} == {1}
    assert s.search("产能利用率", k=4, doc_id="other") == []
    assert s.search("产能利用率", k=2, chapter=2)[0].passage.passage_id == "doc:0003"


def test_answer_is_the_best_sentence_with_its_passage(built):
    _, target = built
    s = Searcher(load_index(target), FakeEmbedder())
    answer = s.ask("哪个行业的产能利用率最低？", k=3)
    assert answer.passage_id == "doc:0003"
    assert answer.text == "煤炭开采和洗选业的产能利用率最低。"


def test_model_mismatch_is_refused_with_what_to_do(built):
    _, target = built
    with pytest.raises(IndexLoadError, match="built with model 'fake-bigram-64', not 'other-model'.*docqa build"):
        load_index(target, model_name="other-model")


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "manifest"])
def test_damaged_index_is_refused_naming_the_problem(built, damage):
    _, target = built
    path = target / VECTORS
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:-10])
        expected = r"vectors.faiss .*\(truncated or changed\)"
    elif damage == "flip":
        data = bytearray(path.read_bytes())
        data[-5] ^= 0xFF
        path.write_bytes(bytes(data))
        expected = "vectors.faiss .*checksum"
    elif damage == "delete":
        shutil.rmtree(target / BM25_DIR)
        expected = "bm25/.* is missing"
    else:
        (target / MANIFEST).write_text("{not json", encoding="utf-8")
        expected = "manifest.json is damaged"
    with pytest.raises(IndexLoadError, match=expected):
        load_index(target)


def test_failed_build_leaves_previous_index_untouched(built, monkeypatch):
    corpus, target = built
    before = {p.name: p.read_bytes() for p in target.iterdir() if p.is_file()}

    class Boom(FakeEmbedder):
        def encode_passages(self, texts, **kw):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        build_index(make_corpus({1: ["新的内容。"]}), target, Boom(), chunker=CHUNKER, progress=False, say=None)
    after = {p.name: p.read_bytes() for p in target.iterdir() if p.is_file()}
    assert after == before
    assert [p.name for p in target.parent.iterdir() if p.name.startswith(".idx.building-")] == []
    load_index(target)


def test_rebuild_replaces_index(built):
    _, target = built
    build_index(make_corpus({3: ["全新的一段话。"]}), target, FakeEmbedder(), chunker=CHUNKER, progress=False, say=None)
    idx = load_index(target)
    assert [p.text for p in idx.passages] == ["全新的一段话。"]
    assert sorted(os.listdir(target.parent)) == [".idx.lock", "idx"]
