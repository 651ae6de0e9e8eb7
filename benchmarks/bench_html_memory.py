"""Peak memory of reading one large HTML file through docqa's HTML reader (issue 20: a 95 MB
upload cost +976 MB while read).

Each size runs in a fresh interpreter: the peak RSS of reading (`ru_maxrss`) minus the same
interpreter's RSS just before reading, printed beside the floor of the same run, which is the
file's bytes plus the text it gives as Python str (a reader has to hold at least the text).
The page is ordinary book HTML (`<p>` paragraphs of Chinese text with <h2> headings).

    python benchmarks/bench_html_memory.py --sizes 8 16 32 --dense 8 --out /tmp/html-bench
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from docqa.ingest.formats.html import read_html
from docqa.ingest.model import IngestError
def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
before = rss()
t = time.perf_counter()
try:
    out = read_html(Path(sys.argv[1]), "big.html"); chars = len(out.text); err = None
except IngestError as e:
    chars, err = 0, str(e)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"before": before, "peak": peak, "chars": chars, "seconds": time.perf_counter() - t, "error": err}))
"""


def make_html(out: Path, mb: int, dense: bool = False) -> Path:
    """`mb` MB of book HTML, or with `dense` of `<p>图</p>` (the densest markup: a node per character)."""
    para = "<p>图</p>" if dense else "<p>" + "中华人民共和国的外汇储备在二零一五年达到顶峰，随后有所回落。" * 8 + "</p>\n"
    with open(out, "w", encoding="utf-8") as f:
        f.write("<!DOCTYPE html><html><head><meta charset='utf-8'><title>大书</title></head><body>\n")
        n, k = 0, 0
        while n < mb << 20:
            chunk = (f"<h2>第{k + 1}章</h2>\n" + para * 50)
            f.write(chunk)
            n += len(chunk.encode())
            k += 1
        f.write("</body></html>\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--dense", type=int, nargs="*", default=[8], help="sizes (MB) of <p>图</p> pages")
    ap.add_argument("--out", type=Path, default=Path("/tmp/docqa-html-bench"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for mb, dense in [(mb, False) for mb in args.sizes] + [(mb, True) for mb in args.dense]:
        path = make_html(args.out / f"{'dense' if dense else 'book'}{mb}.html", mb, dense)
        r = json.loads(subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True,
                                      check=True).stdout)
        size = path.stat().st_size
        grew = r["peak"] - r["before"]
        floor = size + 4 * r["chars"]  # the bytes, plus the text as str (UCS-4 for CJK)
        what = f"refused: {r['error']}" if r["error"] else f"{r['chars']:,} chars"
        print(f"{'dense' if dense else 'book '} {size / 2**20:6.1f} MB: +{grew / 2**20:7.1f} MB peak RSS (floor {floor / 2**20:6.1f} MB, "
              f"{grew / max(floor, 1):4.1f}x) in {r['seconds']:5.1f} s; {what}", flush=True)


if __name__ == "__main__":
    main()
