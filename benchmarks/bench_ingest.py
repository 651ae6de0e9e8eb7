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
import re
import tempfile
import subprocess
import sys
import time
from pathlib import Path

from tests.bookgen import book

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
