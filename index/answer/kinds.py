"""What kind of thing a question asks for, and where a sentence holds a thing of that kind.

`classify` reads a question (Simplified, Traditional or English) and names the type of its answer:
"time", "number", "person", "place", "organisation", "title", "definition", "reason", "way",
"list", "part" (a part of the book: a chapter or section) or "other"; `spans` also knows "year" (a
time that names a year), for the "when" questions `asks_year` finds. `spans` finds the
expressions of one type in a sentence, as (start, end) offsets into the sentence as given.

Why: the answer chooser used to pick the sentence that repeats the question's words; a "when"
question needs a sentence with a time in it, a "who" question one with a name. The rules are
general Chinese and English ones (date and numeral grammar, measure words, title suffixes), plus
jieba's part-of-speech tags for names of persons, places and organisations; nothing here knows a
book. Traditional text is read through its Simplified form (opencc, character for character),
since the rules and jieba's dictionary are Simplified and jieba's tagger is both slow and wrong
on Traditional characters.
"""
from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache

__all__ = ["KINDS", "TYPED", "classify", "spans", "has_kind", "asks_year"]

KINDS = ("time", "number", "person", "place", "organisation", "title", "definition", "reason", "way",
         "list", "part", "other", "year")
TYPED = ("time", "number", "person", "place", "organisation", "title", "part", "year")
"""The types whose expressions the answer choice looks for in a sentence (the others are found by
cue words only, which any sentence may hold without answering)."""

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_FULLWIDTH = str.maketrans("０１２３４５６７８９％．，：", "0123456789%.,:")

# --- questions ------------------------------------------------------------------------------
# Checked in order: the first that matches names the type. "Which chapter" before "which year",
# "how many years" (a number) before "which year" (a time), and so on.
_Q_RULES: tuple[tuple[str, re.Pattern], ...] = tuple((kind, re.compile(p, re.I)) for kind, p in (
    ("part", r"哪(一|个|些)?(部分|章|节|篇|编|卷|单元)|第几(章|节|篇|部分)|在(书|本书)的?(什么|哪)|"
             r"\bwhich (chapter|section|part)s?\b|\bin what (chapter|section|part)\b"),
    ("time", r"什么时候|什么时间|何时|哪一?年|哪一?天|哪一?月|几月|几号|几点|哪个(年代|时期|朝代|世纪)|"
             r"什么(年代|时期|朝代)|(民国|公元)几年|^(?!.*(多少|用了|花了|历时|持续)).*几年|日期|"
             r"\bwhen\b|\bwhat (year|date|time|day|month|century|decade)\b|\bwhich (year|date|day|month|century|decade)\b|"
             r"\bhow long ago\b"),
    ("number", r"多少|几[个条种项家章次位名岁倍万千百十亿座所部本只件台辆人国次年天]|几成|多大|多长|多高|多远|多重|多久|"
               r"多深|多宽|多厚|多快|比例|比重|百分之|占.{0,6}(多少|几)|规模|数量|人口|面积|总额|金额|价格|"
               r"\bhow (many|much|large|big|long|far|high|old|tall|deep|wide|heavy|fast)\b|"
               r"\bwhat (share|percentage|proportion|rate|number|amount|size|population|price)\b"),
    ("person", r"谁|哪(一|几)?位|何人|什么人|哪些人|作者|\bwho\b|\bwhom\b|\bwhose\b|\bwrote\b|\bauthors?\b"),
    ("place", r"哪里|哪儿|在哪|何处|何地|什么地方|哪(一|个)?(个)?(国家|国|城市|省|地区|地方|州|县|市|岛|大陆|洲)|"
              r"位于|\bwhere\b|\bwhich (country|city|province|region|state|place|continent)\b|\bin what (country|city|place)\b"),
    ("organisation", r"哪(一|个)?(家|所)?(公司|机构|组织|大学|学校|银行|部门|单位|政党|团体|企业|出版社)|"
                     r"什么(机构|组织|公司|部门|单位)|"
                     r"\bwhich (company|organi[sz]ation|institution|university|bank|agency|party|publisher)\b"),
    ("title", r"叫什么|称为什么|名称|名字|书名|什么名|题目|标题|称号|\bcalled\b|\bwhat is the (name|title)\b|\bnamed\b"),
    ("reason", r"为什么|为何|什么原因|原因|缘故|何故|\bwhy\b|\bfor what reason\b|\bwhat caused\b"),
    ("way", r"如何|怎样|怎么|什么方式|什么方法|哪种方式|通过什么|用什么|手段|途径|\bhow (do|does|did|can|to|is|are|was|were|should)\b|"
            r"\bin what way\b|\bby what means\b"),
    ("list", r"哪些|有哪|包括什么|包含什么|包括哪|列举|几个方面|几大|分为|\bwhich\b.*\bare\b|\bwhat are\b|\blist\b|\bname the\b"),
    ("definition", r"^\s*(什么是|何谓|何为)|是什么(意思|含义|概念)?\s*[？?]?\s*$|指的?是什么|的(内涵|含义|定义|意思)|"
                   r"^\s*what (is|are|was|were|does) (the |an? )?[^?]{2,60}(\?|\bmean\??)\s*$|^\s*define\b"),
))


_ASKS_YEAR = re.compile(r"哪一?年|何年|什么年份|\b(?:what|which|in what) year\b", re.I)
_YEAR = re.compile(rf"(?:\d{{1,4}}|[{'零〇一二三四五六七八九'}十]{{2,4}}|元)\s*年(?![代级龄])|\b1\d{{3}}\b|\b20\d{{2}}\b")


def asks_year(question: str) -> bool:
    """Whether a "when" question asks for a year ("哪一年", "what year"): a month and day, a
    century or a period do not answer it ("5月30日上午…" for "在哪一年…进入君士坦丁堡")."""
    return bool(_ASKS_YEAR.search(_simplified(question.strip().translate(_FULLWIDTH))))


def classify(question: str) -> str:
    """The type of answer a question asks for: one of KINDS ("other" when no rule speaks)."""
    q = _simplified(question.strip().translate(_FULLWIDTH))
    for kind, pattern in _Q_RULES:
        if pattern.search(q):
            return kind
    return "other"


# --- expressions in sentences -----------------------------------------------------------------
_CN_DIGIT = "零〇一二两三四五六七八九"
_CN_NUM = f"[{_CN_DIGIT}十百千万亿]"
_NUM = rf"(?:\d+(?:[.,]\d+)*|{_CN_NUM}+)"
_ERAS = "民国|光绪|康熙|乾隆|嘉庆|道光|咸丰|同治|宣统|雍正|顺治|万历|洪武|永乐|明治|大正|昭和|平成|令和|公元前?|西元前?"
_DYNASTIES = "夏|商|周|秦|汉|晋|隋|唐|宋|元|明|清|西汉|东汉|西晋|东晋|北宋|南宋"
_MONTHS_EN = "January|February|March|April|May|June|July|August|September|October|November|December"

_TIME = re.compile("|".join((
    rf"(?:(?:{_ERAS})\s*)?(?:\d{{1,4}}|[{_CN_DIGIT}]{{2,4}}|[元{_CN_DIGIT}十]{{1,3}})\s*年"
    rf"(?:\s*(?:\d{{1,2}}|[{_CN_DIGIT}十]{{1,3}})\s*月(?:\s*(?:\d{{1,2}}|[{_CN_DIGIT}十]{{1,3}})\s*[日号])?)?"
    r"(?:代|初|底|末|中|以来|以后|之后|以前|之前|前后|左右|起|至今)?",
    rf"(?:上|本|这|该|[{_CN_DIGIT}十]+|\d{{1,2}})?\s*世纪\s*(?:\d{{2}}|[{_CN_DIGIT}十]+)?\s*(?:年代)?(?:初|末|中叶|中期|以来)?",
    rf"(?:\d{{1,2}}|[{_CN_DIGIT}十]{{1,3}})\s*月(?:\s*(?:\d{{1,2}}|[{_CN_DIGIT}十]{{1,3}})\s*[日号])?(?:以来|起)?",
    rf"(?:\d{{1,2}}|[{_CN_DIGIT}十]{{1,3}})\s*[日号](?=[，,。、\s起至到])",
    r"\d{4}[./-]\d{1,2}(?:[./-]\d{1,2})?",
    r"\d{1,2}[:：]\d{2}|[上下]午\s*\d{1,2}\s*[点时](?:\s*\d{1,2}\s*分)?|凌晨|\d{1,2}\s*点(?:\s*\d{1,2}\s*分)?",
    rf"(?:{_DYNASTIES})(?:朝|代)(?:初年|初期|末年|中期|时期|年间)?",
    r"[\u4e00-\u9fff]{2}(?:时期|年间)",
    rf"\b(?:{_MONTHS_EN})(?:\s+\d{{1,2}})?(?:,?\s+\d{{4}})?\b|\b(?:1[0-9]|20)\d{{2}}s?\b|\b\d{{1,2}}(?:st|nd|rd|th) century\b",
)), re.I)

_UNITS = ("%|‰|％|美元|欧元|英镑|日元|港元|港币|人民币|新台币|台币|元|块|角|分钱|"
          "平方公里|平方千米|平方米|公顷|亩|立方米|公里|千米|厘米|毫米|米|英里|公尺|公分|"
          "千克|公斤|克|吨|斤|升|毫升|瓦|千瓦|兆瓦|伏|度|摄氏度|"
          "人次|人口|人|名|位|个|只|头|条|种|项|类|家|所|座|部|本|册|卷|篇|章|节|次|倍|成|届|期|批|套|台|辆|架|艘|"
          "岁|年|个月|月|周|天|日|小时|分钟|秒|世纪|国|省|市|县|城|户|件|份|页|字|行|级|层|号|分|票|场|届|代")
_NUMBER = re.compile("|".join((
    rf"百分之{_CN_NUM}+(?:点{_CN_NUM}+)?",
    rf"(?:约|近|逾|超过|达|约为)?(?:\d+(?:[.,]\d+)*)\s*(?:多|余|几)?\s*(?:[十百千万亿]+)?\s*(?:{_UNITS})?",
    rf"(?:数|上|几)?(?:[{_CN_DIGIT}][十百千万亿{_CN_DIGIT}]*|[十百千万亿][十百千万亿{_CN_DIGIT}]*)"
    rf"(?:多|余)?\s*(?:{_UNITS})",
    r"\b\d+(?:\.\d+)?\s*(?:percent|per cent|million|billion|thousand|hundred|km|kg|m|yuan|dollars?)\b",
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion)\b",
)), re.I)
# A bare "一" before a measure word is mostly an article ("一个问题", "一种方式"), not an amount.
_ARTICLE = re.compile(r"^一(?:个|种|项|条|类|位|名|次|本|部|座|家|所|件|份|批|套|场|期|代)$")

_PART = re.compile(rf"第\s*(?:\d+|{_CN_NUM}+)\s*(?:章|节|篇|部分|编|卷|单元|讲|课)|"
                   r"(?:前言|序言|序|后记|附录|内容简介|引言|导论|绪论|结语|参考文献|目录)|"
                   r"\b(?:chapter|section|part|appendix)\s+(?:\d+|[ivxlc]+|one|two|three|four|five|six|seven|eight|nine|ten)\b|"
                   r"\b(?:preface|foreword|introduction|appendix|conclusion)\b", re.I)

_TITLE = re.compile(r"《[^《》\n]{1,40}》|“[^“”\n]{1,30}”|「[^「」\n]{1,30}」|『[^『』\n]{1,30}』|\"[^\"\n]{1,30}\"")

_PERSON_TITLE = re.compile(
    r"([\u4e00-\u9fff]{2,3})(?=(?:主席|总理|总统|首相|总书记|书记|部长|主任|委员|院长|校长|教授|博士|先生|女士|院士|"
    r"将军|国王|皇帝|大使|市长|省长|董事长|总裁|经理|主编|编著|等人))")
_PERSON_EN = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Prof|President|Professor)\.?\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*|"
                        r"\b[A-Z][a-z]+(?:\s+[A-Z]\.)?\s+[A-Z][a-z]+\b")
_ORG_SUFFIX = re.compile(r"[\u4e00-\u9fff]{2,10}?(?:公司|集团|大学|学院|银行|组织|协会|学会|委员会|政府|研究院|研究所|研究中心|"
                         r"出版社|基金会|联盟|联合会|议会|法院|中学|小学|医院|交易所|国务院|[部局署厅])")
_ORG_EN = re.compile(r"\b(?:[A-Z][a-z]+\s+){0,5}(?:Bank|University|Company|Corporation|Organi[sz]ation|Institute|Council|"
                     r"Committee|Association|Ministry|Agency|Fund|Union|Party)\b(?:\s+of(?:\s+[A-Z][a-z]+)+)?|\b[A-Z]{2,6}\b")

_TAGS = {"person": ("nr",), "place": ("ns",), "organisation": ("nt",), "title": ("nz",)}

_DEFINITION = re.compile(r"(?:是指|指的是|是一(?:种|个|类|项|门|套|座|条)|即|意思是|定义为|称为|被称为|\bis an?\b|\brefers to\b|\bmeans\b)"
                         r"[^。！？!?\n]{2,}", re.I)
_REASON = re.compile(r"(?:因为|由于|原因是|原因在于|之所以|为了|以便|以免|因而|因此|所以|故而|\bbecause\b|\bdue to\b|\bsince\b|"
                     r"\bso that\b|\bin order to\b)[^。！？!?\n]{2,}", re.I)
_WAY = re.compile(r"(?:通过|采用|采取|利用|借助|运用|依靠|依托|以[^，。]{1,10}(?:方式|方法|形式)|方式是|方法是|\bby\b|\bthrough\b|"
                  r"\busing\b|\bvia\b)[^。！？!?\n]{2,}", re.I)
_LIST = re.compile(r"[^，,。；;：:\n]{1,30}(?:[、；;][^，,。；;：:\n]{1,30}){2,}|"
                   r"(?:一是|首先|第一)[^。]{2,}?(?:二是|其次|第二)[^。]*|"
                   r"(?:[^,;.\n]{1,40},\s*){2,}(?:and|or)\s+[^,;.\n]{1,40}", re.I)


def spans(text: str, kind: str) -> list[tuple[int, int]]:
    """Where `text` holds expressions of type `kind`: sorted, non-overlapping (start, end)
    offsets into `text`. "other" (and any unknown type) has none."""
    if not text or kind not in KINDS or kind == "other":
        return []
    folded = _fold(text)
    return list(_spans(folded, kind))


def has_kind(text: str, kind: str) -> bool:
    """Whether `text` holds at least one expression of type `kind`."""
    return bool(spans(text, kind))


@lru_cache(maxsize=8192)
def _spans(text: str, kind: str) -> tuple[tuple[int, int], ...]:
    found: list[tuple[int, int]] = []
    if kind == "time":
        found = [m.span() for m in _TIME.finditer(text) if _is_time(m.group())]
    elif kind == "year":
        found = [m.span() for m in _TIME.finditer(text) if _is_time(m.group()) and _YEAR.search(m.group())]
    elif kind == "number":
        found = [m.span() for m in _NUMBER.finditer(text) if _is_number(m.group())]
    elif kind == "part":
        found = [m.span() for m in _PART.finditer(text)]
    elif kind == "title":
        found = [m.span() for m in _TITLE.finditer(text)] + _tagged(text, _TAGS["title"])
    elif kind == "person":
        found = (_tagged(text, _TAGS["person"]) + [m.span(1) for m in _PERSON_TITLE.finditer(text)]
                 + [m.span() for m in _PERSON_EN.finditer(text)])
    elif kind == "place":
        found = _tagged(text, _TAGS["place"])
    elif kind == "organisation":
        found = (_tagged(text, _TAGS["organisation"]) + [m.span() for m in _ORG_SUFFIX.finditer(text)]
                 + [m.span() for m in _ORG_EN.finditer(text)])
    elif kind in ("definition", "reason", "way", "list"):
        pattern = {"definition": _DEFINITION, "reason": _REASON, "way": _WAY, "list": _LIST}[kind]
        found = [m.span() for m in pattern.finditer(text)]
    return tuple(_merge(_trim(text, s, e) for s, e in found if e > s))


def _is_time(match: str) -> bool:
    m = match.strip()
    if not m or m in ("世纪",):
        return False
    # "三年" alone is a duration in words; a time needs digits, a year of 2-4 numerals, a month,
    # a day, an era, a century or a dynasty.
    if re.fullmatch(rf"[{_CN_DIGIT}十]年", m):
        return False
    return True


def _is_number(match: str) -> bool:
    m = match.strip()
    if not m or not re.search(rf"[\d{_CN_DIGIT}十百千万亿]|\b[a-z]", m, re.I):
        return False
    return not _ARTICLE.match(m)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _merge(found) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(found):
        if e <= s:
            continue
        if out and s < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


# The common Chinese surnames (the first of the Hundred Family Surnames and the most frequent
# today): jieba's HMM tags many an unknown word "nr" ("广泛支持"), so a Chinese name tagged "nr"
# must also start with a surname; transliterated names ("nrt") need not.
_SURNAMES = set("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
                "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
                "常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单"
                "季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚"
                "娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘"
                "池查麻苑迟邝诸")
_COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯", "令狐")


def _is_name(word: str, flag: str) -> bool:
    if flag in ("nrt", "nrf"):
        return True
    return 2 <= len(word) <= 4 and (word[0] in _SURNAMES or word.startswith(_COMPOUND_SURNAMES))


def _tagged(text: str, tags: tuple[str, ...]) -> list[tuple[int, int]]:
    """Spans of words jieba tags with one of `tags` (by prefix: "nr" takes "nrfg", "nrt")."""
    if not _CJK.search(text):
        return []
    out, at = [], 0
    for word, flag in _pos_cut(text):
        if flag.startswith(tags) and len(word.strip()) >= 2 and (not flag.startswith("nr") or _is_name(word, flag)):
            out.append((at, at + len(word)))
        at += len(word)
    return out


_pos_lock = threading.Lock()
_pos = None


def _pos_tokenizer():
    """jieba's part-of-speech tagger with its dictionary loaded: 1-4 s on first use (jieba's
    500k-word dictionary and its tag table), once per process; under a lock, so a question and
    the server's warm-up (`warm`) never load it twice at once. jieba.posseg builds its tagger on
    import; that one is used rather than a second (which read the tag table again)."""
    global _pos
    if _pos is not None:
        return _pos
    with _pos_lock:
        if _pos is None:
            from docqa.index.store import lean_import

            jieba = lean_import.jieba()
            jieba.setLogLevel(logging.WARNING)
            import jieba.posseg

            jieba.dt.check_initialized()
            _pos = jieba.posseg.dt
    return _pos


def warm() -> None:
    """Load the tagger now (a server, right after it is ready: see `docqa.service.state`), so the
    first question that asks for a person, place, organisation or title does not wait for it."""
    _pos_tokenizer()


def _pos_cut(text: str) -> list[tuple[str, str]]:
    return [(p.word, p.flag) for p in _pos_tokenizer().cut(text)]


def _fold(text: str) -> str:
    """Full-width digits to ASCII and Traditional to Simplified, keeping every offset (a
    conversion that would change the length is not used)."""
    text = text.translate(_FULLWIDTH)
    simple = _simplified(text)
    return simple if len(simple) == len(text) else text


def _simplified(text: str) -> str:
    if not _CJK.search(text):
        return text
    from docqa.index.question import _converter

    return _converter("t2s.json").convert(text)
