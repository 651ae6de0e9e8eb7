from __future__ import annotations

import pytest

from docqa.ingest.chunk import (DEFAULT_OVERLAP_SENTENCES, DEFAULT_TARGET_CHARS, chunk_document,
                          chunker_settings, split_long)
from docqa.ingest.pipeline import CHUNKER_SETTINGS, load_corpus
from docqa.ingest.read import read_documents
from docqa.ingest.structure import structure_document
from docqa.ingest.text import compact, normalize
from tests.ingest.conftest import BOOK


def spans_of(doc):
    """Every boundary a passage must stay inside, as (start, end, kind, section, subsection)."""
    out = [(f.start, f.end, "toc" if f.kind == "toc" else "front_matter", f.title, None)
           for f in doc.front_matter]
    for ch in doc.chapters:
        if not ch.in_corpus:
            continue
        intro_end = ch.sections[0].start if ch.sections else ch.end
        out.append((ch.start, intro_end, "body", None, None))
        for sec in ch.sections:
            sub_start = sec.subsections[0].start if sec.subsections else sec.end
            out.append((sec.start, sub_start, "body", sec.heading, None))
            out.extend((sub.start, sub.end, "body", sec.heading, sub.title) for sub in sec.subsections)
    out.extend((s.start, s.end, "front_matter", None, None) for s in doc.loose_sections)
    return out


def test_every_passage_round_trips_to_its_source_span(book, book_doc):
    assert len(book.passages) > 20
    for p in book.passages:
        assert compact(book_doc.text[p.start:p.end]) == compact(p.text), p.passage_id
        assert p.text == p.text.strip()


def test_no_passage_crosses_a_section_boundary(book, book_doc):
    bounds = spans_of(book_doc)
    for p in book.passages:
        inside = [b for b in bounds if b[0] <= p.start and p.end <= b[1]]
        assert len(inside) == 1, p.passage_id
        _, _, kind, section, subsection = inside[0]
        assert (p.kind, p.section, p.subsection) == (kind, section, subsection), p.passage_id


def test_passages_cover_all_text_but_headings_with_nothing_under_them(book, book_doc):
    text = book_doc.text
    covered = set()
    for p in book.passages:
        covered.update(range(p.start, p.end))
    missing = "".join(c if i not in covered and not c.isspace() else " " for i, c in enumerate(text)).split()
    assert missing == ["第二节", "推进国际产能合作的背景与意义"]


def test_page_breaks_are_joined_in_passage_text(book):
    texts = [p.text for p in book.passages]
    for joined in ("发展面临难得的机遇", "我国有 42.8% 的行业", "不仅能对冲美国主导的", "围绕工业和信息化部产业发展职责需求"):
        assert any(joined in t for t in texts), joined
    assert any("我国有42.8%的行业" in normalize(t) for t in texts)
    assert not any("发展面\n" in t for t in texts)


def test_ids_are_stable_unique_and_in_reading_order(book):
    again = load_corpus([BOOK])
    assert [p.to_dict() for p in again.passages] == [p.to_dict() for p in book.passages]
    ids = [p.passage_id for p in book.passages]
    assert len(set(ids)) == len(ids)
    assert ids[:2] == ["belt-and-road-capacity-cooperation:0001", "belt-and-road-capacity-cooperation:0002"]
    assert [p.start for p in book.passages] == sorted(p.start for p in book.passages)


def test_no_passage_is_only_a_heading(book, book_doc):
    for p in book.passages:
        assert not any(s <= p.start and p.end <= e for s, e in book_doc.heading_spans), p.passage_id
        assert compact(p.text) != compact("".join(p.heading_path))


def test_heading_line_goes_with_the_text_after_it(book):
    first_section = [p for p in book.passages if p.section == "第一节 “一带一路”的内涵"][0]
    assert first_section.text.startswith("第一节 “一带一路”的内涵\n\n2013年下半年，")
    intro = [p for p in book.passages if p.chapter == 1 and p.section is None]
    assert len(intro) == 1 and intro[0].text.startswith("第一章 产能合作的背景与意义\n\n国际产能合作是指")


def test_passage_labels(book):
    p = next(p for p in book.passages if "42.8%" in p.text)
    assert (p.doc_id, p.title, p.chapter, p.chapter_title) == (
        "belt-and-road-capacity-cooperation", "“一带一路”工业文明", 1, "产能合作的背景与意义")
    assert (p.section, p.section_number, p.subsection) == (
        "第二节 推进国际产能合作的背景与意义", 2, "一、“一带一路”将有效化解我国产能过剩")
    assert p.heading_path == ["第一章 产能合作的背景与意义", "第二节 推进国际产能合作的背景与意义",
                              "一、“一带一路”将有效化解我国产能过剩"]
    assert (p.source, p.kind) == ("belt-and-road-capacity-cooperation.txt", "body")
    fm = next(p for p in book.passages if "ISBN" in p.text)
    assert (fm.kind, fm.chapter, fm.section, fm.heading_path) == ("front_matter", None, "版权页", ["版权页"])


def test_contents_passages_hold_one_chapter_entry_each(book):
    toc = [p for p in book.passages if p.kind == "toc"]
    assert len(toc) == 7
    assert all((p.section, p.heading_path, p.chapter) == ("目录", ["目录"], None) for p in toc)
    assert toc[0].text.startswith("Contents 目录\n\n第一章 001\n产能合作的背景与意义")
    assert toc[5].text == ("第六章 207\n\n“一带一路”产能合作模式分析\n\n第一节 PPP 模式分析 / 207\n\n"
                           "第二节 拓展融资渠道、创新融资模式相关模式分析 / 212\n\n第三节 海外研发模式分析 / 219")


def test_sizes_respect_target_and_max(book):
    body = [p for p in book.passages if p.kind != "toc"]
    assert max(p.end - p.start for p in book.passages) <= 2 * DEFAULT_TARGET_CHARS
    lengths = sorted(len(p.text) for p in body)
    assert 0.8 * DEFAULT_TARGET_CHARS <= lengths[len(lengths) // 2] <= 1.4 * DEFAULT_TARGET_CHARS


def test_consecutive_passages_overlap_by_one_sentence(book_doc):
    small = load_corpus([BOOK], target_chars=300)
    section = [p for p in small.passages if p.section == "第一节 “一带一路”的内涵"]
    assert len(section) >= 3
    for a, b in zip(section, section[1:]):
        shared = book_doc.text[b.start:a.end]
        assert b.start < a.end and shared.endswith("。") and shared.count("。") == 1


def test_target_and_overlap_are_parameters(book):
    small = load_corpus([BOOK], target_chars=120, overlap_sentences=0)
    assert len(small.passages) > len(book.passages)
    assert max(p.end - p.start for p in small.passages) <= 240
    for a, b in zip(small.passages, small.passages[1:]):
        assert a.end <= b.start


def test_chunker_settings():
    assert CHUNKER_SETTINGS == chunker_settings() == {
        "version": 2, "target_chars": DEFAULT_TARGET_CHARS, "max_chars": 2 * DEFAULT_TARGET_CHARS,
        "overlap_sentences": DEFAULT_OVERLAP_SENTENCES}
    assert chunker_settings(200, 0)["max_chars"] == 400


def test_very_long_sentence_is_split_at_commas(write):
    clause = "这是一个很长的分句没有句号"
    text = "第一章 长句\n\n" + "，".join([clause] * 80) + "。\n"
    corpus = load_corpus([write("long.txt", text)], target_chars=100)
    parts = corpus.passages
    assert len(parts) > 5
    for p in parts:
        assert p.end - p.start <= 200
        assert compact(text[p.start:p.end]) == compact(p.text)
    assert all(text[p.end - 1] in "，。" for p in parts)


def test_split_long_falls_back_to_spaces_then_a_hard_cut():
    text = "甲乙丙 " * 50
    assert all(e - s <= 20 for s, e in split_long(text, 0, len(text) - 1, 20))
    solid = "字" * 45
    assert split_long(solid, 0, 45, 20) == [(0, 20), (20, 40), (40, 45)]


def test_latin_text_is_split_at_full_stops_and_wraps_become_spaces(write):
    text = ("# Notes\n\nThe first sentence is here. The second one wraps across\nthe line end. "
            "Third!\n")
    corpus = load_corpus([write("en.md", text)])
    (p,) = corpus.passages
    assert p.text == "# Notes\n\nThe first sentence is here. The second one wraps across the line end. Third!"


def test_short_lines_keep_their_line_breaks(write):
    text = "第一章 名单\n\n主任：张三 李四\n副主任：王五 赵六\n"
    (p,) = load_corpus([write("list.txt", text)]).passages
    assert p.text == "第一章 名单\n\n主任：张三 李四\n副主任：王五 赵六"


def test_documents_without_headings_are_chunked_as_body(write):
    text = "这是一段没有标题的文字。第二句话在这里。\n\n第二段也没有标题。\n"
    corpus = load_corpus([write("plain.txt", text)])
    (p,) = corpus.passages
    assert (p.kind, p.chapter, p.section, p.heading_path) == ("body", None, None, [])
    assert p.text == "这是一段没有标题的文字。第二句话在这里。\n\n第二段也没有标题。"


def test_heading_only_segments_make_no_passage(write):
    text = "第一章 总论\n\n第一节 概述\n\n一、要点\n\n要点正文。\n"
    corpus = load_corpus([write("h.txt", text)])
    (p,) = corpus.passages
    assert p.text == "一、要点\n\n要点正文。"
    assert p.heading_path == ["第一章 总论", "第一节 概述", "一、要点"]


def test_bad_parameters_are_refused(book_doc):
    with pytest.raises(ValueError):
        chunk_document(book_doc, target_chars=0)


def test_documents_read_back_from_json_chunk_the_same(book, book_doc):
    import dataclasses
    import json

    from docqa.ingest.model import Document

    data = json.loads(json.dumps(dataclasses.asdict(book_doc), ensure_ascii=False))
    again = dataclasses.replace(book_doc, heading_spans=data["heading_spans"], page_breaks=data["page_breaks"])
    assert isinstance(again, Document)
    assert [p.to_dict() for p in chunk_document(again)] == [p.to_dict() for p in book.passages]


def test_ingest_reads_the_text_a_fixed_number_of_times_however_many_contents(tmp_path, monkeypatch):
    """Chunking once re-split the text up to every contents block: quadratic in their number."""
    from tests.bookgen import book
    from docqa.ingest import chunk
    from docqa.ingest.structure import document as structure

    text = book(300_000, chapters_per_volume=2, sections=2, paragraphs=1)
    path = tmp_path / "volumes.txt"
    path.write_text(text, encoding="utf-8")
    scanned: list[int] = []
    real = structure.split_lines

    def counting(t):
        scanned.append(len(t))
        return real(t)

    for module in (structure, chunk):
        monkeypatch.setattr(module, "split_lines", counting)
    corpus = load_corpus([path])
    contents = [f for f in corpus.documents[0].front_matter if f.kind == "toc"]
    assert len(contents) >= 30
    assert sum(p.kind == "toc" for p in corpus.passages) >= 30
    assert sum(scanned) <= 3 * len(text)


def test_passages_hold_whole_units_and_name_them(write):
    from tests.ingest.test_structure import CODE

    (doc,) = read_documents([write("code.md", CODE)])
    doc = structure_document(doc)
    passages = chunk_document(doc)
    assert [p.unit for p in passages] == ["第一条", "第二条", "第三条", "第四条", "第五条", "第6条", "第七条"]
    assert [p.unit_number for p in passages] == [1, 2, 3, 4, 5, 6, 7]
    for p, (start, end, _, _) in zip(passages, doc.units):
        assert p.start <= start and p.end == end
    assert passages[5].part == "第二编 物权 › 第一分编 通则"
    assert passages[5].heading_path == ["第二编 物权", "第一分编 通则", "第二章 物权的设立", "第一节 生活、卫生", "第6条"]


def test_a_long_unit_is_split_at_sentences_within_it(write):
    long_unit = "第二条 " + "".join(f"第{i}项规定应当遵守，违者依法处理。" for i in range(60))
    text = f"## 第一章 总则\n\n第一条 短条。\n\n{long_unit}\n\n第三条 本法自公布之日起施行。\n"
    (doc,) = read_documents([write("law.md", text)])
    doc = structure_document(doc)
    passages = chunk_document(doc, target_chars=200)
    second = [p for p in passages if p.unit == "第二条"]
    assert len(second) > 2
    s, e = doc.units[1][:2]
    assert all(s <= p.start and p.end <= e for p in second)
    assert all(doc.text[p.start - 1] in "。 \n" for p in second)  # cut at sentences
    assert [p.unit for p in passages if p.unit != "第二条"] == ["第一条", "第三条"]
