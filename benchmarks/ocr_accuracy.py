"""OCR of scanned pages: character error rate and pages/s (needs `pip install 'docqa[ocr]'`).

Pages of a text PDF (the bundled book typeset by python-docx + LibreOffice) are rendered by
poppler's pdftoppm and wrapped as an image-only PDF; docqa reads that PDF through rapidocr and
its text, page by page, is compared with docqa's reading of the same pages' text layer (the
floor: CER 0). CER = Levenshtein distance / reference length, whitespace removed.

    python benchmarks/ocr_accuracy.py [--pages 6-8] [--dpi 144]
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_books import make_docx, to_pdf  # noqa: E402


def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def page_texts(doc) -> dict[int, str]:
    out = {}
    bounds = doc.pages + [(len(doc.text), None, None)]
    for (start, number, _), (end, _, _) in zip(bounds, bounds[1:]):
        out[number] = re.sub(r"\s+", "", doc.text[start:end])
    return out


def image_pdf(pdf: Path, first: int, last: int, dpi: int, out: Path) -> Path:
    import pypdfium2 as pdfium

    subprocess.run(["pdftoppm", "-jpeg", "-r", str(dpi), "-f", str(first), "-l", str(last), str(pdf),
                    str(out.parent / "page")], check=True)
    doc = pdfium.PdfDocument.new()
    for jpg in sorted(out.parent.glob("page-*.jpg")):
        image = pdfium.PdfImage.new(doc)
        image.load_jpeg(str(jpg))
        w, h = image.get_px_size()
        pw, ph = w * 72 / dpi, h * 72 / dpi
        page = doc.new_page(pw, ph)
        image.set_matrix(pdfium.PdfMatrix().scale(pw, ph))
        page.insert_obj(image)
        page.gen_content()
    doc.save(str(out))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", default="6-8")
    ap.add_argument("--dpi", type=int, default=144)
    args = ap.parse_args()
    from docqa.corpus import BUNDLED
    from docqa.ingest.formats.ocr import ocr_available
    from docqa.ingest.pipeline import load_corpus

    if not ocr_available():
        sys.exit("rapidocr is not installed: pip install 'docqa[ocr]'")
    first, last = map(int, args.pages.split("-"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        text = (BUNDLED / "belt-and-road-capacity-cooperation.txt").read_text(encoding="utf-8")
        pdf = to_pdf(make_docx(text, tmp / "book.docx", header="产能合作研究丛书"), tmp)
        subprocess.run(["qpdf", str(pdf), "--pages", ".", f"{first}-{last}", "--", str(tmp / "text.pdf")], check=True)
        scanned = image_pdf(pdf, first, last, args.dpi, tmp / "scanned.pdf")
        reference = page_texts(load_corpus([tmp / "text.pdf"]).documents[0])
        t = time.perf_counter()
        ocr_doc = load_corpus([scanned]).documents[0]
        seconds = time.perf_counter() - t
        got = page_texts(ocr_doc)
    errors = total = 0
    for number, ref in reference.items():
        e = levenshtein(got.get(number, ""), ref)
        errors += e
        total += len(ref)
        print(f"  page {first + number - 1}: {len(ref)} characters, CER {e / max(len(ref), 1):.4f}")
    n = len(reference)
    print(f"OCR (rapidocr, {args.dpi} dpi): CER {errors / total:.4f} over {total} characters; "
          f"{n} pages in {seconds:.1f}s = {n / seconds:.3f} pages/s (text layer floor: CER 0)")


if __name__ == "__main__":
    main()
