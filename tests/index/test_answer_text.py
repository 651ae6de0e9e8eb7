"""The rules behind clean answers and question reading, on real libraries (opencc, pypinyin)."""
from __future__ import annotations

from docqa.index.answer.text import clean_answer, is_label_line, usable
from docqa.index.search.names import PinyinNames
from docqa.index.search.navigation import is_navigation
from docqa.index.question import classify, corpus_script, fold_script
from docqa.index.answer.refusal import asked_chapter, refusal_message
from docqa.ingest.model import Passage


def _passage(text: str, kind: str = "front_matter") -> Passage:
    return Passage("d:1", "d", "t", None, None, None, None, None, [], "s.txt", 0, len(text), text, kind)


def test_clean_answer_drops_name_and_heading_lines_and_blank_lines():
    assert clean_answer("王 明\n\n男，1970年出生，籍贯江苏。") == "男，1970年出生，籍贯江苏。"
    assert clean_answer("第二节 背景\n\n产能过剩是世界性难题。\n它伴随经济发展而出现。") == "产能过剩是世界性难题。它伴随经济发展而出现。"
    long = "这是一个很长的句子，" * 30 + "。"
    out = clean_answer(long)
    assert len(out) <= 200 and out.endswith("…")


def test_label_lines_answer_only_questions_that_ask_for_them():
    assert is_label_line("定 价: 58.00元") and is_label_line("张 三")
    assert not usable("定 价: 58.00元", classify("这本书讲了什么道理？"))
    assert usable("定 价: 58.00元", classify("How much does the book cost?"))
    assert usable("2019年3月", classify("前言是什么时候写的？"))
    assert usable("产能过剩是世界性难题。", classify("什么是产能过剩？"))


def test_navigation_passages():
    cip = _passage("责任编辑: 张三\n\n印 刷: 某某印刷厂\n\n出版发行: 某出版社\n\n定 价: 58.00元\n\n版权所有，侵权必究。")
    bio = _passage("作者简介\n\n张三\n\n男，1970年出生，籍贯江苏，长期从事产业经济研究，发表论文多篇。\n\n李四\n\n女，1980年出生，籍贯浙江，研究方向为国际贸易与投资。")
    assert is_navigation(cip) and not is_navigation(bio)
    assert is_navigation(_passage("第一章 001\n背景", kind="toc"))
    assert not is_navigation(_passage("张三\n李四\n王五\n赵六", kind="body"))


def test_question_kinds_languages_and_scripts():
    assert classify("李芳芳是哪一年出生的？").kind == "when"
    assert classify("How many chapters does the book have?").kind == "count"
    assert classify("本書的責任編輯是誰？").navigation
    assert classify("What is the price of the book?").fields[0] == "定价"
    assert classify("Where is it?").language == "en"
    assert fold_script("中國的外匯儲備有多少？", "hans") == "中国的外汇储备有多少？"
    assert fold_script("中国的外汇储备有多少？", "hant") == "中國的外匯儲備有多少？"
    assert corpus_script(["這是一本用繁體字寫成的書，講述經濟發展。"]) == "hant"
    assert corpus_script(["这是一本用简体字写成的书，讲述经济发展。"]) == "hans"


def test_pinyin_names_find_the_corpus_words_they_spell():
    names = PinyinNames(["李芳芳", "经济", "朱健", "出生"])
    assert names.spelled("When was Li Fangfang born?") == ["李芳芳"]
    assert names.spelled("Where did Zhu Jian work?") == ["朱健"]
    assert names.spelled("What is the economy like?") == []


def test_refusal_messages_and_chapter_numbers():
    assert refusal_message("中国高铁的最高时速是多少？", "zh") == "这本书里没有找到关于“中国高铁的最高时速”的内容。"
    assert refusal_message("What is the capital of France?", "en").startswith("The book does not say")
    assert asked_chapter("第五章讲了哪些企业案例？") == 5
    assert asked_chapter("第十二章讲什么") == 12
    assert asked_chapter("What is in chapter 3?") == 3
    assert asked_chapter("本书讲了什么？") is None


def test_a_quoted_question_is_not_quoted_twice():
    assert refusal_message("“一带一路”倡议最早是什么时候提出的？", "zh") == \
        "这本书里没有找到关于“‘一带一路’倡议最早是什么时候提出的”的内容。"
    assert "““" not in refusal_message("“A” and “B”?", "en")
