"""Documents and numbered units a question names go first: real files, real model, real index."""
from __future__ import annotations

import pytest

from docqa.index.search.references import DocumentNames, unit_reference
from docqa.ingest.model import Document

DIGITS = "零一二三四五六七八九"
SAME = "公司是企业法人，有独立的法人财产，享有法人财产权。"  # an article both versions of 公司法 have
SUE = "起诉必须符合下列条件：原告是与本案有直接利害关系的公民、法人和其他组织；有明确的被告。"


def zh(n: int) -> str:
    tens, ones = divmod(n, 10)
    return ("" if tens == 0 else ("十" if tens == 1 else DIGITS[tens] + "十")) + (DIGITS[ones] if ones else "")


def law(title: str, articles: dict[int, str], count: int = 20, topic: str = "事项") -> str:
    body = [f"# {title}", "", "## 第一章 总则", ""]
    for n in range(1, count + 1):
        body += [f"第{zh(n)}条 {articles.get(n, f'{topic}第{n}项的办理，应当遵守国家有关规定。')}", ""]
    return "\n".join(body)


def test_unit_reference_reads_chinese_and_arabic_numerals_and_english():
    assert unit_reference("民法典第一千零七十七条讲什么") == 1077
    assert unit_reference("第1254条") == 1254
    assert unit_reference("What does Article 17 of the Criminal Law say?") == 17
    assert unit_reference("刑法讲什么") is None


def test_a_document_is_named_by_its_title_or_a_tail_of_it_not_by_a_kind():
    docs = [Document(i, t, i, "", "") for i, t in
            [("a", "中华人民共和国刑法"), ("b", "中华人民共和国刑法修正案（十一）"), ("c", "中华人民共和国劳动法"),
             ("d", "中华人民共和国劳动合同法"), ("e", "物业管理条例"), ("f", "公司登记管理条例"), ("g", "校车安全管理条例")]]
    names = DocumentNames(docs)
    assert names.named("刑法第十七条讲什么") == ["a"]
    assert names.named("刑法修正案（十一）改了什么") == ["b"]
    assert names.named("劳动合同法的试用期") == ["d"]
    assert names.named("劳动法规定的工作时间") == ["c"]
    assert names.named("根据物业管理条例") == ["e"]
    assert names.named("管理条例一般怎么写") == []


def test_a_word_ending_a_title_does_not_name_it_and_traditional_reads_simplified():
    """组织 ends 非营利组织 but is a word of its own; 刑法 ends 中华人民共和国刑法 after a head that
    other titles share. A Traditional question names a Simplified title (东德 / 東德)."""
    docs = [Document(i, t, i, "", "") for i, t in
            [("a", "中华人民共和国刑法"), ("b", "中华人民共和国劳动法"), ("n", "非营利组织"), ("w", "南北战争"),
             ("d", "东德")]]
    names = DocumentNames(docs)
    assert names.named("哪一組織在東德擁有最高的領導地位？") == ["d"]
    assert names.named("抗日戰爭是在西元幾年結束？") == []
    assert names.named("非營利組織靠什麼維持運作？") == ["n"]
    assert names.named("刑法第十七条讲什么") == ["a"]


@pytest.fixture(scope="module")
def library(tmp_path_factory, embedder, cache_dir):
    from docqa.index.search.searcher import Searcher
    from docqa.index.store.directory import build_index
    from docqa.ingest.pipeline import chunker_settings, load_corpus

    root = tmp_path_factory.mktemp("laws")
    files = {
        "刑法.md": law("中华人民共和国刑法", {17: "已满十六周岁的人犯罪，应当负刑事责任。"}, topic="刑罚"),
        "刑法修正案.md": "\n".join([
            "# 中华人民共和国刑法修正案（十一）", "",
            "一、将刑法第十七条修改为：“已满十六周岁的人犯罪，应当负刑事责任。已满十四周岁不满十六周岁的人，"
            "犯故意杀人罪的，应当负刑事责任。”", "", "二、本修正案自公布之日起施行。", ""]),
        "治安管理处罚法.md": law("中华人民共和国治安管理处罚法", {
            1: "为了维护社会治安秩序，制定本法。",
            19: "本法下列用语的含义：\n\n（一）治安案件，是指违反治安管理、依法应当给予治安管理处罚的案件。\n\n"
                "（二）罚款，是指公安机关依法责令违反治安管理的人缴纳一定数额金钱的处罚。\n\n"
                "（三）行政拘留，是指公安机关依法在短期内限制违反治安管理的人人身自由的处罚。"}, topic="治安"),
        "公司法(2018-10-26).md": law("中华人民共和国公司法", {3: SAME, 26: "有限责任公司的注册资本为在公司登记机关登记的全体股东认缴的出资额。"},
                                   count=30, topic="公司"),
        "公司法(2023-12-29).md": law("中华人民共和国公司法", {3: SAME, 47: "有限责任公司的注册资本为全体股东认缴的出资额，由股东自公司成立之日起五年内缴足。"},
                                   count=50, topic="公司"),
        # Versions told by their titles' notes alone: no date in the file name or the head.
        "民事诉讼法-a.md": law("中华人民共和国民事诉讼法（2021年修正）", {12: SUE}, topic="诉讼"),
        "民事诉讼法-b.md": law("中华人民共和国民事诉讼法（2023年修正）", {12: SUE, 13: "人民法院审理民事案件，应当公开审理。"},
                            topic="诉讼"),
    }
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    target = tmp_path_factory.mktemp("idx") / "laws"
    build_index(load_corpus([root]), target, embedder, chunker=chunker_settings(), progress=False, say=None)
    return Searcher.open(target, embedder=embedder, cache_dir=cache_dir)


@pytest.mark.parametrize("question", ["刑法第十七条讲什么？", "刑法第17条", "中华人民共和国刑法第十七条的内容"])
def test_an_article_look_up_goes_to_that_unit_not_to_a_quotation_of_it(library, question):
    top = library.search(question, k=3)[0].passage
    assert (top.source, top.unit, top.unit_number) == ("刑法.md", "第十七条", 17)


def test_a_look_up_without_a_document_name_takes_the_best_document_having_the_unit(library):
    top = library.search("治安管理第一条是什么", k=3)[0].passage
    assert (top.source, top.unit_number) == ("治安管理处罚法.md", 1)


def test_the_newest_version_is_preferred_unless_another_year_is_asked(library):
    top = library.search("公司法规定有限责任公司的注册资本是什么？", k=3)[0].passage
    assert top.source == "公司法(2023-12-29).md" and top.title == "中华人民共和国公司法（2023-12-29）"
    top = library.search("2018年公司法规定有限责任公司的注册资本是什么？", k=3)[0].passage
    assert top.source == "公司法(2018-10-26).md"
    top = library.search("2018年公司法第二十六条", k=3)[0].passage
    assert (top.source, top.unit_number) == ("公司法(2018-10-26).md", 26)


def test_a_question_not_naming_its_law_is_answered_from_the_newest_version(library):
    """An article the revision left unchanged reads the same in both versions, and was cited
    from whichever came first (the older file); a year asked for still picks its version."""
    for question in ["公司有独立的法人财产吗？", "Does a company have independent legal person property?"]:
        top = library.search(question, k=3)[0].passage
        assert (top.source, top.unit_number) == ("公司法(2023-12-29).md", 3), question
    top = library.search("2018年的规定里，公司有独立的法人财产吗？", k=3)[0].passage
    assert top.source == "公司法(2018-10-26).md"


def test_a_version_note_closing_a_title_makes_versions_of_one_title():
    from docqa.index.search.references import title_version

    assert title_version("中华人民共和国民事诉讼法（2023年修正）") == ("中华人民共和国民事诉讼法", "2023")
    assert title_version("中华人民共和国公司法(2018-10-26)") == ("中华人民共和国公司法", "2018-10-26")
    assert title_version("中华人民共和国刑法修正案（十一）") == ("中华人民共和国刑法修正案（十一）", "")
    assert title_version("英雄（2002年电影）") == ("英雄（2002年电影）", "")  # another work, not a version
    assert title_version("国家基本药物目录（2018年版）") == ("国家基本药物目录", "2018")
    docs = [Document(i, t, i, "", "") for i, t in [("old", "中华人民共和国民事诉讼法（2021年修正）"),
                                                   ("new", "中华人民共和国民事诉讼法（2023年修正）"),
                                                   ("x", "中华人民共和国刑事诉讼法")]]
    names = DocumentNames(docs)
    assert names.named("民事诉讼法规定的起诉条件") == ["new"]
    assert names.named("2021年民事诉讼法规定的起诉条件") == ["old"]
    assert names.superseded("起诉条件是什么") == {"old": "new"}


@pytest.mark.parametrize("question", ["民事诉讼法规定的起诉条件是什么？", "起诉必须符合什么条件？"])
def test_versions_told_by_their_titles_notes_prefer_the_newest(library, question):
    top = library.search(question, k=3)[0].passage
    assert (top.source, top.unit_number) == ("民事诉讼法-b.md", 12), question
    assert top.title == "中华人民共和国民事诉讼法（2023年修正）"


@pytest.mark.parametrize("question", ["治安管理处罚法第十九条讲了什么？", "治安管理处罚法第19条",
                                      "What does Article 19 of the 治安管理处罚法 say?"])
def test_a_whole_article_look_up_is_answered_with_the_article_from_its_start(library, question):
    """A definitions article's first line ends in a colon and its items match "讲了什么" no
    better than each other: the answer was one item (or the lead line dropped as a label)."""
    answer = library.ask(question, k=3)
    assert answer.text.startswith("第十九条 本法下列用语的含义：（一）治安案件"), answer.text


def test_asking_something_of_an_article_is_not_a_whole_article_look_up():
    from docqa.index.answer.unit import asks_whole_unit

    assert all(asks_whole_unit(q) for q in ["校车安全管理条例第十七条讲什么？", "草原防火条例第三十七条",
                                            "医疗废物管理条例第48条的内容", "第三十九条规定了什么？",
                                            "What does Article 17 of the School Bus Safety Regulations say?"])
    assert not any(asks_whole_unit(q) for q in ["刑法第十七条规定的刑事责任年龄是多少？", "根据第十条，谁负责审批？",
                                                "What is the penalty under Article 5 of the law?", "刑法讲什么"])


def test_paragraphs_sharing_one_title_keep_the_order_the_search_gave_them(tmp_path, embedder, cache_dir):
    """Several documents under one title (an article's paragraphs) are all named at once; the
    one that answers must still come first, not the first in file order."""
    import json

    from docqa.index.search.searcher import Searcher
    from docqa.index.store.directory import build_index
    from docqa.ingest.pipeline import chunker_settings, load_corpus

    paragraphs = [
        "青石岛是东海上的一座小岛，岛上居民以渔业为生，岛的东侧有一座古老的灯塔，常年为过往船只指引方向。",
        "青石岛的气候温和湿润，冬季少雪，夏季多台风，岛上植被以松树和灌木为主，春天开满野花。",
        "青石岛的特产是紫菜和黄鱼干，每年秋天岛上都会举办海鲜节，吸引许多游客前来品尝。",
        "青石岛的中学创办于1956年，是全岛唯一的中学，现有学生三百余人，校长由岛上的老渔民之子担任。",
    ]
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": f"p{i}", "title": "青石岛", "text": t}, ensure_ascii=False) + "\n"
                            for i, t in enumerate(paragraphs)) +
                    json.dumps({"id": "other", "title": "白沙湾", "text": "白沙湾的海滩很长，沙子洁白细软。"},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    target = tmp_path / "idx"
    build_index(load_corpus([docs]), target, embedder, chunker=chunker_settings(), progress=False, say=None)
    s = Searcher.open(target, embedder=embedder, cache_dir=cache_dir)
    assert s.search("青石岛的中学是哪一年创办的？", k=3)[0].passage.doc_id == "p3"
    assert "1956" in s.ask("青石岛的中学是哪一年创办的？").text
