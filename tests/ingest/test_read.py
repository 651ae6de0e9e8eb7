from __future__ import annotations

import hashlib
import json

import pytest

from docqa.ingest.model import IngestError
from docqa.ingest.pipeline import load_corpus
from docqa.ingest.read import decode, guess_title, read_documents, slug
from tests.ingest.conftest import BOOK


def test_bundled_book_is_read_as_one_document():
    (doc,) = read_documents([BOOK])
    raw = BOOK.read_bytes()
    assert doc.doc_id == "belt-and-road-capacity-cooperation"
    assert doc.title == "“一带一路”工业文明"
    assert doc.source == "belt-and-road-capacity-cooperation.txt"
    assert doc.text == raw.decode("utf-8")
    assert doc.checksum == hashlib.sha256(raw).hexdigest()
    assert doc.line is None


def test_single_file_root_is_its_folder(book):
    assert book.root == str(BOOK.parent)
    assert book.documents[0].source == BOOK.name


def test_folder_is_read_recursively_in_sorted_order_and_skips_other_files(tmp_path, write):
    write("z.txt", "最后一个文件。")
    write("a/b.txt", "子目录里的文件。")
    write("c.md", "# 标题\n\n正文。")
    write("notes.rtf", b"{\\rtf1 notes}")
    write(".hidden/x.txt", "隐藏的。")
    docs = read_documents([tmp_path])
    assert [d.source for d in docs] == ["a/b.txt", "c.md", "z.txt"]
    assert [d.doc_id for d in docs] == ["a-b", "c", "z"]


def test_doc_ids_are_unique_slugs():
    assert slug("books/第一卷 上.txt") == "books-第一卷-上"
    assert slug("Belt & Road.md") == "belt-road"


def test_clashing_slugs_get_a_suffix(tmp_path, write):
    write("x.md", "甲。")
    write("x.txt", "乙。")
    assert [d.doc_id for d in read_documents([tmp_path])] == ["x", "x-2"]


def test_gbk_file_is_decoded(tmp_path, write):
    text = "第一章 总论\n\n这是用GBK编码的中文文本，内容简短。"
    path = write("gbk.txt", text, encoding="gbk")
    (doc,) = read_documents([path])
    assert doc.text == text
    assert doc.metadata == {"encoding": "gb18030"}


def test_utf8_bom_is_removed_and_offsets_index_the_text(write):
    path = write("bom.txt", "\ufeff第一章 开始\n\n第一句话。第二句话。\n")
    corpus = load_corpus([path])
    doc = corpus.documents[0]
    assert not doc.text.startswith("\ufeff")
    chapter = doc.chapters[0]
    assert chapter.start == 0
    assert doc.text[chapter.start:chapter.start + 6] == "第一章 开始"
    (passage,) = corpus.passages
    assert doc.text[passage.start:passage.end] == "第一章 开始\n\n第一句话。第二句话。"


def test_crlf_is_kept_and_offsets_stay_exact(write):
    path = write("crlf.txt", "第一章 开始\r\n\r\n第一节 起源\r\n\r\n起源的正文，讲了很多事情。\r\n第二行接着写。\r\n")
    corpus = load_corpus([path])
    doc = corpus.documents[0]
    assert "\r\n" in doc.text
    section = doc.chapters[0].sections[0]
    assert doc.text[section.start:section.end] == "第一节 起源\r\n\r\n起源的正文，讲了很多事情。\r\n第二行接着写。"
    (passage,) = corpus.passages
    assert (passage.start, passage.end) == (section.start, section.end)
    assert passage.text == "第一节 起源\n\n起源的正文，讲了很多事情。\n第二行接着写。"


def test_utf16_with_bom_is_recognised_by_the_fallback_detector(write):
    path = write("u16.txt", "第一章 总论\n\n这是UTF-16编码的中文文本。", encoding="utf-16")
    (doc,) = read_documents([path])
    assert doc.text == "第一章 总论\n\n这是UTF-16编码的中文文本。"


def test_jsonl_documents_keep_extra_keys_as_metadata(tmp_path, write):
    lines = [
        {"id": "a1", "title": "甲篇", "text": "第一章 开始\n\n正文。", "author": "张三", "year": 2001},
        {"id": "a2", "text": "没有标题的文档。第二句。"},
        {"text": "乙篇\n\n没有编号的文档。"},
    ]
    path = write("sub/docs.jsonl", "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n\n")
    docs = read_documents([path.parent], root=tmp_path)
    assert [(d.doc_id, d.title, d.line, d.source) for d in docs] == [
        ("a1", "甲篇", 1, "sub/docs.jsonl"),
        ("a2", "a2", 2, "sub/docs.jsonl"),
        ("sub-docs-3", "乙篇", 3, "sub/docs.jsonl"),
    ]
    assert docs[0].metadata == {"author": "张三", "year": 2001}
    assert docs[1].metadata == {}
    assert docs[0].text == "第一章 开始\n\n正文。"
    assert docs[0].checksum == hashlib.sha256(path.read_bytes()).hexdigest()


def test_jsonl_passages_index_into_the_line_text(write):
    path = write("docs.jsonl", json.dumps({"id": "d", "title": "t", "text": "第一句话。\n\n第二句话。"}) + "\n")
    corpus = load_corpus([path])
    (passage,) = corpus.passages
    assert passage.doc_id == "d"
    assert corpus.documents[0].text[passage.start:passage.end] == "第一句话。\n\n第二句话。"


def test_titles():
    assert guess_title("\n\n# 我的文档\n\n正文。") == "我的文档"
    assert guess_title(".....★★★.....\n“一带一路”工业文明\n.....") == "“一带一路”工业文明"
    assert guess_title("这是一段很长的正文，没有任何标题，所以标题只能来自文件名。") is None
    assert guess_title("第一章 开始\n\n正文。") is None


def test_title_falls_back_to_file_stem(write):
    path = write("无题.txt", "这是一段正文。")
    assert read_documents([path])[0].title == "无题"


# --- refusals -----------------------------------------------------------------------------

def test_undecodable_bytes_name_file_and_byte_offset(write):
    path = write("bad.txt", b"hello \xff\xfe world")
    with pytest.raises(IngestError) as e:
        read_documents([path])
    assert str(e.value).startswith("bad.txt: cannot decode the file: byte 0xff at byte offset 6")
    assert "convert the file to UTF-8" in str(e.value)


def test_decode_reports_where_the_likelier_encoding_failed():
    data = "中文内容".encode("gbk") + b"\xff"
    with pytest.raises(IngestError, match="byte offset 8 is not valid GB18030/GBK"):
        decode(data, "x.txt")


@pytest.mark.parametrize("content", [b"", b"   \n\t\r\n", "\ufeff\n".encode("utf-8")])
def test_empty_file_is_refused(write, content):
    path = write("empty.txt", content)
    with pytest.raises(IngestError, match=r"^empty.txt: the file is empty"):
        read_documents([path])


@pytest.mark.parametrize("line, message", [
    ("{not json", r"docs.jsonl, line 2: invalid JSON"),
    ('["a list"]', r"docs.jsonl, line 2: expected a JSON object, got list"),
    ('{"id": "b"}', r'docs.jsonl, line 2: missing or empty "text"'),
    ('{"id": "b", "text": "  "}', r'docs.jsonl, line 2: missing or empty "text"'),
    ('{"id": "b", "text": 5}', r'docs.jsonl, line 2: missing or empty "text"'),
    ('{"id": 7, "text": "正文。"}', r'docs.jsonl, line 2: "id" must be a string, got int'),
    ('{"id": "b", "title": ["x"], "text": "正文。"}', r'docs.jsonl, line 2: "title" must be a string'),
    ('{"id": "a", "text": "正文。"}', r"docs.jsonl, line 2: duplicate id 'a' \(first used on line 1\)"),
])
def test_bad_jsonl_line_names_file_and_line(write, line, message):
    path = write("docs.jsonl", '{"id": "a", "text": "第一篇。"}\n' + line + "\n")
    with pytest.raises(IngestError, match=message):
        read_documents([path])


def test_duplicate_jsonl_ids_across_files_are_refused(tmp_path, write):
    write("a.jsonl", '{"id": "same", "text": "一。"}\n')
    write("b.jsonl", '{"id": "same", "text": "二。"}\n')
    with pytest.raises(IngestError, match=r"b.jsonl, line 1: duplicate id 'same' \(also a.jsonl, line 1\)"):
        read_documents([tmp_path])


def test_one_bad_file_fails_the_whole_folder(tmp_path, write):
    write("a.txt", "好的文件。")
    write("b.txt", b"")
    with pytest.raises(IngestError, match="b.txt"):
        load_corpus([tmp_path])


def test_missing_path_is_refused(tmp_path):
    with pytest.raises(IngestError, match=r"nope.txt: no such file or folder"):
        read_documents([tmp_path / "nope.txt"])


def test_unsupported_extension_given_explicitly_is_refused(write):
    path = write("book.rtf", b"{\\rtf1 notes}")
    with pytest.raises(IngestError, match=r"book.rtf: unsupported file type '.rtf'"):
        read_documents([path])


def test_folder_without_readable_files_is_refused(tmp_path, write):
    write("book.rtf", b"{\\rtf1 notes}")
    with pytest.raises(IngestError, match="no readable files"):
        read_documents([tmp_path])

