"""A made-up book of any size, with volumes, chapters, sections, contents pages and page ends.

Used by the ingest tests and by benchmarks/bench_ingest.py; the text is random common characters,
so no rule can lean on any real book's strings.
"""
from __future__ import annotations

import random

from docqa.ingest.encoding import common_han


_CN = "一二三四五六七八九十"


def cn(n: int) -> str:
    """1..999 as Chinese numerals (十二, 一百零五)."""
    if n < 10:
        return _CN[n - 1]
    if n < 20:
        return "十" + (_CN[n - 11] if n > 10 else "")
    if n < 100:
        return _CN[n // 10 - 1] + "十" + (_CN[n % 10 - 1] if n % 10 else "")
    rest = n % 100
    tail = "" if not rest else ("零" + cn(rest) if rest < 10 else ("一" + cn(rest) if rest < 20 else cn(rest)))
    return _CN[n // 100 - 1] + "百" + tail


class Writer:
    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.chars = sorted(common_han())

    def words(self, lo: int, hi: int) -> str:
        return "".join(self.rng.choice(self.chars) for _ in range(self.rng.randint(lo, hi)))

    def sentence(self) -> str:
        parts = [self.words(4, 12) for _ in range(self.rng.randint(1, 3))]
        return "，".join(parts) + self.rng.choice("。。。！？；")

    def paragraph(self) -> str:
        """Sentences; now and then cut mid-sentence by a page end (a blank line after a comma)."""
        text = "".join(self.sentence() for _ in range(self.rng.randint(2, 6)))
        comma = text.find("，", len(text) // 2)
        if comma > 10 and self.rng.random() < 0.2:
            text = text[:comma + 1] + "\n\n" + text[comma + 1:]
        return text


def book(target_bytes: int, *, chapters_per_volume: int = 12, sections: int = 4,
         paragraphs: int = 5, seed: int = 7) -> str:
    """A multi-volume book of about `target_bytes` UTF-8 bytes."""
    w = Writer(seed)
    out: list[str] = [w.words(6, 10), "", "内容简介", "", w.paragraph(), ""]
    size = sum(len(s.encode()) for s in out)
    volume = 0
    while size < target_bytes:
        volume += 1
        titles = [[w.words(4, 9) for _ in range(sections + 1)] for _ in range(chapters_per_volume)]
        part = [f"第{cn(volume)}卷", "", "目录", ""]
        page = 1
        for c, (title, *secs) in enumerate(titles, start=1):
            part.append(f"第{cn(c)}章 {title} / {page:03d}")
            for s, sec in enumerate(secs, start=1):
                page += w.rng.randint(1, 9)
                part.append(f"第{cn(s)}节 {sec} / {page:03d}")
        part.append("")
        for c, (title, *secs) in enumerate(titles, start=1):
            part += [f"第{cn(c)}章 {title}", "", w.paragraph(), ""]
            for s, sec in enumerate(secs, start=1):
                part += [f"第{cn(s)}节 {sec}", "", w.paragraph(), ""]
                for k in range(1, 3):
                    part += [f"{cn(k)}、{w.words(3, 8)}", ""]
                    part += [w.paragraph() for _ in range(paragraphs)] + [""]
        chunk = "\n".join(part) + "\n"
        out.append(chunk)
        size += len(chunk.encode())
    return "\n".join(out)
