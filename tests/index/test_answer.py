"""The answer sentence: closest to the question, words of the topic not counted, neighbours joined."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from docqa.index.answer.extract import best_answer
from docqa.index.ranking import RankingSettings
from docqa.index.results import Hit
from docqa.index.store.sentences import SentenceTable
from docqa.ingest.model import Passage
from docqa.ingest.text import normalize
from tests.fakes import FakeEmbedder


def _passage(i: int, text: str, headings: list[str] | None = None) -> Passage:
    return Passage(passage_id=f"d:{i}", doc_id="d", title="测试书", chapter=1, chapter_title="第一章", section=None,
                   section_number=None, subsection=None, heading_path=headings or ["第一章"], source="d.txt",
                   start=1000 * i, end=1000 * i + len(text), text=text)


def _answer(passages, question, settings=None, tokens=None):
    fake = FakeEmbedder()
    table = SentenceTable.build(passages, fake)
    hits = [Hit(p, 1.0 - i / 10) for i, p in enumerate(passages)]
    qvec = fake.encode_queries([normalize(question)])[0]
    return best_answer(qvec, tokens if tokens is not None else [], hits, list(range(len(passages))), table,
                       settings)


def test_the_sentence_closest_to_the_question_wins():
    p = _passage(0, "本章介绍对外开放。中国外汇储备接近四万亿美元。其他内容在后面。")
    one_sentence = RankingSettings(max_answer_chars=20)
    answer = _answer([p], "中国外汇储备接近多少美元", one_sentence)
    assert (answer.text, answer.passage_id) == ("中国外汇储备接近四万亿美元。", "d:0")
    assert "中国外汇储备接近四万亿美元。" in _answer([p], "中国外汇储备接近多少美元").text


def test_an_adjacent_sentence_joins_only_when_both_fit():
    long_tail = "后面还有很长的说明" * 30 + "。"
    p = _passage(0, "外汇储备接近四万亿美元。约占世界的三分之一。" + long_tail)
    assert _answer([p], "外汇储备接近四万亿美元").text == "外汇储备接近四万亿美元。约占世界的三分之一。"
    short = RankingSettings(max_answer_chars=14)
    assert _answer([p], "外汇储备接近四万亿美元", short).text == "外汇储备接近四万亿美元。"


def test_a_heading_line_is_never_the_answer():
    p = _passage(0, "产能利用率\n煤炭开采和洗选业最低，只有百分之六十。", headings=["第一章", "产能利用率"])
    answer = _answer([p], "产能利用率", tokens=["产能", "利用率"])
    assert answer.text == "煤炭开采和洗选业最低，只有百分之六十。"


def test_words_of_the_topic_do_not_count_but_other_question_words_do():
    p = _passage(0, "钢铁行业是本章的话题。产能过剩最严重。", headings=["第一章", "钢铁行业"])
    # The first sentence has two of the question's words, but they name the topic (a heading);
    # the second has one word of the question's own.
    settings = RankingSettings(lexical_weight=5.0, max_answer_chars=12)
    answer = _answer([p], "钢铁行业是", settings, tokens=["钢铁", "行业", "产能"])
    assert answer.text == "产能过剩最严重。"
    no_words = _answer([p], "钢铁行业是", settings, tokens=[])
    assert no_words.text == "钢铁行业是本章的话题。"  # the cosine alone prefers the first


def test_rank_penalty_breaks_a_tie_for_the_better_passage_and_only_top_passages_count():
    same = "外汇储备接近四万亿美元。"
    passages = [_passage(0, "无关的一句话。"), _passage(1, same), _passage(2, same)]
    assert _answer(passages, same).passage_id == "d:1"
    one = RankingSettings(answer_passages=1)
    assert _answer(passages, same, one).text == "无关的一句话。"


def test_no_hits_no_answer_and_no_sentences_fall_back_to_the_passage_start():
    fake = FakeEmbedder()
    empty = SentenceTable(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int32),
                          np.zeros((0, fake.dim), np.float32))
    assert best_answer(fake.encode_queries(["问"])[0], [], [], [], empty).text == ""
    p = _passage(0, "——")
    answer = best_answer(fake.encode_queries(["问"])[0], [], [Hit(p, 1.0)], [0], SentenceTable.build([p], fake))
    assert (answer.text, answer.passage_id) == ("——", "d:0")
    assert replace(RankingSettings(), max_answer_chars=5).max_answer_chars == 5


def test_clauses_after_a_semicolon_stay_with_their_sentence():
    p = _passage(0, "对毛利人而言，此树的用途广泛，假种皮作为食物来源；木材可制成猎鸟的矛；心材可作为纹身用的颜料。"
                    "它生长在低地森林。")
    answer = _answer([p], "此树的用途", RankingSettings(max_answer_chars=50))
    assert answer.text == "对毛利人而言，此树的用途广泛，假种皮作为食物来源；木材可制成猎鸟的矛；心材可作为纹身用的颜料。"
    # With room for two sentences, the next one joins the whole first sentence.
    assert _answer([p], "此树的用途").text.endswith("；心材可作为纹身用的颜料。它生长在低地森林。")


def test_a_sentence_too_long_for_the_answer_is_cut_around_the_clause_the_question_restates():
    head = "伊达政宗违反丰臣秀吉所定的惣无事令，开始夺取芦名氏的据点，" + "随后双方在各地反复交战，" * 8
    p = _passage(0, head + "伊达政宗为确保通往敌军要塞的道路，拉拢了猪苗代盛国，又派兵守住城池。")
    question = "为确保通往敌军要塞的道路，伊达政宗做了什么？"
    settings = RankingSettings(max_answer_chars=60)
    answer = _answer([p], question, settings, tokens=["确保", "敌军", "要塞", "道路", "伊达", "政宗"])
    assert "拉拢了猪苗代盛国" in answer.text and len(answer.text) <= 60
    assert answer.text.startswith("…") and "\n" not in answer.text
    # Without question words in any clause, the sentence keeps its head and says it goes on.
    plain = _answer([p], question, settings, tokens=[])
    assert plain.text.startswith("伊达政宗违反") and plain.text.endswith("…") and len(plain.text) <= 60


def test_a_sentence_mark_inside_quotes_or_a_title_does_not_end_the_sentence():
    p = _passage(0, "这个词通常用来描述新近致富的人。牛津英语词典解释暴发户为：“一个人迅速获得财富。通常含义是他不适应新的地位。”"
                    "《卡拉OK！台北》是他的第六张专辑。")
    answer = _answer([p], "牛津英语词典怎么解释暴发户", RankingSettings(max_answer_chars=45),
                     tokens=["牛津", "英语", "词典", "解释", "暴发户"])
    assert answer.text == "牛津英语词典解释暴发户为：“一个人迅速获得财富。通常含义是他不适应新的地位。”"
    title = _answer([p], "第六张专辑是什么", RankingSettings(max_answer_chars=20), tokens=["第六", "专辑"])
    assert title.text == "《卡拉OK！台北》是他的第六张专辑。"


def test_a_short_unit_inside_a_paragraph_is_not_a_heading():
    # "！" inside the title ends a unit that is short and has no sentence mark of its own at its
    # end; it is part of the sentence, not a name line that answers nothing.
    p = _passage(0, "AKIRA说他希望作出不愧对原曲的PV。2008年3月播放的《CDTV×Sacas！》节目中第一次于公开场合演唱。")
    answer = _answer([p], "第一次在公开场合演唱是什么节目", tokens=["第一次", "公开场合", "演唱", "节目"])
    assert "《CDTV×Sacas！》节目中第一次于公开场合演唱。" in answer.text
    # The same words on a line of their own are a heading, and never the answer.
    q = _passage(1, "《CDTV×Sacas！》\n节目中第一次于公开场合演唱。")
    assert _answer([q], "第一次在公开场合演唱是什么节目", tokens=["节目", "演唱"]).text == "节目中第一次于公开场合演唱。"


def test_a_bracket_left_open_does_not_glue_the_rest_of_the_passage_into_one_sentence():
    p = _passage(0, "这里有一个没有闭合的括号（注释。" + "".join(f"第{i}句讲的是别的事情。" for i in range(8))
                 + "外汇储备接近四万亿美元。后面还有一句话。")
    answer = _answer([p], "外汇储备接近四万亿美元", RankingSettings(max_answer_chars=40))
    assert answer.text in ("外汇储备接近四万亿美元。后面还有一句话。", "第7句讲的是别的事情。外汇储备接近四万亿美元。")


def test_a_passage_is_folded_once_and_another_text_with_the_same_spans_is_not_mixed_up():
    from docqa.index.answer.extract import _units

    _units.cache_clear()
    first = _passage(0, "甲方出资四万亿美元。乙方负责建设工程。")
    one = RankingSettings(max_answer_chars=12)
    cold = _answer([first], "谁负责建设工程", one)
    warm = _answer([first], "谁负责建设工程", one)
    assert (cold.text, cold.passage_id) == (warm.text, warm.passage_id) == ("乙方负责建设工程。", "d:0")
    assert _units.cache_info().hits >= 1
    # the same sentence spans, title and headings, other text (an index opened again after a change)
    second = replace(first, text="丙方出资四万亿美元。丁方负责建设工程。")
    assert _answer([second], "谁负责建设工程", one).text == "丁方负责建设工程。"
