"""The answer to a look-up of a whole numbered unit ("草原防火条例第三十七条", "第十七条讲什么",
"What does Article 17 of … say"): the unit's own opening, read from where it starts.

Such a question asks for no fact inside the unit, so choosing its sentence by likeness to the
question picks among the unit's sentences almost at random: on the regulations' tuning questions
a definitions article (第三十条 本条例下列用语的含义：（一）…（二）…) was answered with its third
item. A question that asks something of the unit ("第十七条规定的年龄是多少") is not a whole-unit
look-up and is answered as any other.
"""
from __future__ import annotations

import re

from docqa.index.answer.text import _join, clean_answer
from docqa.index.search.references import unit_label_at, unit_reference
from docqa.index.results import Answer, Hit

# What may follow the unit's number in a question asking for the whole unit.
_ZH_REST = re.compile(r"^(?:的)?(?:(?:讲|说|写|规定|指)(?:了|的)?(?:是)?(?:些)?(?:什么|啥)(?:内容)?|(?:具体)?(?:内容|全文|原文|条文)"
                      r"(?:是(?:什么|啥))?|是(?:什么|啥)|怎么(?:规定|说|写)的?|如何规定的?)?(?:呢|啊|吗)?$")
_ZH_UNIT = re.compile(r"第\s*(?:[0-9０-９]+|[零〇一二三四五六七八九十百千两]+)\s*条")
_EN_WHOLE = re.compile(r"^(?:(?:what|what's)\s+(?:does|do|is\s+in|is)\s+)?(?:the\s+)?(?:article|art\.)\s*\d+\s*"
                       r"(?:(?:of|in)\s+(?:the\s+)?[\w\s'’-]+?)?\s*(?:say|says|provide|provides|state|states|"
                       r"read|reads|contain|contains|about)?$", re.I)
_PUNCT = re.compile(r"[\s?？。.!！,，:：;；“”\"'《》]+")


def asks_whole_unit(question: str) -> bool:
    """True when the question names a unit by number and asks nothing more of it."""
    m = _ZH_UNIT.search(question)
    if m:
        return bool(_ZH_REST.match(_PUNCT.sub("", question[m.end():])))
    return bool(_EN_WHOLE.match(_PUNCT.sub(" ", question).strip()))


def unit_answer(question: str, hits: list[Hit], max_chars: int) -> Answer | None:
    """The opening of the asked unit from the first hit when it is that unit's passage holding
    its start (the search puts it first, `Searcher._named_first`); None otherwise."""
    number = unit_reference(question)
    if number is None or not hits or not asks_whole_unit(question):
        return None
    passage = hits[0].passage
    if getattr(passage, "unit_number", None) != number:
        return None
    start = unit_label_at(passage.text, number)
    if start is None:
        return None
    # One line first: the opening line of a unit that lists items ends in a colon, and
    # `clean_answer` would drop it as a label.
    one = _join([ln.strip() for ln in passage.text[start:].splitlines() if ln.strip()])
    return Answer(clean_answer(one, max_chars), passage.passage_id, hits)
