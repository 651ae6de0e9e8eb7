from __future__ import annotations

import pytest

from docqa.ingest.model import Document
from docqa.ingest.read import read_documents
from docqa.ingest.structure import cn_number, structure_document, toc_entry

TOC_TITLES = {
    1: "产能合作的背景与意义",
    2: "产能合作理论分析",
    3: "“一带一路”资源禀赋与发展需求",
    4: "“一带一路”产能合作政策诉求分析",
    5: "产能合作典型企业案例",
    6: "“一带一路”产能合作模式分析",
    7: "产能合作政策协同机制",
}


def structured(write, name: str, text: str) -> Document:
    (doc,) = read_documents([write(name, text)])
    return structure_document(doc)


# --- the bundled book ---------------------------------------------------------------------

def test_book_has_the_seven_chapters_of_its_contents(book_doc):
    assert [(c.number, c.title) for c in book_doc.chapters] == list(TOC_TITLES.items())
    assert [c.toc_page for c in book_doc.chapters] == [1, 9, 23, 41, 103, 207, 221]
    assert [c.in_corpus for c in book_doc.chapters] == [True] + [False] * 6
    for chapter in book_doc.chapters[1:]:
        assert chapter.start is None and chapter.end is None


def test_book_chapter_one_sections_and_subsections(book_doc):
    text = book_doc.text
    ch = book_doc.chapters[0]
    assert ch.heading == "第一章 产能合作的背景与意义"
    assert text[ch.start:].startswith("第一章 产能合作的背景与意义\n")
    assert ch.end == len(text.rstrip())
    assert [(s.number, s.title, s.heading) for s in ch.sections] == [
        (1, "“一带一路”的内涵", "第一节 “一带一路”的内涵"),
        (2, "推进国际产能合作的背景与意义", "第二节 推进国际产能合作的背景与意义"),
    ]
    assert [s.toc_page for s in ch.sections] == [1, 3]
    assert text[ch.sections[0].start:].startswith("第一节\n\n“一带一路”的内涵\n\n2013年下半年")
    assert ch.sections[0].subsections == []
    subs = ch.sections[1].subsections
    assert [s.title for s in subs] == [
        "一、“一带一路”将有效化解我国产能过剩",
        "二、“一带一路”有助于加速我国改革开放的进程",
        "三、“一带一路”倡议是加强区域合作的需要",
        "四、“一带一路”产能合作需要政策协同",
    ]
    for sub in subs:
        assert text[sub.start:].startswith(sub.title + "\n")
        assert ch.sections[1].start < sub.start < sub.end <= ch.sections[1].end
    assert ch.sections[0].end < ch.sections[1].start
    assert text[:ch.sections[0].end].endswith("（南雪芹，2015）。")


def test_book_sections_of_missing_chapters_come_from_the_contents(book_doc):
    ch6 = book_doc.chapters[5]
    assert [(s.number, s.title, s.toc_page) for s in ch6.sections] == [
        (1, "PPP 模式分析", 207),
        (2, "拓展融资渠道、创新融资模式相关模式分析", 212),
        (3, "海外研发模式分析", 219),
    ]
    assert [len(c.sections) for c in book_doc.chapters] == [2, 3, 2, 4, 2, 3, 5]


def test_book_front_matter_blocks(book_doc):
    text = book_doc.text
    assert [(f.title, f.kind) for f in book_doc.front_matter] == [
        ("内容简介", "front_matter"),
        ("版权页", "front_matter"),
        ("“一带一路”工业文明丛书编委会", "front_matter"),
        ("作者简介", "front_matter"),
        ("总序", "front_matter"),
        ("前言", "front_matter"),
        ("目录", "toc"),
        ("参考文献", "back_matter"),
    ]
    starts = [text[f.start:].split("\n")[0] for f in book_doc.front_matter]
    assert starts == ["内 容 简 介", "未经许可，不得以任何方式复制或抄袭本书之部分或全部内容。",
                      "“一带一路”工业文明丛书编委会", "作者 简介", "Preface", "Foreword", "Contents", "参考文献 228"]
    blocks = {f.title: text[f.start:f.end] for f in book_doc.front_matter}
    assert "ISBN 978-7-121-30590-0" in blocks["版权页"] and "ISBN" not in blocks["内容简介"]
    assert blocks["内容简介"].endswith("提供有价值的信息。")
    listed = book_doc.front_matter[-1]
    assert (listed.in_corpus, listed.toc_page) == (False, 228)
    assert blocks["作者简介"].endswith("企业投资管理和绩效评价等方面有深入研究。")
    assert blocks["前言"].endswith("编著者\n\n2018年4月")
    assert blocks["目录"].endswith("参考文献 228")


def test_book_contents_are_never_taken_for_body_chapters(book_doc):
    toc = next(f for f in book_doc.front_matter if f.kind == "toc")
    body = book_doc.chapters[0]
    assert toc.end < body.start
    assert body.start == book_doc.text.index("第一章 产能合作的背景与意义")


def test_book_title_page_is_loose_text_before_the_front_matter(book_doc):
    (loose,) = book_doc.loose_sections
    assert (loose.number, loose.title) == (None, "")
    assert book_doc.text[loose.start:loose.end].startswith(".....★★★.....\n“一带一路”工业文明")
    assert loose.end < book_doc.front_matter[0].start


def test_book_page_breaks_are_found(book_doc):
    text = book_doc.text
    assert [(text[a - 4:a], text[a:b], text[b:b + 4]) for a, b in book_doc.page_breaks] == [
        ("化部产业", "\n\n", "发展职责"),
        ("的发展面", "\n\n", "临难得的"),
        ("前，我国", "\n\n", "有 42"),
        ("，不仅能", "\n\n", "对冲美国"),
    ]


def test_book_heading_spans_cover_title_on_next_line(book_doc):
    text = book_doc.text
    spans = [text[a:b] for a, b in book_doc.heading_spans]
    assert "第一节\n\n“一带一路”的内涵" in spans
    assert "Contents\n\n目录" in spans
    assert "内 容 简 介" in spans


# --- general rules on small documents -----------------------------------------------------

ARABIC = """示例书

目录

第1章 开端 1
第2章 发展 5

第1章

开端

这是第一章的引言。它很短。

第1节 起源

起源的正文在这里，讲述了很多事情。

第2节

经过

一、第一点

第一点的内容。

二、第二点

第二点的内容。

第2章 发展

发展的正文。

后记

写完了。
"""


def test_arabic_numerals_title_on_next_line_and_back_matter(write):
    doc = structured(write, "arabic.txt", ARABIC)
    text = doc.text
    assert [(c.number, c.title, c.heading, c.in_corpus, c.toc_page) for c in doc.chapters] == [
        (1, "开端", "第1章 开端", True, 1),
        (2, "发展", "第2章 发展", True, 5),
    ]
    ch1 = doc.chapters[0]
    assert text[ch1.start:ch1.end].startswith("第1章\n\n开端\n\n这是第一章的引言。")
    assert [(s.number, s.title, s.heading) for s in ch1.sections] == [(1, "起源", "第1节 起源"), (2, "经过", "第2节 经过")]
    assert [s.title for s in ch1.sections[1].subsections] == ["一、第一点", "二、第二点"]
    assert ch1.end == text.index("第2章 发展\n\n发展") - 2
    assert [(f.title, f.kind) for f in doc.front_matter] == [("目录", "toc"), ("后记", "front_matter")]
    assert doc.chapters[1].end == text.index("后记") - 2


def test_chapters_without_sections_take_numbered_headings_as_sections(write):
    doc = structured(write, "yi.txt", "第一章 总论\n\n引言。\n\n一、背景\n\n背景正文。\n\n（一）国内\n\n国内正文。\n\n"
                                      "（二）国外\n\n国外正文。\n\n二、目标\n\n目标正文。\n")
    (ch,) = doc.chapters
    assert [(s.number, s.title, s.heading) for s in ch.sections] == [(1, "背景", "一、背景"), (2, "目标", "二、目标")]
    assert [s.title for s in ch.sections[0].subsections] == ["（一）国内", "（二）国外"]


def test_long_numbered_sentences_are_not_headings(write):
    doc = structured(write, "long.txt", "第一章 总论\n\n一、这一句虽然以编号开头，但它是正文，有句号。\n\n"
                                        "二、这是另一句很长很长的正文，它远远超过了一个标题应有的长度，不应被当成小节标题来看待和处理。\n")
    assert doc.chapters[0].sections == []


def test_markdown_heading_levels_map_to_chapters_sections_subsections(write):
    doc = structured(write, "md.md", "# 我的文档\n\n导语。\n\n## 背景\n\n背景正文。\n\n### 细节\n\n细节正文。\n\n"
                                     "#### 更细\n\n更细正文。\n\n## 方法\n\n方法正文。\n")
    assert doc.title == "我的文档"
    assert [(c.number, c.title, c.heading, c.in_corpus) for c in doc.chapters] == [
        (1, "背景", "背景", True), (2, "方法", "方法", True)]
    assert [(s.number, s.title) for s in doc.chapters[0].sections] == [(1, "细节")]
    assert [s.title for s in doc.chapters[0].sections[0].subsections] == ["更细"]
    (loose,) = doc.loose_sections
    assert doc.text[loose.start:loose.end] == "# 我的文档\n\n导语。"


def test_markdown_chapter_markers_win_over_levels(write):
    doc = structured(write, "book.md", "# 第一章 绪论\n\n引言。\n\n## 研究背景\n\n正文。\n\n## 第二节 方法\n\n正文。\n\n"
                                       "# 第二章 结论\n\n正文。\n")
    assert [(c.number, c.title) for c in doc.chapters] == [(1, "绪论"), (2, "结论")]
    assert [(s.number, s.title, s.heading) for s in doc.chapters[0].sections] == [
        (1, "研究背景", "研究背景"), (2, "方法", "第二节 方法")]


def test_document_without_headings_is_one_loose_section(write):
    text = "这是一段没有标题的文字。第二句话在这里。\n\n第二段也没有标题。\n"
    doc = structured(write, "plain.txt", text)
    assert doc.chapters == [] and doc.front_matter == []
    (loose,) = doc.loose_sections
    assert (loose.number, loose.title, loose.start, loose.end) == (None, "", 0, len(text) - 1)


def test_letter_spaced_and_bilingual_front_matter_names(write):
    doc = structured(write, "fm.txt", "书名\n\n内 容 简 介\n\n本书讲述了一些事情。\n\nForeword\n\n前言\n\n前言正文。\n\n"
                                      "作者 简介\n\n张三，1970年出生。\n\n第一章 开始\n\n正文。\n")
    assert [f.title for f in doc.front_matter] == ["内容简介", "前言", "作者简介"]
    assert doc.text[doc.front_matter[1].start:].startswith("Foreword")


def test_contents_with_dot_leaders_and_front_matter_after_it(write):
    doc = structured(write, "toc.txt", "书名\n\n目 录\n\n前言……………………1\n第一章 总论……………………3\n"
                                       "  第一节 概述……………3\n第二章 分论……………………9\n\n前言\n\n"
                                       "这是前言的内容，写得比较长，说明本书的来历和用途。\n\n第一章 总论\n\n第一节 概述\n\n概述正文。\n")
    assert [(f.title, f.kind) for f in doc.front_matter] == [("目录", "toc"), ("前言", "front_matter")]
    assert [(c.number, c.title, c.in_corpus, c.toc_page) for c in doc.chapters] == [
        (1, "总论", True, 3), (2, "分论", False, 9)]
    assert doc.chapters[0].sections[0].toc_page == 3


def test_body_title_wins_over_the_contents_title(write):
    doc = structured(write, "sp.txt", "目录\n\n第一章 PPP模式分析 1\n第二章 融资 9\n\n第一章 PPP 模式分析\n\n正文。\n")
    assert [(c.number, c.title, c.in_corpus, c.toc_page) for c in doc.chapters] == [
        (1, "PPP 模式分析", True, 1), (2, "融资", False, 9)]


def test_page_break_is_not_joined_before_a_heading_or_list(write):
    doc = structured(write, "pb.txt", "第一章 开始\n\n这一段在页末中断了，后面还有\n\n一、新的小节\n\n"
                                      "这一段也没有结束，但下一段是列表\n\n（1）列表项。\n\n这一段在页末中断，后面接着\n\n写完了这一句。\n")
    text = doc.text
    assert [(text[a - 3:a], text[b:b + 3]) for a, b in doc.page_breaks] == [("面接着", "写完了")]


@pytest.mark.parametrize("s, n", [("一", 1), ("十", 10), ("十二", 12), ("二十", 20), ("一百零五", 105),
                                  ("12", 12), ("１２", 12), ("两", 2)])
def test_cn_number(s, n):
    assert cn_number(s) == n


@pytest.mark.parametrize("line, parsed", [
    ("第一节 “一带一路”的内涵 / 001", ("第一节 “一带一路”的内涵", 1)),
    ("第五章 103", ("第五章", 103)),
    ("003", ("", 3)),
    ("第一章 总论……………3", ("第一章 总论", 3)),
    ("第二节 G20 峰会", ("第二节 G20 峰会", None)),
])
def test_toc_entry(line, parsed):
    assert toc_entry(line) == parsed


DECIMAL = """示例书名

目录

第1章 绪论 / 1
1.1 研究背景 / 1
1.2 研究意义 / 3
第2章 方法 / 5
2.1 数据来源 / 5

第1章 绪论

1.1 研究背景

近年来，随着经济的快速发展，产能合作成为重要议题。

1.1.1 国际环境

国际环境复杂多变，各国之间的合作日益紧密。

1.1.2 国内环境

国内改革不断深化。

1.2 研究意义

本研究具有重要的理论意义和现实意义。

1.5 亿元

1.3 万吨

第2章 方法

2.1 数据来源

数据来自统计年鉴和实地调研。
"""


def test_decimal_numbered_sections_and_subsections(write):
    doc = structured(write, "decimal.txt", DECIMAL)
    ch1, ch2 = doc.chapters
    assert [(s.number, s.title, s.heading, s.toc_page) for s in ch1.sections] == [
        (1, "研究背景", "1.1 研究背景", 1), (2, "研究意义", "1.2 研究意义", 3)]
    assert [u.title for u in ch1.sections[0].subsections] == ["1.1.1 国际环境", "1.1.2 国内环境"]
    # figures at a line's start that break the sequence stay in the text
    assert "1.5 亿元" in doc.text[ch1.sections[1].start:ch1.sections[1].end]
    assert "1.3 万吨" in doc.text[ch1.sections[1].start:ch1.sections[1].end]
    assert [(s.number, s.title) for s in ch2.sections] == [(1, "数据来源")]


def test_decimal_chapters_in_a_paper_without_chapter_markers(write):
    doc = structured(write, "paper.txt", "一种新方法的研究\n\n摘要\n\n本文提出一种新方法。\n\n1 引言\n\n研究问题由来已久。\n\n"
                                         "1.1 研究背景\n\n2019年以来发展迅速。\n\n1.2 本文贡献\n\n贡献有三点。\n\n2 方法\n\n"
                                         "2.1 数据\n\n共1.5万条数据。\n\n3 结论\n\n方法有效。\n\n12 个月后\n\n仍然有效。\n")
    assert [(c.number, c.title, [s.title for s in c.sections]) for c in doc.chapters] == [
        (1, "引言", ["研究背景", "本文贡献"]), (2, "方法", ["数据"]), (3, "结论", [])]
    assert "12 个月后" in doc.text[doc.chapters[2].start:doc.chapters[2].end]


def test_numbers_alone_do_not_make_chapters(write):
    doc = structured(write, "figures.txt", "统计\n\n2 个原因\n\n第一个原因是成本。\n\n3 个结果\n\n结果如下。\n")
    assert doc.chapters == []


@pytest.mark.parametrize("marker, title", [("回", "甄士隐梦幻识通灵"), ("讲", "导论"), ("章", "總論")])
def test_novel_lecture_and_traditional_chapter_markers(write, marker, title):
    doc = structured(write, f"{marker}.txt", f"第一{marker} {title}\n\n正文一。\n\n第一節 源流\n\n正文二。\n\n"
                                            f"第貳{marker} 其二\n\n正文三。\n")
    assert [(c.number, c.title) for c in doc.chapters] == [(1, title), (2, "其二")]
    assert [(s.number, s.title) for s in doc.chapters[0].sections] == [(1, "源流")]


def test_parts_are_chapters_only_in_a_book_without_chapters(write):
    parts = structured(write, "parts.txt", "第一篇 总论\n\n正文一。\n\n第二篇 分论\n\n正文二。\n")
    assert [(c.number, c.title) for c in parts.chapters] == [(1, "总论"), (2, "分论")]
    both = structured(write, "both.txt", "第一篇 总论\n\n第一章 起源\n\n正文一。\n\n第二篇 分论\n\n第二章 发展\n\n正文二。\n")
    assert [(c.number, c.title) for c in both.chapters] == [(1, "起源"), (2, "发展")]


# --- parts above the chapter, numbered units below the section ----------------------------

CODE = """# 示例法典

## 第一编 总 则

### 第一章 基本规定

第一条 为了示范，制定本法。

第二条 本法适用于下列事项：

（一）甲事项

（二）乙事项

第三条 本法自公布之日起施行。

### 第二章 监 护

第四条 监护人应当履行职责。

## 第二编 物权

### 第一分编 通则

#### 第一章 一般规定

第五条 物权受法律保护。

#### 第二章 物权的设立

第一节 生活、卫生。

第6条 不动产物权的设立应当登记。

### 第二分编 所有权

#### 第一章 一般规定

第七条 所有权人享有权利。第三条规定的事项除外。
"""


def test_parts_are_kept_and_chapter_numbers_restart_within_them(write):
    doc = structured(write, "code.md", CODE)
    assert [(c.part, c.number, c.title) for c in doc.chapters] == [
        ("第一编 总则", 1, "基本规定"), ("第一编 总则", 2, "监护"),
        ("第二编 物权 › 第一分编 通则", 1, "一般规定"), ("第二编 物权 › 第一分编 通则", 2, "物权的设立"),
        ("第二编 物权 › 第二分编 所有权", 1, "一般规定")]
    # a part's heading belongs to no chapter's text
    second = doc.chapters[1]
    assert "第二编" not in doc.text[second.start:second.end]


def test_a_heading_ending_in_a_full_stop_and_typeset_spaces(write):
    doc = structured(write, "code.md", CODE)
    ch = doc.chapters[3]
    assert [(s.number, s.title, s.heading) for s in ch.sections] == [(1, "生活、卫生", "第一节 生活、卫生")]
    assert doc.chapters[1].heading == "第二章 监护"


def test_numbered_units_span_their_text_and_lists_inside_them_are_not_headings(write):
    doc = structured(write, "code.md", CODE)
    assert [(u[2], u[3]) for u in doc.units] == [
        (1, "第一条"), (2, "第二条"), (3, "第三条"), (4, "第四条"), (5, "第五条"), (6, "第6条"), (7, "第七条")]
    second = doc.units[1]
    assert doc.text[second[0]:second[1]] == "第二条 本法适用于下列事项：\n\n（一）甲事项\n\n（二）乙事项"
    assert doc.chapters[0].sections == []  # （一）/（二） are the article's list, not subsections
    # a unit ends before the next heading, and "第三条规定的" inside a sentence starts none
    assert doc.text[doc.units[3][0]:doc.units[3][1]] == "第四条 监护人应当履行职责。"


# --- contents pages laid out in any way give one outline ------------------------------------

_ENTRIES = [("第一章", "总论", 1), ("第一节", "概述", 1), ("第二节", "方法", 4), ("第二章", "分论", 9),
            ("第一节", "甲类", 9), ("第二节", "乙类", 15), ("第三章", "结论", 21), ("", "参考文献", 30)]
_CONTENTS_LAYOUTS = {
    "one entry a line": "\n".join(f"{m} {t} / {p}".strip() for m, t, p in _ENTRIES),
    # a converter that drops line breaks (pandoc reading a .txt, a DOCX/ODT line break) runs them on
    "run on": " ".join(f"{m} {t} / {p:03d}".strip() for m, t, p in _ENTRIES),
    "run on, page after the number": " ".join(f"{m} {p:03d} {t}" if m.endswith("章") else f"{m} {t} {p}".strip()
                                              for m, t, p in _ENTRIES),
    "leaders across the line": "\n".join(f"{m} {t}{'.' * 90}{p}".strip() for m, t, p in _ENTRIES),
    "midline ellipsis leaders": "\n".join(f"{m}{t}{'⋯' * 30}{p}" for m, t, p in _ENTRIES),
    "table cells": "\n".join(f"| {m} | {t} | {p} |" if m else f"| {t} | | {p} |" for m, t, p in _ENTRIES),
    "tab cells": "\n".join(f"{m}\t{t}\t{p}" if m else f"{t}\t{p}" for m, t, p in _ENTRIES),
    "number, then title and page": "\n".join(f"{m}\n{t}……{p}" if m.endswith("章") else f"{m} {t}……{p}".strip()
                                             for m, t, p in _ENTRIES),
    "page on its own line": "\n".join(f"{m}\n{t}\n{p}" if m.endswith("章") else f"{m} {t}\n{p}".strip()
                                      for m, t, p in _ENTRIES),
}
_BODY = ("第一章 总论\n\n本章总述全书的来历，写得比较长，说明本书的用途和读法。\n\n第一节 概述\n\n"
         "概述的正文写在这里，也比较长，讲清楚了要点和范围。\n\n第二节 方法\n\n方法的正文。\n")


@pytest.mark.parametrize("layout", list(_CONTENTS_LAYOUTS))
def test_contents_layouts_give_the_same_outline(write, layout):
    doc = structured(write, "book.txt", f"书名\n\n目录\n\n{_CONTENTS_LAYOUTS[layout]}\n\n{_BODY}")
    assert [(c.number, c.title, c.in_corpus, c.toc_page, [(s.title, s.toc_page) for s in c.sections])
            for c in doc.chapters] == [
        (1, "总论", True, 1, [("概述", 1), ("方法", 4)]),
        (2, "分论", False, 9, [("甲类", 9), ("乙类", 15)]),
        (3, "结论", False, 21, [])]
    assert [(f.title, f.kind, f.toc_page, f.in_corpus) for f in doc.front_matter] == [
        ("目录", "toc", None, True), ("参考文献", "back_matter", 30, False)]
    body = doc.text.index("第一章 总论\n\n本章")
    assert doc.front_matter[0].end <= body == doc.chapters[0].start


def test_numbers_inside_contents_titles_do_not_split_entries(write):
    doc = structured(write, "n.txt", "目录\n\n第一章 2008 年金融危机 / 5\n第二章 2019 年以来\n第一节 G20 峰会 10 国 / 10\n"
                                     "第三章 导言 21\n\n第一章 2008 年金融危机\n\n正文写在这里，讲清楚了来龙去脉。\n")
    assert [(c.number, c.title, c.in_corpus, c.toc_page, [(s.title, s.toc_page) for s in c.sections])
            for c in doc.chapters] == [
        (1, "2008 年金融危机", True, 5, []), (2, "2019 年以来", False, None, [("G20 峰会 10 国", 10)]),
        (3, "导言", False, 21, [])]


def _made_up_code(seed: int, markdown: bool) -> tuple[str, list, list, list]:
    """A code of random words with 编 › 分编 › 章 › 节 › 条 (chapters restarting in each part,
    articles numbered through, some in Arabic numerals), as Markdown or plain text; and the
    (part, chapter) pairs, section numbers and article numbers it writes."""
    from tests.bookgen import Writer, cn

    w = Writer(seed)
    h = (lambda level: "#" * level + " ") if markdown else (lambda level: "")
    lines, chapters, sections, units = [h(1) + w.words(4, 8) + "法", ""], [], [], []
    article = 0
    for part in range(1, 4):
        part_name = f"第{cn(part)}编 {w.words(2, 4)}"
        lines += [h(2) + part_name, ""]
        for sub in range(1, w.rng.randint(1, 3) + 1) if part > 1 else [0]:
            sub_name = f"第{cn(sub)}分编 {w.words(2, 4)}" if sub else ""
            if sub:
                lines += [h(3) + sub_name, ""]
            for ch in range(1, w.rng.randint(2, 4) + 1):
                lines += [h(4) + f"第{cn(ch)}章 {w.words(2, 6)}", ""]
                chapters.append((" › ".join(filter(None, [part_name, sub_name])), ch))
                for sec in range(1, w.rng.randint(0, 2) + 1):
                    lines += [h(5) + f"第{cn(sec)}节 {w.words(2, 6)}", ""]
                    sections.append(sec)
                    for _ in range(w.rng.randint(1, 3)):
                        article += 1
                        label = f"第{article}条" if article % 5 == 0 else f"第{cn(article)}条"
                        lines += [f"{label} {w.sentence()}{w.sentence()}", ""]
                        if w.rng.random() < 0.3:
                            lines += [f"（一）{w.sentence()}", "", f"（二）{w.sentence()}", ""]
                        units.append(article)
                article += 1
                lines += [f"第{cn(article)}条 {w.sentence()}", ""]
                units.append(article)
    return "\n".join(lines) + "\n", chapters, sections, units


@pytest.mark.parametrize("seed", [3, 8])
@pytest.mark.parametrize("name", ["code.md", "code.txt"])
def test_a_made_up_code_reads_its_parts_chapters_sections_and_articles(write, name, seed):
    text, chapters, sections, units = _made_up_code(seed, markdown=name.endswith(".md"))
    doc = structured(write, name, text)
    assert [(c.part, c.number) for c in doc.chapters] == chapters
    assert [s.number for c in doc.chapters for s in c.sections] == sections
    assert [u[2] for u in doc.units] == units
