"""One book's outline is the same in every format, whatever tool made the file and however its
contents page (目录) is laid out.

The bundled book's .txt outline is the reference: 7 chapters from the contents, chapter 1 in
the text, 2–7 known only from the contents with their pages. The same book is made by the real
tools into PDF (Chromium print-to-PDF, LibreOffice), EPUB (pandoc from the .txt and from a web
page, LibreOffice), DOCX (python-docx, pandoc, LibreOffice), ODT (LibreOffice, pandoc) and a
web page, with its contents laid out three ways: as the .txt has it (a paragraph of lines kept
apart by line breaks, which pandoc reading the .txt and the DOCX/ODT readers run into one
line), as a table (number | title | page cells), and one entry a paragraph with the page after
dot leaders on the title's line (in Word, a right tab stop with dot leaders). The books are
made once per module (about 90 s on 2 busy cores).
"""
from __future__ import annotations

import html
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from docqa.ingest.pipeline import load_corpus
from tests.ingest.conftest import BOOK

TOOLS = ("chromium", "soffice", "pandoc")
_ENTRY = re.compile(r"^(第[一二三四五六七八九十]+[章节])\s*(.*?)\s*(?:/\s*)?(\d{3})?$")


def contents_entries(lines: list[str]) -> tuple[int, int, list[tuple[str, str, str]]]:
    """The .txt's contents page as (marker, title, page) entries, and the line span it covers.

    Test scaffolding only: it reads this one test book's contents so they can be laid out
    again in other ways; the code under test never sees it."""
    first = lines.index("目录") + 1
    end = next(k for k in range(first, len(lines)) if lines[k].startswith("参考文献"))
    entries: list[tuple[str, str, str]] = []
    for raw in lines[first:end]:
        line = raw.strip()
        if not line:
            continue
        m = _ENTRY.match(line)
        if m:
            entries.append([m.group(1), m.group(2), m.group(3) or ""])
        else:
            entries[-1][1] = line
    return first, end + 1, [tuple(e) for e in entries]


Block = list[str]  # one paragraph: its lines (kept apart by line breaks), or "<table>" + rows


def layouts() -> dict[str, list[Block]]:
    """The book as paragraphs, each a run of the .txt's lines between blank lines (a line break
    between lines, as a converted .txt has them), with its contents page laid out three ways:
    "plain" as the .txt has it, "table" as rows of number | title | page cells, "leaders" one
    entry a paragraph with the page after dot leaders on the title's line (a number alone above
    a chapter's title). The reference list's entry (参考文献 228) ends the contents each way."""
    lines = BOOK.read_text(encoding="utf-8").splitlines()
    first, end, entries = contents_entries(lines)
    refs_page = lines[end - 1].split()[-1]

    def blocks(part: list[str]) -> list[Block]:
        out: list[Block] = [[]]
        for line in part:
            if line.strip():
                out[-1].append(line.rstrip())
            elif out[-1]:
                out.append([])
        return [b for b in out if b]

    before, after = blocks(lines[:first]), blocks(lines[end:])
    table = ["<table>"] + [f"{m}\t{t}\t{p}" for m, t, p in entries] + [f"参考文献\t\t{refs_page}"]
    leaders: list[Block] = []
    for m, t, p in entries:
        if m.endswith("章"):
            leaders += [[m], [f"{t}<leader>{p}"]]
        else:
            leaders.append([f"{m} {t}<leader>{p}"])
    leaders.append([f"参考文献<leader>{refs_page}"])
    return {"plain": blocks(lines), "table": before + [table] + after, "leaders": before + leaders + after}


def to_html(blocks: list[Block], out: Path) -> Path:
    """A web page: one <p> a paragraph, <br> between its lines, a tab kept (pre-wrap), a table
    block as a <table>, a leader as a run of dots."""
    body = []
    for block in blocks:
        if block[0] == "<table>":
            body.append("<table>" + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row.split("\t"))
                                            + "</tr>" for row in block[1:]) + "</table>")
        else:
            body.append("<p>" + "<br>".join(html.escape(line).replace("&lt;leader&gt;", "…" * 12)
                                            for line in block) + "</p>")
    out.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><title>“一带一路”工业文明</title>'
                   '<style>p{white-space:pre-wrap;margin:0 0 .4em}td{padding:0 1em}</style></head><body>'
                   + "\n".join(body) + "</body></html>", encoding="utf-8")
    return out


def to_docx(blocks: list[Block], out: Path) -> Path:
    """The book written by python-docx: one paragraph a block (a line break between its lines),
    a table block as a Word table, a leader as a right-aligned tab stop with dot leaders (how
    Word sets a contents line)."""
    from docx import Document
    from docx.enum.text import WD_TAB_ALIGNMENT, WD_TAB_LEADER
    from docx.shared import Cm

    doc = Document()
    for block in blocks:
        if block[0] == "<table>":
            rows = [r.split("\t") for r in block[1:]]
            table = doc.add_table(rows=len(rows), cols=3)
            for r, cells in enumerate(rows):
                for c, text in enumerate(cells):
                    table.cell(r, c).text = text
            continue
        text = "\n".join(block)
        p = doc.add_paragraph(text.replace("<leader>", "\t"))
        if "<leader>" in text:
            p.paragraph_format.tab_stops.add_tab_stop(Cm(15), WD_TAB_ALIGNMENT.RIGHT, WD_TAB_LEADER.DOTS)
    doc.core_properties.title = "“一带一路”工业文明"
    doc.save(out)
    return out


def chromium_pdf(page: Path, out: Path) -> Path:
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--print-to-pdf={out}",
                    page.as_uri()], check=True, capture_output=True, timeout=300)
    return out


def pandoc(src: Path, out: Path) -> Path:
    subprocess.run(["pandoc", str(src), "-o", str(out), "--metadata", "title=“一带一路”工业文明"],
                   check=True, capture_output=True, timeout=300)
    return out


def soffice(src: Path, outdir: Path, kind: str) -> Path:
    """LibreOffice saves `src` as `kind` with a private profile (parallel runs do not clash); a
    web page is opened in Writer, not Writer/Web, so it can be saved as a text document."""
    filters = {"docx": "docx:MS Word 2007 XML", "odt": "odt:writer8", "pdf": "pdf:writer_pdf_Export", "epub": "epub"}
    infilter = ["--infilter=HTML (StarWriter)"] if src.suffix == ".html" else []
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", *infilter,
                        "--convert-to", filters[kind], "--outdir", str(outdir), str(src)],
                       check=True, capture_output=True, timeout=600)
    return outdir / f"{src.stem}.{kind}"


BOOKS = {
    # name: (contents layout, how it is made: source > tool:format)
    "pdf_chromium": ("plain", "html>chromium"),
    "pdf_chromium_table": ("table", "html>chromium"),
    "pdf_chromium_leaders": ("leaders", "html>chromium"),
    "pdf_libreoffice": ("plain", "docx>soffice:pdf"),
    "pdf_libreoffice_leaders": ("leaders", "docx>soffice:pdf"),
    "epub_pandoc_txt": ("plain", "txt>pandoc:epub"),
    "epub_pandoc_html": ("plain", "html>pandoc:epub"),
    "epub_pandoc_table": ("table", "html>pandoc:epub"),
    "epub_libreoffice_leaders": ("leaders", "docx>soffice:epub"),
    "docx_python": ("plain", "docx"),
    "docx_python_leaders": ("leaders", "docx"),
    "docx_pandoc_txt": ("plain", "txt>pandoc:docx"),
    "docx_pandoc_table": ("table", "html>pandoc:docx"),
    "docx_libreoffice_table": ("table", "html>soffice:docx"),
    "odt_libreoffice": ("plain", "docx>soffice:odt"),
    "odt_pandoc_table": ("table", "html>pandoc:odt"),
    "odt_libreoffice_leaders": ("leaders", "docx>soffice:odt"),
    "html": ("plain", "html"),
    "html_table": ("table", "html"),
}


def make(name: str, layout: list[str], how: str, out: Path) -> Path:
    folder = out / name
    folder.mkdir()
    steps = how.split(">")
    if steps[0] == "txt":
        src = folder / "book.txt"
        src.write_text("\n\n".join("\n".join(b) for b in layout) + "\n", encoding="utf-8")
    elif steps[0] == "html":
        src = to_html(layout, folder / "book.html")
    else:
        src = to_docx(layout, folder / "book.docx")
    for step in steps[1:]:
        tool, _, kind = step.partition(":")
        if tool == "chromium":
            src = chromium_pdf(src, folder / "book.pdf")
        elif tool == "pandoc":
            src = pandoc(src, folder / f"book.{kind}")
        else:
            src = soffice(src, folder / "out", kind)
    return src


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    out = tmp_path_factory.mktemp("contents-books")
    made = layouts()
    return {name: make(name, made[layout], how, out) for name, (layout, how) in BOOKS.items()}


def outline(doc) -> list:
    """What the reader sees of each chapter: number, title, in the text or not, its contents
    page, and its sections' titles."""
    return [(c.number, c.title, c.in_corpus, c.toc_page, [s.title for s in c.sections]) for c in doc.chapters]


@pytest.fixture(scope="module")
def reference(book_doc):
    return outline(book_doc)


def test_the_reference_is_the_printed_contents(reference):
    assert [(n, inside, page) for n, _, inside, page, _ in reference] == [
        (1, True, 1), (2, False, 9), (3, False, 23), (4, False, 41), (5, False, 103), (6, False, 207),
        (7, False, 221)]


@pytest.mark.parametrize("name", list(BOOKS))
def test_every_format_and_layout_gives_the_txt_outline(books, reference, book_doc, name):
    doc = load_corpus([books[name]]).documents[0]
    assert outline(doc) == reference
    refs = [(f.title, f.toc_page, f.in_corpus) for f in doc.front_matter if f.kind == "back_matter"]
    assert refs == [(f.title, f.toc_page, f.in_corpus) for f in book_doc.front_matter if f.kind == "back_matter"]
