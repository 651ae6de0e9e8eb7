"""Make real PDF, EPUB and DOCX books from a plain-text book with real tools.

python-docx writes the DOCX (a running header with the book's title and a page-number
footer, first-line indents, optional heading styles); LibreOffice prints it to PDF; pandoc
turns the DOCX into an EPUB. Used by the tests and the benchmarks, so both judge files the
way readers have them, not strings made to suit the readers.

    python benchmarks/make_books.py BOOK.txt OUTDIR [--headings]
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

_HEADING = re.compile(r"^(第\s*[0-9一二三四五六七八九十百]+\s*[章节]|[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[)）])")


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def make_docx(text: str, out: Path, *, header: str = "", headings: bool = False) -> Path:
    """One paragraph per line of `text` (blank lines dropped); a running header and page numbers.

    With `headings`, lines that look like 第X章/第X节/一、/（一） headings get Heading 1-4 styles.
    """
    from docx import Document
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = Document()
    section = doc.sections[0]
    if header:
        section.header.paragraphs[0].text = header
    footer = section.footer.paragraphs[0]
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    t = OxmlElement("w:t")
    t.text = "1"
    run.append(t)
    field.append(run)
    footer._p.append(field)
    footer.alignment = 1
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        listed = re.search(r"(\s[/／]\s*|\s)\d{1,4}$", line)  # a contents entry, not a heading
        m = _HEADING.match(line) if headings and not listed else None
        if m:
            marker = m.group(1)
            level = 1 if marker.endswith("章") else 2 if marker.endswith("节") else 3 if "、" in marker else 4
            doc.add_heading(line, level=level)
            continue
        p = doc.add_paragraph(line)
        if len(line) > 40:
            p.paragraph_format.first_line_indent = Pt(21)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc.save(out)
    return out


def to_pdf(docx: Path, outdir: Path) -> Path:
    """LibreOffice prints the DOCX to PDF (a private profile, so parallel runs do not clash)."""
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless",
                        "--convert-to", "pdf", "--outdir", str(outdir), str(docx)],
                       check=True, capture_output=True, timeout=600)
    return outdir / (docx.stem + ".pdf")


def to_epub(docx: Path, out: Path, title: str = "") -> Path:
    cmd = ["pandoc", str(docx), "-o", str(out), "--toc"]
    if title:
        cmd += ["--metadata", f"title={title}"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("book", type=Path)
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--headings", action="store_true", help="give heading lines Word heading styles")
    ap.add_argument("--header", default="", help="running header text (default: none)")
    args = ap.parse_args()
    text = args.book.read_text(encoding="utf-8")
    stem = args.book.stem
    docx = make_docx(text, args.outdir / f"{stem}.docx", header=args.header, headings=args.headings)
    print(docx)
    print(to_pdf(docx, args.outdir))
    print(to_epub(docx, args.outdir / f"{stem}.epub", title=args.header or stem))


if __name__ == "__main__":
    main()
