from __future__ import annotations

import re

import pytest

from docqa.ingest.outline import (ChapterNotFound, ChapterNotInCorpus, SectionNotFound, chapter_dict,
                            chapter_passages, find_chapter, outline_dict, render_outline_text)
from docqa.ingest.pipeline import load_corpus

DOC = "belt-and-road-capacity-cooperation"


def toc_sections(*entries):
    return [{"number": n, "title": t, "subsections": []} for n, t in enumerate(entries, start=1)]


BOOK_OUTLINE = {"documents": [{
    "doc_id": DOC,
    "title": "“一带一路”工业文明",
    "front_matter": [{"title": t, "kind": k, "toc_page": page, "in_corpus": page is None} for t, k, page in
                     (("内容简介", "front_matter", None), ("版权页", "front_matter", None),
                      ("“一带一路”工业文明丛书编委会", "front_matter", None), ("作者简介", "front_matter", None),
                      ("总序", "front_matter", None), ("前言", "front_matter", None), ("目录", "toc", None),
                      ("参考文献", "back_matter", 228))],
    "chapters": [
        {"number": 1, "title": "产能合作的背景与意义", "part": "", "in_corpus": True, "toc_page": 1, "sections": [
            {"number": 1, "title": "“一带一路”的内涵", "subsections": []},
            {"number": 2, "title": "推进国际产能合作的背景与意义", "subsections": [
                {"title": "一、“一带一路”将有效化解我国产能过剩"},
                {"title": "二、“一带一路”有助于加速我国改革开放的进程"},
                {"title": "三、“一带一路”倡议是加强区域合作的需要"},
                {"title": "四、“一带一路”产能合作需要政策协同"},
            ]},
        ]},
        {"number": 2, "title": "产能合作理论分析", "part": "", "in_corpus": False, "toc_page": 9, "sections": toc_sections(
            "产能合作的概念与内涵", "产能合作与产业转移的经济学比较", "政策协同的概念与内涵")},
        {"number": 3, "title": "“一带一路”资源禀赋与发展需求", "part": "", "in_corpus": False, "toc_page": 23,
         "sections": toc_sections("“一带一路”重点国家和地区资源禀赋和需求", "目标国家筛选")},
        {"number": 4, "title": "“一带一路”产能合作政策诉求分析", "part": "", "in_corpus": False, "toc_page": 41,
         "sections": toc_sections("发达国家产能合作政策实施经验", "中国现有产能合作政策梳理",
                                  "重点行业国际产能合作现状与需求", "“一带一路”产能合作政策协同存在的问题")},
        {"number": 5, "title": "产能合作典型企业案例", "part": "", "in_corpus": False, "toc_page": 103,
         "sections": toc_sections("基于重点行业分类", "聚焦“一轴两翼”重点国家分类")},
        {"number": 6, "title": "“一带一路”产能合作模式分析", "part": "", "in_corpus": False, "toc_page": 207,
         "sections": toc_sections("PPP 模式分析", "拓展融资渠道、创新融资模式相关模式分析", "海外研发模式分析")},
        {"number": 7, "title": "产能合作政策协同机制", "part": "", "in_corpus": False, "toc_page": 221,
         "sections": toc_sections("建立健全法律法规体系", "完善“一带一路”产能合作的支撑服务体系",
                                  "构建促进“一带一路”产能合作的政策协同机制", "做好“一带一路”产能合作配套服务",
                                  "制定申报和审批制度，防止海外恶性竞争")},
    ],
}]}


def test_outline_dict_of_the_book(book):
    assert outline_dict(book.documents) == BOOK_OUTLINE


def test_find_chapter_in_corpus(book):
    doc, chapter = find_chapter(book.documents, 1)
    assert doc.doc_id == DOC and chapter.title == "产能合作的背景与意义" and chapter.in_corpus
    assert find_chapter(book.documents, 1, doc_id=DOC)[1] is chapter


def test_find_chapter_listed_but_not_in_corpus(book):
    with pytest.raises(ChapterNotInCorpus) as e:
        find_chapter(book.documents, 6)
    assert str(e.value) == ("chapter 6 ““一带一路”产能合作模式分析” is listed in the table of contents "
                            "(目录, page 207) but its text is not in the corpus; chapters with text: 1")
    assert (e.value.number, e.value.title, e.value.toc_page) == (6, "“一带一路”产能合作模式分析", 207)
    assert isinstance(e.value, LookupError)


def test_find_chapter_unknown(book):
    with pytest.raises(ChapterNotFound, match=r"^no chapter 9; available chapters: 1, 2, 3, 4, 5, 6, 7$"):
        find_chapter(book.documents, 9)
    with pytest.raises(ChapterNotFound, match=r"no document 'nope' in the corpus \(documents: belt-and-road"):
        find_chapter(book.documents, 1, doc_id="nope")


def test_chapter_passages_in_reading_order(book):
    passages = chapter_passages(list(reversed(book.passages)), DOC, 1)
    assert passages == sorted(passages, key=lambda p: p.start)
    assert {p.chapter for p in passages} == {1}
    assert passages[0].text.startswith("第一章 产能合作的背景与意义")
    assert len(passages) == len([p for p in book.passages if p.chapter == 1])


@pytest.mark.parametrize("section", [2, "2", "第二节 推进国际产能合作的背景与意义", "推进国际产能合作的背景与意义"])
def test_chapter_passages_of_one_section(book, section):
    passages = chapter_passages(book.passages, DOC, 1, section=section)
    assert passages and {p.section for p in passages} == {"第二节 推进国际产能合作的背景与意义"}


def test_chapter_passages_unknown_section_or_chapter(book):
    with pytest.raises(SectionNotFound, match=r"chapter 1 has no section 5; sections: 第一节 “一带一路”的内涵; 第二节"):
        chapter_passages(book.passages, DOC, 1, section=5)
    with pytest.raises(ChapterNotFound, match=r"no passages for chapter 6 in .*; chapters with text: 1$"):
        chapter_passages(book.passages, DOC, 6)


def test_chapter_dict(book):
    doc, chapter = find_chapter(book.documents, 1)
    data = chapter_dict(doc, chapter, book.passages)
    assert (data["number"], data["title"]) == (1, "产能合作的背景与意义")
    assert set(data) == {"number", "title", "passages"}
    mine = [p for p in book.passages if p.chapter == 1]
    assert [d["passage_id"] for d in data["passages"]] == [p.passage_id for p in mine]
    first = data["passages"][0]
    assert set(first) == {"passage_id", "doc_id", "section", "subsection", "source", "start", "end", "text",
                          "page", "page_end", "page_label"}
    assert first["page"] is None  # a .txt has no pages
    assert doc.text[first["start"]:first["end"]].startswith("第一章 产能合作的背景与意义")


def test_render_outline_text(book):
    text = render_outline_text(book.documents)
    lines = text.splitlines()
    assert lines[0] == f"“一带一路”工业文明  [{DOC}]  belt-and-road-capacity-cooperation.txt"
    assert "  书前部分" in lines and "    内容简介" in lines and "    目录" in lines
    assert "    第一章 产能合作的背景与意义（第 1 页）" in lines
    assert "      第二节 推进国际产能合作的背景与意义" in lines
    assert "        一、“一带一路”将有效化解我国产能过剩" in lines
    assert "    第六章 “一带一路”产能合作模式分析（正文未收录，目录第 207 页）" in lines
    assert "      第一节 PPP 模式分析" in lines
    assert "    版权页" in lines
    assert text.endswith("防止海外恶性竞争\n  书后部分\n    参考文献（正文未收录，目录第 228 页）\n")
    assert not re.search("[A-Za-z]", "\n".join(lines[1:]).replace("PPP", ""))  # no English beside the book's titles


def test_an_english_book_keeps_english_outline_words(write):
    corpus = load_corpus([write("guide.txt", "A Small Guide\n\nPreface\n\nThis guide is short.\n\n"
                                             "Chapter 1 Getting started\n\nInstall the tool and run it.\n\n"
                                             "Chapter 2 Asking\n\nAsk a question and read the answer.\n")])
    lines = render_outline_text(corpus.documents).splitlines()
    assert lines[1:] == ["  Front matter", "    Preface", "  Chapters", "    Chapter 1 Getting started",
                         "    Chapter 2 Asking"]


def test_outline_of_a_document_without_chapters(write):
    corpus = load_corpus([write("plain.txt", "没有标题的文字。\n")])
    assert outline_dict(corpus.documents) == {"documents": [
        {"doc_id": "plain", "title": "plain", "front_matter": [], "chapters": []}]}
    assert render_outline_text(corpus.documents) == "plain  [plain]  plain.txt\n"
    with pytest.raises(ChapterNotFound, match="available chapters: none"):
        find_chapter(corpus.documents, 1)
