"""The one renderer of passages and citations: what the CLI, the API and chat all show."""
from __future__ import annotations

import pytest

from docqa.ingest.model import Passage
from docqa.service import chat
from docqa.service.format import cited, citation_label, location, page_text, passage_dict


def passage(**overrides) -> Passage:
    base = dict(passage_id="book:0001", doc_id="book", title="书", chapter=1, chapter_title="背景",
                section="第一节 内涵", section_number=1, subsection=None,
                heading_path=["第一章 背景", "第一节 内涵"], source="book.pdf", start=10, end=20, text="一段引文。")
    return Passage(**{**base, **overrides})


@pytest.mark.parametrize("fields, en, zh", [
    ({}, None, None),
    ({"page": 12}, "p. 12", "第 12 页"),
    ({"page": 12, "page_end": 12}, "p. 12", "第 12 页"),
    ({"page": 12, "page_end": 13}, "pp. 12–13", "第 12–13 页"),
    ({"page": 14, "page_end": 15, "page_label": "xii"}, "p. xii", "第 xii 页"),
])
def test_page_text(fields, en, zh):
    p = passage(**fields)
    assert page_text(p) == en and page_text(p, chinese=True) == zh
    assert page_text(passage_dict(p)) == en  # the same from the data a client receives


def test_location_names_the_page_only_when_there_is_one():
    assert location(passage()) == "book.pdf, chars 10–20"
    assert location(passage(page=12)) == "book.pdf, p. 12, chars 10–20"
    assert location(passage(page=12), chinese=True) == "book.pdf, 第 12 页, chars 10–20"


def test_passage_dict_carries_heading_and_pages():
    data = passage_dict(passage(page=3, page_end=4, page_label="iii"), 0.5)
    assert data["heading"] == "第一章 背景 › 第一节 内涵" == citation_label(passage())
    assert (data["page"], data["page_end"], data["page_label"], data["score"]) == (3, 4, "iii", 0.5)
    full = passage_dict(passage(), full=True)
    assert full["heading_path"] == ["第一章 背景", "第一节 内涵"] and full["section_number"] == 1
    assert "score" not in full


def test_chat_reply_cites_the_page_in_the_answer_language():
    cites = [passage_dict(passage(page=12), 0.9)]
    assert "[1] 《书》 第一章 背景 › 第一节 内涵 (book.pdf, 第 12 页, chars 10–20)\n> 一段引文。" in "".join(chat.reply_pieces("答案。", cites))
    assert "(book.pdf, p. 12, chars 10–20)" in "".join(chat.reply_pieces("The answer.", cites))
    assert "(book.pdf, chars 10–20)" in "".join(chat.reply_pieces("答案。", [passage_dict(passage(), 0.9)]))


def test_a_citation_names_the_book_unless_its_title_is_only_the_file_name():
    assert cited(passage()) == "《书》 第一章 背景 › 第一节 内涵" == cited(passage_dict(passage()))
    assert cited(passage(heading_path=[])) == "《书》"
    assert cited(passage(title="book")) == "第一章 背景 › 第一节 内涵"  # the title was the file's name
    cites = [passage_dict(passage(page=12), 0.9)]
    assert "[1] 《书》 第一章 背景 › 第一节 内涵 (book.pdf, 第 12 页, chars 10–20)" in "".join(chat.reply_pieces("答案。", cites))
