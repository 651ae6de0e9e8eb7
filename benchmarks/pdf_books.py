"""PDF reading: library choice, speed, and memory on a long book.

1. pypdf vs pypdfium2 on a real PDF (the bundled book's text typeset by python-docx +
   LibreOffice with a running header, CJK with curly quotes in a Latin font): seconds per page
   and how much of the book's text comes back in order (difflib ratio of the whitespace-free
   text against the .txt; 1.0 = all of it, in order). The floor
   is the library's plain text call; docqa's reader (pypdfium2 character boxes + book rules)
   is measured beside it.
2. A long book (default 1,000 pages: a ~50-page made-up book typeset by LibreOffice, its pages
   repeated by qpdf, since LibreOffice takes too long to typeset 1,000 pages at once):
   docqa's ingest (read, structure, chunk) in a child process, its seconds, pages/s and peak
   RSS, next to the same text as a .txt (the floor), measured in the same run.

    python benchmarks/pdf_books.py [--pages 1000] [--keep DIR]
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_books import book_text, make_docx, to_pdf  # noqa: E402

HEADER = "山河图志丛书"
_CHILD = r"""
import json, resource, sys, time
from docqa.ingest.pipeline import load_corpus
t = time.perf_counter()
c = load_corpus([sys.argv[1]])
d = c.documents[0]
print(json.dumps({"seconds": time.perf_counter() - t, "passages": len(c.passages), "chars": len(d.text),
                  "pages": d.metadata.get("page_count"), "chapters": len(d.chapters),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def squeeze(s: str) -> str:
    return re.sub(r"\s+", "", s)


def order_ratio(extracted: str, truth: str) -> float:
    return difflib.SequenceMatcher(None, squeeze(extracted), squeeze(truth), autojunk=False).ratio()


def compare_libraries(pdf: Path, truth: str) -> None:
    import pypdf
    import pypdfium2 as pdfium

    from docqa.ingest.formats.pdf import read_pdf

    rows = []
    t = time.perf_counter()
    reader = pypdf.PdfReader(pdf)
    text = "\n".join(p.extract_text() or "" for p in reader.pages)
    n = len(reader.pages)
    rows.append(("pypdf extract_text", time.perf_counter() - t, text))
    t = time.perf_counter()
    doc = pdfium.PdfDocument(str(pdf))
    text = "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    rows.append(("pypdfium2 get_text_range", time.perf_counter() - t, text))
    t = time.perf_counter()
    text = read_pdf(pdf, pdf.name).text
    rows.append(("docqa read_pdf (pypdfium2 boxes + rules)", time.perf_counter() - t, text))
    print(f"library comparison on {pdf.name} ({n} pages, {len(squeeze(truth))} source characters)")
    for name, secs, text in rows:
        header = text.count(HEADER)
        print(f"  {name:42s} {1000 * secs / n:7.1f} ms/page  in-order ratio {order_ratio(text, truth):.4f}"
              f"  running-header copies {header}")


def ingest(path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--keep", type=Path, help="keep the made books in this folder")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        from docqa.corpus import BUNDLED

        book = BUNDLED / "belt-and-road-capacity-cooperation.txt"
        book_text_ = book.read_text(encoding="utf-8")
        real = to_pdf(make_docx(book_text_, out / "bundled-book.docx", header=HEADER), out)
        compare_libraries(real, book_text_)

        text, _ = book_text(4, section_paras=14)
        t = time.perf_counter()
        part = to_pdf(make_docx(text, out / "part.docx", header=HEADER), out)
        import pypdfium2 as pdfium

        n = len(pdfium.PdfDocument(str(part)))
        copies = -(-args.pages // n)
        long_pdf = out / "long.pdf"
        subprocess.run(["qpdf", "--empty", "--pages", *[str(part)] * copies, "--", str(long_pdf)], check=True)
        (out / "long.txt").write_text(text * copies, encoding="utf-8")
        print(f"made long.pdf ({n} pages x {copies}) with LibreOffice and qpdf in {time.perf_counter() - t:.0f}s")
        floor = ingest(out / "long.txt")
        got = ingest(long_pdf)
        print(f"long book, {got['pages']} pages, {got['chars']} characters, {got['chapters']} chapters:")
        print(f"  .txt ingest (floor)  {floor['seconds']:7.1f}s  peak RSS {floor['peak_rss_mb']:7.1f} MB  "
              f"{floor['passages']} passages")
        print(f"  .pdf ingest          {got['seconds']:7.1f}s  peak RSS {got['peak_rss_mb']:7.1f} MB  "
              f"{got['passages']} passages  {got['pages'] / got['seconds']:.1f} pages/s")


if __name__ == "__main__":
    main()
