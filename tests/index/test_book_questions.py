"""Questions about the book or a chapter, and greetings: answered from the book's parts, never refused.

A made-up book (title page, copyright page with a CIP record, 内容简介, a biography that names the
author on a line of its own, two chapters with sections), built into a real index with the real model.
"""
from __future__ import annotations

import pytest

BOOK = """山河纪行

王明远 陈小梅◎编著

星火出版社

内 容 简 介

本书讲述了江南水乡的桥梁与运河，介绍它们的修建历史和保护方法。全书分为两章，适合对古代建筑感兴趣的读者。

版权所有，侵权必究。

图书在版编目(CIP)数据

山河纪行 / 王明远, 陈小梅编著. — 杭州: 星火出版社, 2019.5

ISBN 978-7-1234-5678-9

编著者简介

王明远

男，1975年3月出生，长期研究古代桥梁。

前言

写这本书，是想把走过的桥和河记下来。书中的照片大多摄于清晨。

编著者

2019年1月

第一章 古桥

第一节 石拱桥

石拱桥用条石砌成拱券，能承受很重的车马。这种桥在水网地区最为常见，许多已经有几百年历史。

第二节 廊桥

廊桥在桥面上建有长廊，可以遮风避雨。山区的村民常在廊桥上歇脚和交换货物。

第二章 运河

第一节 开凿

运河的开凿始于公元前486年，最初用于运送军粮。后来历代王朝不断加以疏浚和延长。

第二节 保护

今天的运河保护以清淤和修复驳岸为主。沿岸城市设立了专门的管理机构。
"""


@pytest.fixture(scope="module")
def book_searcher(tmp_path_factory, embedder, cache_dir):
    from docqa.index.search.searcher import Searcher
    from docqa.index.store.directory import build_index
    from docqa.ingest.pipeline import chunker_settings, load_corpus

    folder = tmp_path_factory.mktemp("madeup")
    source = folder / "山河纪行.txt"
    source.write_text(BOOK, encoding="utf-8")
    target = folder / "index"
    build_index(load_corpus([source]), target, embedder, chunker=chunker_settings(), progress=False, say=None)
    # A refusal threshold of 1 refuses every ordinary answer: these must not be refused.
    return Searcher.open(target, embedder=embedder, cache_dir=cache_dir, refusal_threshold=1.0)


@pytest.mark.parametrize("question", ["这本书的作者是谁？", "這本書的作者是誰？", "Who wrote this book?", "书的作者是谁？"])
def test_the_author_comes_from_the_cip_record_not_the_biography(book_searcher, question):
    a = book_searcher.ask(question)
    assert not a.refused
    assert "王明远" in a.text and "陈小梅" in a.text and "1975" not in a.text
    assert a.span is not None and a.text[a.span[0]:a.span[1]] == "王明远, 陈小梅"
    assert a.passage_id == a.hits[0].passage.passage_id and "王明远" in a.hits[0].passage.text
    assert a.support == 1.0 and a.confidence == "high"


@pytest.mark.parametrize("question", ["这本书主要讲什么？", "What is this book about?"])
def test_what_the_book_is_about_comes_from_its_summary(book_searcher, question):
    a = book_searcher.ask(question)
    assert not a.refused
    assert a.text.startswith("本书讲述了江南水乡的桥梁与运河")


@pytest.mark.parametrize("question", ["本书的前言落款日期是什么时候？", "When is the preface of this book dated?",
                                      "前言是什么时候写的？"])
def test_the_preface_is_dated_by_its_signature(book_searcher, question):
    a = book_searcher.ask(question)
    assert not a.refused and a.text == "2019年1月" and a.span == (0, 7)


@pytest.mark.parametrize("question", ["廊桥在书的哪一部分讲到？", "保护运河的内容在哪一章？"])
def test_which_part_answers_with_the_heading(book_searcher, question):
    a = book_searcher.ask(question)
    assert not a.refused
    expected = "第二节 廊桥" if "廊桥" in question else "第二节 保护"
    assert a.text.endswith(expected) and a.span == (0, len(a.text))


@pytest.mark.parametrize("question", ["请总结第一章的主要内容", "Summarize chapter 1"])
def test_a_chapter_summary_lists_its_sections_and_their_lead_sentences(book_searcher, question):
    a = book_searcher.ask(question)
    assert not a.refused
    assert "古桥" in a.text
    assert a.text.index("石拱桥用条石砌成拱券") < a.text.index("廊桥在桥面上建有长廊")
    assert "运河的开凿" not in a.text
    assert a.support == 1.0 and a.confidence == "high"
    cited = [h.passage.text for h in a.hits[:2]]
    assert "石拱桥用条石砌成拱券" in cited[0] and "廊桥在桥面上建有长廊" in cited[1]


@pytest.mark.parametrize("question, start", [("你好", "你好！我是 docqa"), ("hi", "Hi! I am docqa")])
def test_a_greeting_says_what_docqa_does(book_searcher, question, start):
    a = book_searcher.ask(question)
    assert not a.refused and a.text.startswith(start) and a.hits == []
    assert a.confidence == "high"


def test_other_questions_still_go_to_the_answer_choice(book_searcher):
    book_searcher.refusal_threshold = 0.0
    try:
        a = book_searcher.ask("运河的开凿始于哪一年？")
    finally:
        book_searcher.refusal_threshold = 1.0
    assert "公元前486年" in a.text
    assert a.span is not None and "486" in a.text[a.span[0]:a.span[1]]


SECOND = """茶香四季

周立华◎著

青石出版社

内 容 简 介

本书按四季讲述茶园的劳作与茶叶的制作。

图书在版编目(CIP)数据

茶香四季 / 周立华著. — 福州: 青石出版社, 2021.3

ISBN 978-7-5555-0000-1

第一章 春茶

第一节 采摘

清明前后采下的嫩芽最为珍贵，茶农天不亮就上山。

第二章 秋茶

第一节 焙火

秋茶要用炭火慢焙，香气才沉稳持久。
"""


@pytest.fixture(scope="module")
def shelf_searcher(tmp_path_factory, embedder, cache_dir):
    """Two books on one shelf, the made-up one first."""
    from docqa.index.search.searcher import Searcher
    from docqa.index.store.directory import build_index
    from docqa.ingest.pipeline import chunker_settings, load_corpus

    folder = tmp_path_factory.mktemp("shelf")
    (folder / "山河纪行.txt").write_text(BOOK, encoding="utf-8")
    (folder / "茶香四季.txt").write_text(SECOND, encoding="utf-8")
    target = folder / "index"
    build_index(load_corpus([folder / "山河纪行.txt", folder / "茶香四季.txt"]), target, embedder,
                chunker=chunker_settings(), progress=False, say=None)
    return Searcher.open(target, embedder=embedder, cache_dir=cache_dir, refusal_threshold=1.0)


def test_a_question_about_the_book_asked_within_one_book_is_answered_from_that_book(shelf_searcher):
    ids = {d.title: d.doc_id for d in shelf_searcher.documents}
    assert shelf_searcher.ask("这本书的作者是谁？", doc_id=ids["茶香四季"]).text.startswith("周立华")
    assert shelf_searcher.ask("这本书的作者是谁？", doc_id=ids["山河纪行"]).text.startswith("王明远")
    within = shelf_searcher.ask("请总结第一章的主要内容", doc_id=ids["茶香四季"])
    assert "清明前后" in within.text and "石拱桥" not in within.text
    assert all(h.passage.doc_id == ids["茶香四季"] for h in within.hits)


def test_a_book_named_by_its_title_is_the_one_asked_about(shelf_searcher):
    a = shelf_searcher.ask("《茶香四季》的作者是谁？")
    assert a.text.startswith("周立华") and a.span is not None and a.text[a.span[0]:a.span[1]] == "周立华"
    assert shelf_searcher.ask("《山河纪行》这本书讲了什么？").text.startswith("本书讲述了江南水乡")


def test_a_refusal_across_the_shelf_says_how_many_books_were_searched(shelf_searcher):
    ids = {d.title: d.doc_id for d in shelf_searcher.documents}
    across = shelf_searcher.ask("澳大利亚的首都是哪里？")
    assert across.refused and across.message.startswith("书架上的 2 本书里都没有找到关于“澳大利亚的首都”")
    assert shelf_searcher.ask("What is the capital of Australia?").message.startswith("None of the 2 books on the shelf")
    within = shelf_searcher.ask("澳大利亚的首都是哪里？", doc_id=ids["茶香四季"])
    assert within.refused and within.message.startswith("这本书里没有找到")


@pytest.fixture(scope="module")
def property_searcher(tmp_path_factory, embedder, cache_dir):
    """A Word file (python-docx) and an EPUB (pandoc) that name their author only in the file's
    properties, beside the made-up book whose CIP record names its authors."""
    import shutil
    import subprocess

    import docx

    from docqa.index.search.searcher import Searcher
    from docqa.index.store.directory import build_index
    from docqa.ingest.pipeline import chunker_settings, load_corpus

    if shutil.which("pandoc") is None:
        pytest.skip("needs pandoc")
    folder = tmp_path_factory.mktemp("properties")
    (folder / "山河纪行.txt").write_text(BOOK, encoding="utf-8")
    made = docx.Document()
    made.core_properties.title, made.core_properties.author = "炭火焙茶", "林晓风"
    for line in SECOND.split("第一章", 1)[1].splitlines():
        made.add_paragraph(line if made.paragraphs else "第一章" + line)
    made.save(folder / "焙茶.docx")
    md = folder / "舟.md"
    md.write_text("# 第一章 木船\n\n木船用杉木造成，船底要涂桐油防水。\n\n# 第二章 帆\n\n帆用竹篾和布做成。\n",
                  encoding="utf-8")
    subprocess.run(["pandoc", str(md), "-o", str(folder / "舟.epub"), "--metadata", "title=江上行舟",
                    "--metadata", "author=沈青禾"], check=True)
    target = folder / "index"
    build_index(load_corpus([folder / "山河纪行.txt", folder / "焙茶.docx", folder / "舟.epub"]), target, embedder,
                chunker=chunker_settings(), progress=False, say=None)
    return Searcher.open(target, embedder=embedder, cache_dir=cache_dir, refusal_threshold=1.0)


def test_the_author_in_the_files_properties_answers_when_the_text_names_none(property_searcher):
    ids = {d.title: d.doc_id for d in property_searcher.documents}
    within = property_searcher.ask("这本书的作者是谁？", doc_id=ids["炭火焙茶"])
    assert not within.refused and within.text.startswith("林晓风") and "文件信息" in within.text
    assert within.text[within.span[0]:within.span[1]] == "林晓风" and within.passage_id is None
    english = property_searcher.ask("Who wrote this book?", doc_id=ids["江上行舟"])
    assert english.text.startswith("沈青禾") and "properties" in english.text
    assert property_searcher.ask("《江上行舟》的作者是谁？").text.startswith("沈青禾")
    from docqa.index.store.shelf import describe  # what GET /documents and the page's shelf list show

    listed = {d.title: d.author for d in describe(property_searcher.documents, property_searcher.passages, {})}
    assert listed == {"山河纪行": None, "炭火焙茶": "林晓风", "江上行舟": "沈青禾"}
    # The printed CIP record still comes first, with its passage cited.
    cip = property_searcher.ask("这本书的作者是谁？", doc_id=ids["山河纪行"])
    assert cip.text.startswith("王明远") and cip.passage_id is not None
