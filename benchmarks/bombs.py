"""Issue 20's hostile files, read the way an upload and `docqa add` read them: outcome, seconds, peak RSS.

    python benchmarks/bombs.py [--cli] [--only NAME] > benchmarks/results/bombs.txt

Each case runs in a fresh Python that imports docqa, notes its RSS (the baseline), then reads the
file with `load_corpus_isolated` (the path `index/library.add_documents` and `docqa build` take).
Peak memory is the wrapper's peak above its baseline plus the reader child's peak
(`RUSAGE_CHILDREN`): an upper bound on parent+child together. Target (issue 20): every bomb
refused in one line within 30 s, peak <= 300 MB above baseline. `--cli` also runs
`python -m docqa.service.cli add FILE --index DIR` for each file and shows its stderr's last line,
its line count and whether a traceback appeared.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_bombs  # noqa: E402

MB = 1 << 20
TARGET_MB, TARGET_S = 300, 30


def cases(folder: Path):
    """(name, what it is, maker) for each bomb of the issue, plus dense parts just under the part limit."""
    under = 60 * MB
    return [
        ("mimetype.epub", "EPUB whose mimetype inflates to 1 GB", lambda p: make_bombs.epub_mimetype_bomb(p, 1024 * MB)),
        ("dense480.epub", "EPUB, 480 MB of <p>图</p>", lambda p: make_bombs.epub_markup_bomb(p, 480 * MB)),
        ("dense380.odt", "ODT, 380 MB of <text:p>图</text:p>", lambda p: make_bombs.odt_bomb(p, 380 * MB)),
        ("dense450.docx", "DOCX, 450 MB of one-character w:p", lambda p: make_bombs.docx_bomb(p, 450 * MB)),
        ("dense60.epub", "EPUB, 60 MB of <p>图</p> (under the part limit)", lambda p: make_bombs.epub_markup_bomb(p, under)),
        ("dense60.odt", "ODT, 60 MB of <text:p>图</text:p> (under the part limit)", lambda p: make_bombs.odt_bomb(p, under)),
        ("dense60.docx", "DOCX, 60 MB of w:p (under the part limit)", lambda p: make_bombs.docx_bomb(p, under)),
        ("flate1g.pdf", "PDF, one page whose content stream inflates to 1 GB", lambda p: make_bombs.pdf_flate_bomb(p, 1024 * MB)),
        ("loop.pdf", "PDF whose page tree lists itself", make_bombs.pdf_self_loop),
        ("book.txt", "the bundled book (normal path)", None),
    ]


_READ = r"""
import json, resource, sys, time
from pathlib import Path
from docqa.ingest.isolated import load_corpus_isolated
import docqa.ingest.model
def rss():
    return int(open('/proc/self/statm').read().split()[1]) * 4096
base = rss()
t = time.perf_counter()
try:
    c = load_corpus_isolated([Path(sys.argv[1])])
    outcome = f"read: {len(c.documents)} document(s), {sum(len(d.text) for d in c.documents):,} chars"
except Exception as e:
    outcome = f"{type(e).__name__}: {e}"
sec = time.perf_counter() - t
self_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
child = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"outcome": outcome, "seconds": sec, "base": base, "self_peak": self_peak,
                  "child_peak": child.ru_maxrss * 1024, "child_cpu": child.ru_utime + child.ru_stime}))
"""


def read_case(path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _READ, str(path)], capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        return {"outcome": f"wrapper failed: {out.stderr.strip().splitlines()[-1:]}", "seconds": 0, "base": 0,
                "self_peak": 0, "child_peak": 0, "child_cpu": 0}
    return json.loads(out.stdout.strip().splitlines()[-1])


def cli_case(path: Path, folder: Path) -> dict:
    t = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run([sys.executable, "-m", "docqa.service.cli", "add", str(path), "--index", str(folder / "shelf")],
                         capture_output=True, text=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    return {"seconds": time.perf_counter() - t, "exit": out.returncode, "lines": len(lines),
            "traceback": "Traceback" in out.stderr, "last": lines[-1] if lines else "",
            "peak_max": peak if peak > before else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", action="store_true")
    ap.add_argument("--only")
    args = ap.parse_args()
    from docqa.corpus import bundled_files

    print(f"bombs.py  python {sys.version.split()[0]}  target: refused in one line within {TARGET_S} s, "
          f"peak <= {TARGET_MB} MB above baseline")
    with tempfile.TemporaryDirectory(prefix="docqa-bombs-") as tmp:
        folder = Path(tmp)
        for name, what, make in cases(folder):
            if args.only and args.only != name:
                continue
            path = bundled_files()[0] if make is None else make(folder / name)
            r = read_case(path)
            above = (r["self_peak"] - r["base"] + r["child_peak"]) / MB
            ok = r["seconds"] <= TARGET_S and (above <= TARGET_MB) and ("\n" not in r["outcome"])
            print(f"\n{name}  ({what}; {path.stat().st_size:,} bytes on disk)")
            print(f"  isolated read: {r['seconds']:.1f} s wall, child CPU {r['child_cpu']:.1f} s, "
                  f"peak above baseline {above:.0f} MB (parent +{(r['self_peak'] - r['base']) / MB:.0f}, "
                  f"child {r['child_peak'] / MB:.0f})  {'within target' if ok else 'OVER TARGET'}")
            print(f"  outcome: {r['outcome']}")
            if args.cli:
                c = cli_case(path, folder)
                print(f"  cli add: exit {c['exit']}, {c['seconds']:.1f} s, {c['lines']} stderr line(s), "
                      f"traceback: {'yes' if c['traceback'] else 'no'}; peak of one process "
                      f"{'%.0f MB' % (c['peak_max'] / 1024) if c['peak_max'] else 'under an earlier case'}")
                print(f"  cli says: {c['last'][:300]}")
            if make is not None:
                path.unlink()


if __name__ == "__main__":
    main()
