"""The one place where Chinese text is normalised and split into sentences.

Search-side text is NFKC-folded (full-width letters, digits and punctuation become
their ASCII forms) with whitespace squeezed; citation-side text is never changed,
so sentence spans are computed on the original string.
"""
from __future__ import annotations

import re
import unicodedata

# Sentence ends, in original (full-width) and folded forms, plus closing quotes/brackets
# that belong to the sentence they close.
SENTENCE_END = "。！？；!?;"
CLOSERS = "”’」』）)】》\"'"

# Character classes (for use inside [...]). HAN: Chinese characters (radicals, which PDF text
# often has in place of ideographs, CJK Unified, Extension A, Compatibility). CJK_WIDE: every
# CJK block (radicals, CJK punctuation, kana, Han) and the full-width forms: text written with
# no space between its characters.
HAN = r"\u2e80-\u2fdf\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_WIDE = r"\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef"
_HAN = re.compile(f"[{HAN}]")
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{CJK_WIDE}])[ \t\u3000]+|[ \t\u3000]+(?=[{CJK_WIDE}])")


def has_han(text: str) -> bool:
    """Whether `text` holds a Chinese character: how a question's language is told (zh or not)."""
    return _HAN.search(text) is not None


def language(text: str) -> str:
    """"zh" when the text has any Han character, else "en" (the other language docqa corrects for)."""
    return "zh" if has_han(text) else "en"
_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Fold a string for matching and indexing: NFKC, no space around CJK, one space elsewhere."""
    text = unicodedata.normalize("NFKC", text)
    text = _SPACE_BETWEEN_CJK.sub("", text)
    return _WS.sub(" ", text).strip()


def compact(text: str) -> str:
    """Fold for substring comparison (eval gold matching): NFKC with all whitespace removed."""
    return _WS.sub("", unicodedata.normalize("NFKC", text))


_SENTENCES = re.compile(
    rf"[{SENTENCE_END}]+[{CLOSERS}]*|(?<![0-9A-Z])\.(?=\s)[{CLOSERS}]*|\.$|\n[ \t\u3000]*\r?\n"
)
_LINE_UNITS = re.compile(rf"{_SENTENCES.pattern}|\n")


def sentence_spans(text: str, start: int = 0, end: int | None = None, *,
                   line_breaks: bool = False) -> list[tuple[int, int]]:
    """Split `text[start:end]` into sentences; spans are offsets into `text`, whitespace trimmed.

    A sentence ends at 。！？；!? (with any closing quote after it), at a Latin '.' followed
    by whitespace, or at a blank line. A single line break inside a sentence does not end it
    (page breaks often fall mid-sentence) unless `line_breaks` is set, for text whose broken
    paragraphs were already joined, where each line is a unit (list items, front-matter lines).
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    pos = start
    pattern = _LINE_UNITS if line_breaks else _SENTENCES
    for m in pattern.finditer(text, start, end):
        _append(text, spans, pos, m.end())
        pos = m.end()
    _append(text, spans, pos, end)
    return spans


def _append(text: str, spans: list[tuple[int, int]], s: int, e: int) -> None:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    if e > s:
        spans.append((s, e))
