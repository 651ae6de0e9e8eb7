"""Chinese names written in pinyin: "When was Li Fangfang born?" about a book that writes 李芳芳.

An English question spells a Chinese name in pinyin, which neither the keyword leg nor the
embedding model connects to the characters. The corpus's own words are indexed by their
toneless pinyin, so a capitalised pinyin sequence in the question finds the words it spells;
they are added to the question for the search only.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

_CAPITALISED = re.compile(r"\b[A-Z][a-z]+(?:[ -][A-Z]?[a-z]+)*\b")
_ALL_CJK = re.compile(r"^[\u3400-\u9fff]{2,4}$")
MIN_LETTERS = 4


class PinyinNames:
    def __init__(self, words: Iterable[str]):
        from pypinyin import lazy_pinyin

        self._by_pinyin: dict[str, list[str]] = {}
        for w in words:
            if _ALL_CJK.match(w):
                self._by_pinyin.setdefault("".join(lazy_pinyin(w)), []).append(w)

    def spelled(self, question: str) -> list[str]:
        """Corpus words spelled in pinyin in the question (each run of capitalised words, and
        its two-word parts, since a question often writes a name as "Li Fangfang")."""
        found: list[str] = []
        for m in _CAPITALISED.finditer(question):
            parts = re.split(r"[ -]", m.group(0).lower())
            spans = {"".join(parts[i:j]) for i in range(len(parts)) for j in range(i + 1, min(i + 3, len(parts)) + 1)}
            for key in sorted(spans):
                if len(key) >= MIN_LETTERS:
                    found += [w for w in self._by_pinyin.get(key, []) if w not in found]
        return found
