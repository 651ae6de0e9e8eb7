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
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])[ \t\u3000]+|[ \t\u3000]+(?=[{_CJK}])")
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
