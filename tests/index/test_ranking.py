"""Fusion methods, overlap removal, and a ranking that does not depend on how many hits are asked for."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from docqa.errors import InputError
from docqa.index.ranking import (DenseLeg, KeywordLeg, RankingSettings, ReciprocalRankFusion, ZScoreFusion,
                                 make_fusion)
from docqa.index.search.searcher import Searcher, mostly_overlaps
from docqa.index.store.directory import build_index, load_index
from docqa.ingest.model import Passage
from tests.fakes import FakeEmbedder, make_corpus

BOOK_DEV = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "book-dev.jsonl"


class TableScorer:
    """Dense and best-sentence scores from fixed tables, so fusion arithmetic can be checked exactly."""

    def __init__(self, dense: dict[int, float], sentence: dict[int, float]):
        self.dense, self.sentence = dense, sentence
        self.asked: list[int] = []

    def dense_scores(self, rows):
        self.asked += [int(r) for r in rows]
        return np.array([self.dense[int(r)] for r in rows])

    def sentence_scores(self, rows):
        return np.array([self.sentence[int(r)] for r in rows])


def _z(x):
    x = np.asarray(x, dtype=float)
    return (x - x.mean()) / x.std()


def test_zscore_fusion_scores_the_union_on_both_legs():
    dense = DenseLeg(np.array([0, 1]), np.array([0.9, 0.5]))
    all_bm25 = np.array([0.0, 1.0, 6.0, 0.0])
    keyword = KeywordLeg(np.array([2, 1]), all_bm25[[2, 1]], all_bm25, coverage=0.5)
    scorer = TableScorer(dense={0: 0.9, 1: 0.5, 2: 0.1}, sentence={0: 0.8, 1: 0.6, 2: 0.7})
    ranked = ZScoreFusion(dense_weight=1.0, keyword_weight=1.0, sentence_weight=0.5).fuse(dense, keyword, scorer)

    assert scorer.asked == [2]  # only the passage the dense leg did not propose is scored again
    d = _z([0.5 * 0.9 + 0.5 * 0.8, 0.5 * 0.5 + 0.5 * 0.6, 0.5 * 0.1 + 0.5 * 0.7])
    k = _z([0.0, 1.0, 6.0]) * 0.5
    expected = sorted(zip([0, 1, 2], d + k), key=lambda rs: -rs[1])
    assert [r for r, _ in ranked] == [r for r, _ in expected]
    assert [s for _, s in ranked] == pytest.approx([s for _, s in expected])


def test_zscore_fusion_ignores_the_keyword_leg_when_the_corpus_has_none_of_the_words():
    dense = DenseLeg(np.array([1, 0]), np.array([0.8, 0.2]))
    none = KeywordLeg(np.zeros(0, np.int64), np.zeros(0), None, 0.0)
    ranked = ZScoreFusion(sentence_weight=0.0).fuse(dense, none, TableScorer({}, {}))
    assert [r for r, _ in ranked] == [1, 0]
    assert [s for _, s in ranked] == pytest.approx([1.0, -1.0])


def test_one_leg_alone_is_a_fusion_setting():
    dense = DenseLeg(np.array([0, 1]), np.array([0.9, 0.1]))
    all_bm25 = np.array([1.0, 5.0])
    keyword = KeywordLeg(np.array([1, 0]), all_bm25[[1, 0]], all_bm25, coverage=1.0)
    scorer = TableScorer({0: 0.9, 1: 0.1}, {0: 0.9, 1: 0.1})
    settings = RankingSettings()
    dense_only = make_fusion(replace(settings, fusion="dense")).fuse(dense, keyword, scorer)
    keyword_only = make_fusion(replace(settings, fusion="keyword")).fuse(dense, keyword, scorer)
    assert [r for r, _ in dense_only] == [0, 1]
    assert [r for r, _ in keyword_only] == [1, 0]
    assert isinstance(make_fusion(settings), ZScoreFusion)
    assert make_fusion(replace(settings, fusion="rrf")) == ReciprocalRankFusion(60, 1.0)


def test_reciprocal_rank_fusion_adds_weighted_reciprocal_ranks():
    dense = DenseLeg(np.array([3, 1]), np.array([0.9, 0.5]))
    keyword = KeywordLeg(np.array([1, 2]), np.array([4.0, 2.0]), None, 1.0)
    ranked = ReciprocalRankFusion(k=60, dense_weight=2.0).fuse(dense, keyword, TableScorer({}, {}))
    assert ranked == [(1, pytest.approx(2 / 62 + 1 / 61)), (3, pytest.approx(2 / 61)), (2, pytest.approx(1 / 62))]


def test_unknown_fusion_and_settings_are_input_errors():
    with pytest.raises(InputError, match="unknown fusion 'best'"):
        RankingSettings(fusion="best")
    with pytest.raises(InputError, match="unknown ranking settings: magic"):
        RankingSettings.from_dict({**RankingSettings().to_dict(), "magic": 1})
    assert RankingSettings.from_dict(RankingSettings().to_dict()) == RankingSettings()


def _passage(i: int, start: int, end: int, doc: str = "d") -> Passage:
    return Passage(passage_id=f"{doc}:{i}", doc_id=doc, title="t", chapter=1, chapter_title="c", section=None,
                   section_number=None, subsection=None, heading_path=[], source=f"{doc}.txt", start=start, end=end,
                   text="x" * (end - start))


def test_overlap_removal_keeps_neighbours_and_drops_near_copies():
    a = _passage(0, 0, 100)
    assert not mostly_overlaps(a, _passage(1, 80, 200))  # one shared sentence: 20 of 100
    assert not mostly_overlaps(a, _passage(2, 50, 150))  # exactly half is not "mostly"
    assert mostly_overlaps(a, _passage(3, 40, 140))
    assert mostly_overlaps(a, _passage(4, 10, 60))  # inside: all of the shorter one
    assert not mostly_overlaps(a, _passage(5, 0, 100, doc="e"))  # another document
    assert mostly_overlaps(a, _passage(6, 30, 130), threshold=0.6)
    assert not mostly_overlaps(a, _passage(6, 30, 130), threshold=0.7)


def test_search_drops_a_passage_that_repeats_one_already_returned(tmp_path):
    corpus = make_corpus({1: ["外汇储备接近四万亿美元。", "产能利用率最低的行业是煤炭。"]})
    first = corpus.passages[0]
    corpus.passages.append(replace(first, passage_id="doc:0009", start=first.start + 1, end=first.end))
    build_index(corpus, tmp_path / "idx", FakeEmbedder(), chunker={}, progress=False, say=None)
    s = Searcher(load_index(tmp_path / "idx"), FakeEmbedder())
    ids = [h.passage.passage_id for h in s.search("外汇储备", k=3)]
    assert len(ids) == 2 and ids[0] in ("doc:0000", "doc:0009") and "doc:0001" in ids


TOPICS = ["外汇储备", "产能利用率", "丝绸之路", "自由贸易区", "基础设施", "能源合作", "金融合作", "人民币国际化",
          "制造业", "钢铁行业", "海上通道", "经济走廊"]


@pytest.fixture(scope="module")
def many_passages(tmp_path_factory):
    rng = np.random.default_rng(7)
    texts = {}
    for chapter in range(1, 7):
        texts[chapter] = []
        for _ in range(15):
            words = rng.choice(TOPICS, size=3, replace=False)
            texts[chapter].append(f"{words[0]}与{words[1]}的关系，以及{words[2]}的发展。")
    target = tmp_path_factory.mktemp("many") / "idx"
    build_index(make_corpus(texts), target, FakeEmbedder(), chunker={}, progress=False, say=None)
    return load_index(target)


@pytest.mark.parametrize("pool", [5, 50])
def test_first_hits_do_not_depend_on_k(many_passages, pool):
    s = Searcher(many_passages, FakeEmbedder(), ranking=replace(many_passages.ranking, candidate_pool=pool))
    questions = [f"{a}和{b}有什么关系？" for a in TOPICS for b in TOPICS[:4] if a != b]
    for q in questions:
        full = [(h.passage.passage_id, h.score) for h in s.search(q, k=60)]
        for k in (1, 3, 10, 20):
            assert [(h.passage.passage_id, h.score) for h in s.search(q, k=k)] == full[:k], (q, k)


def test_first_hits_do_not_depend_on_k_with_the_real_model(searcher):
    questions = [json.loads(line)["question"] for line in BOOK_DEV.read_text(encoding="utf-8").splitlines() if line]
    assert len(questions) >= 30
    for q in questions:
        ten = [h.passage.passage_id for h in searcher.search(q, k=10)]
        assert [h.passage.passage_id for h in searcher.search(q, k=3)] == ten[:3], q
        assert [h.passage.passage_id for h in searcher.search(q, k=20)][:10] == ten, q


def test_ranking_settings_come_from_the_manifest(many_passages):
    from docqa.index.store.protocol import IndexStore

    assert isinstance(many_passages, IndexStore)
    assert many_passages.ranking == RankingSettings.from_dict(many_passages.manifest["ranking"])
    assert Searcher(many_passages, FakeEmbedder()).ranking == many_passages.ranking
