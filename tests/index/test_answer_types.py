"""Answer types: what a question asks for, and where a sentence holds it (made-up sentences)."""
import pytest

from docqa.index.answer.kinds import KINDS, asks_year, classify, has_kind, spans


@pytest.mark.parametrize("question, kind", [
    ("这座桥最早是什么时候修建的？", "time"),
    ("這座橋最早是何時修建的？", "time"),
    ("公司是哪一年成立的？", "time"),
    ("民國幾年遷校？", "time"),
    ("When was the bridge built?", "time"),
    ("What year did the war end?", "time"),
    ("该湖的面积有多大？", "number"),
    ("該市有多少人口？", "number"),
    ("他花了几年完成这部书？", "number"),
    ("沿线经济规模有多大？", "number"),
    ("How many students attend the school?", "number"),
    ("How much did the project cost?", "number"),
    ("委员会的主任是谁？", "person"),
    ("這首詩是誰寫的？", "person"),
    ("Who founded the museum?", "person"),
    ("Who wrote this book?", "person"),
    ("总部设在哪里？", "place"),
    ("他出生在哪個國家？", "place"),
    ("Where is the headquarters?", "place"),
    ("这个项目由哪家公司承建？", "organisation"),
    ("Which university did she attend?", "organisation"),
    ("这部小说叫什么名字？", "title"),
    ("为什么要修建运河？", "reason"),
    ("Why did the river flood?", "reason"),
    ("如何申请签证？", "way"),
    ("How does the engine start?", "way"),
    ("这个地区有哪些特产？", "list"),
    ("什么是边际成本？", "definition"),
    ("What is photosynthesis?", "definition"),
    ("合同法在书的哪一部分讨论？", "part"),
    ("這個問題在哪一章講到？", "part"),
    ("Which chapter covers taxes?", "part"),
    ("你好", "other"),
])
def test_classify(question, kind):
    assert classify(question) == kind


def test_every_kind_is_known():
    assert set(KINDS) >= {classify(q) for q in ("谁", "哪里", "多少", "何时", "hi")}


def _found(text, kind):
    return [text[s:e] for s, e in spans(text, kind)]


@pytest.mark.parametrize("text, kind, expected", [
    ("2015年3月和7月，公司先后开了两家分店。", "time", ["2015年3月", "7月"]),
    ("二〇一三年，工厂迁到了河边。", "time", ["二〇一三年"]),
    ("上世纪90年代，这里还是一片农田。", "time", ["上世纪90年代"]),
    ("大会于9月7日开幕。", "time", ["9月7日"]),
    ("1949年以来，城市人口增长了十倍。", "time", ["1949年以来"]),
    ("1949年以來，城市人口增長了十倍。", "time", ["1949年以來"]),
    ("该寺始建于唐朝年间。", "time", ["唐朝年间"]),
    ("The bridge opened in March 1932.", "time", ["March 1932"]),
    ("全省人口约4.4亿，总产值21万亿美元，占全国的63%。", "number", ["约4.4亿", "21万亿美元", "63%"]),
    ("全省人口約4.4億，佔全國的63%。", "number", ["約4.4億", "63%"]),
    ("学校有三百名教师和百分之十的外籍学生。", "number", ["三百名", "百分之十"]),
    ("公司投资五千万元建厂。", "number", ["五千万元"]),
    ("第三章第二节讨论了税收。", "part", ["第三章", "第二节"]),
    ("See chapter 4 for details.", "part", ["chapter 4"]),
    ("他写了《山中来信》一书。", "title", ["《山中来信》"]),
])
def test_spans(text, kind, expected):
    assert _found(text, kind) == expected


def test_sentences_without_the_kind_have_no_span():
    # The question's words without the thing asked: no time, no number.
    assert not has_kind("这项计划提出以来，引起了各方的广泛关注。", "time")
    assert not has_kind("这是一个问题，也是一种方法。", "number")
    assert not has_kind("这项计划得到了广泛支持。", "person")
    assert spans("任何句子", "other") == [] and spans("", "time") == []


@pytest.mark.parametrize("text, kind, name", [
    ("王建国教授在北京大学任教。", "person", "王建国"),
    ("陳志明教授在台北任教。", "person", "陳志明"),
    ("张小红, 刘伟编著", "person", "张小红"),
    ("张小红, 刘伟编著", "person", "刘伟"),
    ("王建国教授住在北京，常去杭州。", "place", "杭州"),
    ("他后来搬到了上海。", "place", "上海"),
    ("项目由中国建设银行出资。", "organisation", "中国建设银行"),
])
def test_names(text, kind, name):
    assert any(name in found for found in _found(text, kind))


def test_spans_index_the_text_as_given():
    text = "１９９８年５月，新館落成。"  # full-width digits, Traditional characters
    (s, e), = spans(text, "time")
    assert text[s:e] == "１９９８年５月"


@pytest.mark.parametrize("question, year", [
    ("公司是哪一年成立的？", True),
    ("在哪一年穆罕默德二世進入君士坦丁堡？", True),
    ("In what year did the war end?", True),
    ("这座桥是什么时候修建的？", False),
    ("为未来几年的王朝奠下基础的是谁？", False),
])
def test_asks_year(question, year):
    assert asks_year(question) is year


def test_a_year_span_names_a_year():
    assert _found("1957年，大桥完工。10月15日上午，大桥通车。", "year") == ["1957年"]
    assert _found("光緒三十三年，改設行省。", "year") == ["光緒三十三年"]
    assert _found("10月15日上午，大桥通车；上世纪80年代重修。", "year") == []
