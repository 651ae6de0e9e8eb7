"""Ingest time and peak memory against file size: linear means a flat per-MB column.

Generates book-like Chinese text files (volumes, each with its own contents listing; chapters
with sections and 一、 subsections; paragraphs of ordinary sentences drawn at random from
common characters, never the bundled book's text, some split by page ends) at a few sizes, ingests each with
`load_corpus` (read, structure, chunk) and prints wall and CPU seconds (CPU time is what to
compare on a shared machine), peak resident memory (above the interpreter's own, measured in a
fresh process) and both per MB.
The floor is the same run's cost of only decoding and splitting the file into lines (the
least any ingest must do), so the ratio column is machine-independent.

    python -m benchmarks.bench_ingest                # 0.3, 2, 10, 50 MB
    python -m benchmarks.bench_ingest --sizes 0.3 2  # quicker
"""
from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
import subprocess
import sys
import time
from pathlib import Path

from docqa.ingest.encoding import common_han
from docqa.ingest.pipeline import load_corpus

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


def measure(path: Path) -> dict:
    """Seconds, peak resident memory above the interpreter's own, and passages for one
    `load_corpus` of `path`, in a fresh process so each size starts clean."""
    code = (
        "import json, resource, sys, time\n"
        "from docqa.ingest.pipeline import load_corpus\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "t0, c0 = time.perf_counter(), time.process_time()\n"
        "corpus = load_corpus([sys.argv[1]])\n"
        "seconds, cpu = time.perf_counter() - t0, time.process_time() - c0\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(json.dumps({'seconds': seconds, 'cpu': cpu, 'peak_bytes': (peak - base) * 1024,"
        " 'passages': len(corpus.passages)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def floor(path: Path) -> float:
    """CPU seconds to decode the file and split it into classified lines: the least ingest does."""
    from docqa.ingest.structure import split_lines

    t0 = time.process_time()
    split_lines(path.read_bytes().decode("utf-8"))
    return time.process_time() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=float, nargs="+", default=[0.3, 2, 10, 50], help="file sizes in MB")
    args = ap.parse_args(argv)
    print(f"{'MB':>6} {'lines':>9} {'contents':>8} {'breaks':>7} {'passages':>9} {'floor cpu':>9} {'wall s':>7} "
          f"{'cpu s':>7} {'cpu s/MB':>8} {'x floor':>7} {'peak MB':>8} {'peak/MB':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for mb in args.sizes:
            path = Path(tmp) / f"book-{mb}.txt"
            text = book(int(mb * 1_000_000))
            path.write_text(text, encoding="utf-8")
            real_mb = path.stat().st_size / 1e6
            lines, contents = text.count("\n") + 1, text.count("\n目录\n")
            breaks = len(re.findall("，\n\n", text))
            del text
            base = floor(path)
            m = measure(path)
            seconds, cpu, peak, passages = m["seconds"], m["cpu"], m["peak_bytes"], m["passages"]
            print(f"{real_mb:6.2f} {lines:9d} {contents:8d} {breaks:7d} {passages:9d} {base:9.2f} {seconds:7.1f} "
                  f"{cpu:7.1f} {cpu / real_mb:8.2f} {cpu / base:7.1f} {peak / 1e6:8.0f} {peak / 1e6 / real_mb:7.1f}",
                  flush=True)
            path.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
