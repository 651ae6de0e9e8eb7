"""PDF, EPUB, DOCX and HTML books made by real tools at test time, read back with page-exact citations.

A made-up Chinese book (not the bundled one) is written by python-docx with a running header
and page-number footer, printed to PDF by LibreOffice and turned into an EPUB by pandoc.
Where a sentence really is in the PDF is asked of poppler's pdftotext, page by page, so the
readers are judged against another tool, not against themselves.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from docqa.ingest.model import IngestError
from docqa.ingest.pipeline import load_corpus
from docqa.ingest.text import compact

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from make_books import MARKERS, book_text, make_docx, to_epub, to_pdf  # noqa: E402

HEADER = "山河图志丛书"
TOOLS = ("soffice", "pandoc", "pdftotext", "pdftoppm", "qpdf")
needs_tools = pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                                 reason=f"needs {', '.join(TOOLS)} (.ci/run installs them)")
@pytest.fixture(scope="module")
def books(tmp_path_factory):
    if any(shutil.which(t) is None for t in TOOLS):
        pytest.skip(f"needs {', '.join(TOOLS)}")
    out = tmp_path_factory.mktemp("books")
    text, paras = book_text()
    (out / "plain").mkdir()
    (out / "styled").mkdir()
    plain = make_docx(text, out / "plain" / "book.docx", header=HEADER)
    styled = make_docx(text, out / "styled" / "book.docx", header=HEADER, headings=True)
    files = {"txt": out / "book.txt", "docx": plain, "styled_docx": styled,
             "pdf": to_pdf(plain, out / "plain"), "styled_pdf": to_pdf(styled, out / "styled"),
             "epub": to_epub(styled, out / "styled" / "book.epub", title="山河图志"),
             "odt": to_pdf(plain, out / "plain", "odt"), "styled_odt": to_pdf(styled, out / "styled", "odt")}
    files["txt"].write_text(text, encoding="utf-8")
    return files, paras


def pdf_pages(pdf: Path) -> list[str]:
    """Each page's text as poppler reads it, whitespace removed."""
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True,
                         text=True).stdout
    return [re.sub(r"\s+", "", p) for p in out.split("\f")][:-1] or [re.sub(r"\s+", "", out)]


def outline(doc) -> list:
    return [(c.number, c.title, c.in_corpus, [(s.title, [u.title for u in s.subsections]) for s in c.sections])
            for c in doc.chapters]


EXPECTED = [(1, "山川", True, [("河流", []), ("湖泊", ["一、源头", "二、下游"])]),
            (2, "城市", True, [("街道", []), ("集市", [])])]


@needs_tools
@pytest.mark.parametrize("kind", ["txt", "pdf", "styled_pdf", "docx", "styled_docx", "epub", "odt", "styled_odt"])
def test_every_format_gives_the_same_outline(books, kind):
    files, _ = books
    doc = load_corpus([files[kind]]).documents[0]
    assert outline(doc) == EXPECTED
    refs = next(f for f in doc.front_matter if f.title == "参考文献")
    assert refs.in_corpus and refs.toc_page == 9
    assert [c.toc_page for c in doc.chapters] == [1, 5]


@needs_tools
def test_pdf_pages_headers_and_joined_paragraphs(books):
    files, paras = books
    corpus = load_corpus([files["pdf"]])
    doc = corpus.documents[0]
    pages = pdf_pages(files["pdf"])
    assert doc.metadata["page_count"] == len(pages) >= 5
    # the running header and the page-number footer are on the pages, and in no passage
    assert sum(HEADER in p for p in pages) >= len(pages) - 1
    assert HEADER not in doc.text and not any(HEADER in p.text for p in corpus.passages)
    assert not re.search(r"(?m)^\s*\d{1,3}\s*$", doc.text)
    # every paragraph comes back whole, also those that poppler sees split across two pages
    across = [p for p in paras if not any(p in page for page in pages)]
    assert across, "the made-up book should have paragraphs that run across a page end"
    for p in paras:
        assert p in doc.text
    # page numbers: where pdftotext finds each marker sentence
    page_of = {}
    for m in MARKERS:
        on = [n for n, page in enumerate(pages, start=1) if m in page]
        assert len(on) <= 1
        if on:  # a marker cut by a page end is on no single page
            page_of[m] = on[0]
            assert doc.text.count(m) == 1
            start = doc.text.index(m)
            assert max(n for o, n, _ in doc.pages if o <= start) == on[0]
    for m, number in page_of.items():
        hits = [p for p in corpus.passages if m in compact(p.text)]
        assert hits and all(p.page <= number <= p.page_end for p in hits), (m, number)
    assert len(set(page_of.values())) >= 4
    for p in corpus.passages:
        assert compact(doc.text[p.start:p.end]) == compact(p.text)
        assert 1 <= p.page <= p.page_end <= len(pages)
        assert p.page_label is None  # LibreOffice defines no labels


def chromium_book(tmp_path: Path, style: str) -> tuple[Path, list[str]]:
    """The made-up book as a web page printed to PDF by Chromium, which adds its own header
    (date, page title) and footer (URL, "3/9") on every page; and the book's paragraphs."""
    if shutil.which("chromium") is None:
        pytest.skip("needs chromium")
    import html

    text, paras = book_text()
    body = "".join(f"<p>{html.escape(line)}</p>" for line in text.splitlines() if line.strip())
    page = tmp_path / "book.html"
    page.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{HEADER}网页</title><style>'
                    f'{style}</style></head><body>{body}</body></html>', encoding="utf-8")
    pdf = tmp_path / "book.pdf"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--print-to-pdf={pdf}",
                    page.as_uri()], check=True, capture_output=True, timeout=300)
    return pdf, paras


def assert_read_whole(pdf: Path, paras: list[str]) -> None:
    """The outline, every paragraph whole, no Chromium header or footer, markers cited on their pages."""
    pages = pdf_pages(pdf)
    assert all(f"{HEADER}网页" in p for p in pages) and len(pages) >= 3
    corpus = load_corpus([pdf])
    doc = corpus.documents[0]
    assert outline(doc) == EXPECTED
    assert HEADER not in doc.text and "file:" not in doc.text and not re.search(r"\d+/\d+\s*$", doc.text)
    for p in paras:
        assert p in doc.text
    for m in MARKERS:
        on = [n for n, pg in enumerate(pages, start=1) if m in pg]
        for p in (p for p in corpus.passages if on and m in compact(p.text)):
            assert p.page <= on[0] <= p.page_end


@needs_tools
def test_chromium_print_to_pdf_headers_and_footers(tmp_path):
    assert_read_whole(*chromium_book(tmp_path, "p{text-indent:2em;margin:0;font-size:14pt}"))


@pytest.mark.parametrize("columns", [2, 3])
def test_pages_set_in_columns_are_read_column_by_column(tmp_path, columns):
    """Printed in two or three columns: each column is read down before the next, so no line is
    spliced with its neighbour's."""
    assert_read_whole(*chromium_book(tmp_path, f"body{{column-count:{columns};column-gap:2em}} "
                                               "p{text-indent:2em;margin:0;font-size:11pt}"))


@needs_tools
def test_chapter_running_heads_on_few_pages_are_dropped(tmp_path):
    """Each chapter its own Word section whose header is the chapter's running title; the short
    chapter's title runs on only a page or two, too few to be told by repetition alone."""
    from docx import Document
    from docx.enum.section import WD_SECTION
    from docx.shared import Pt

    text, paras = book_text()
    doc = Document()
    heads = []
    for line in (ln for ln in text.splitlines() if ln.strip()):
        if re.match(r"^第.章 \S+$", line) and not re.search(r"\d$", line):
            section = doc.add_section(WD_SECTION.NEW_PAGE)
            section.header.is_linked_to_previous = False
            head = "本章 · " + line.split(" ", 1)[1]
            section.header.paragraphs[0].text = head
            heads.append(head)
        para = doc.add_paragraph(line)
        if len(line) > 40:
            para.paragraph_format.first_line_indent = Pt(21)
    doc.save(tmp_path / "chapters.docx")
    pdf = to_pdf(tmp_path / "chapters.docx", tmp_path)
    pages = pdf_pages(pdf)
    assert all(sum(compact(h) in p for p in pages) >= 1 for h in heads)
    corpus = load_corpus([pdf])
    assert outline(corpus.documents[0]) == EXPECTED
    for h in heads:
        assert compact(h) not in compact(corpus.documents[0].text)
    for p in paras:
        assert p in corpus.documents[0].text


@needs_tools
def test_pdf_bookmarks_and_page_labels(books, tmp_path):
    pypdf = pytest.importorskip("pypdf")
    files, _ = books
    reader = pypdf.PdfReader(files["styled_pdf"])
    writer = pypdf.PdfWriter(clone_from=reader)
    writer.set_page_label(0, 1, style="/r")
    writer.set_page_label(2, len(reader.pages) - 1, style="/D", start=1)
    labelled = tmp_path / "labelled.pdf"
    writer.write(labelled)
    corpus = load_corpus([labelled])
    doc = corpus.documents[0]
    assert outline(doc) == EXPECTED
    assert doc.heading_levels  # LibreOffice wrote bookmarks for the heading styles
    pages = pdf_pages(labelled)
    for m in MARKERS:
        number = next((n for n, page in enumerate(pages, start=1) if m in page), None)
        if number is None:
            continue
        hit = next(p for p in corpus.passages if m in compact(p.text) and p.page == number)
        want = ["i", "ii"][number - 1] if number <= 2 else str(number - 2)
        assert hit.page_label == want


@needs_tools
@pytest.mark.parametrize("kind", ["docx", "odt"])
def test_heading_styles_give_levels(books, kind):
    files, _ = books
    doc = load_corpus([files[f"styled_{kind}"]]).documents[0]
    text = doc.text
    levels = {text[o:].split("\n", 1)[0]: lvl for o, lvl in doc.heading_levels}
    assert levels["第一章 山川"] == 1 and levels["第一节 河流"] == 2 and levels["一、源头"] == 3
    assert load_corpus([files[kind]]).documents[0].heading_levels == []


def test_epub_notes_never_spliced_and_nav_levels(tmp_path):
    if shutil.which("pandoc") is None:
        pytest.skip("needs pandoc")
    md = tmp_path / "notes.md"
    md.write_text("# 第一章 江河\n\n## 第一节 源流\n\n大江东去浪淘尽[^1]千古风流人物都在此处留下足迹。\n\n"
                  "[^1]: 此句出自古人词作。\n\n# 第二章 湖海\n\n湖海之间有许多岛屿和渔村。\n", encoding="utf-8")
    epub = tmp_path / "notes.epub"
    subprocess.run(["pandoc", str(md), "-o", str(epub), "--metadata", "title=江河湖海"], check=True)
    doc = load_corpus([epub]).documents[0]
    assert "大江东去浪淘尽千古风流人物都在此处留下足迹。" in doc.text
    assert "此句出自古人词作。" in doc.text  # the note is kept, as a paragraph of its own
    assert [(c.number, c.title, [s.title for s in c.sections]) for c in doc.chapters] == \
        [(1, "江河", ["源流"]), (2, "湖海", [])]
    assert doc.title == "江河湖海"


FODT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" office:version="1.3"
 office:mimetype="application/vnd.oasis.opendocument.text"><office:body><office:text>
<text:h text:outline-level="1">第一章 江河</text:h>
<text:p>大江东去浪淘尽<text:note text:id="n1" text:note-class="footnote"><text:note-citation>1</text:note-citation>
<text:note-body><text:p>此句出自古人的词作。</text:p></text:note-body></text:note>，千古风流人物都在此处留下足迹。<draw:frame
 draw:name="框1" text:anchor-type="paragraph" svg:width="6cm" svg:height="2cm"><draw:text-box>
<text:p>补充说明：这条江全长约六千三百公里。</text:p></draw:text-box></draw:frame></text:p>
<text:p>湖海之间有许多岛屿<text:note text:id="n2" text:note-class="endnote"><text:note-citation>i</text:note-citation>
<text:note-body><text:p>岛屿的数目以官方统计为准。</text:p></text:note-body></text:note>和渔村。</text:p>
</office:text></office:body></office:document>"""


def test_notes_and_text_boxes_are_read_once_after_their_paragraph(tmp_path):
    """Word and OpenDocument files made by LibreOffice (a text box, a footnote, an endnote) and by
    pandoc (footnotes)."""
    if shutil.which("soffice") is None or shutil.which("pandoc") is None:
        pytest.skip("needs soffice and pandoc")
    (tmp_path / "box.fodt").write_text(FODT, encoding="utf-8")
    subprocess.run(["soffice", "--headless", "--convert-to", "docx", "--outdir", str(tmp_path),
                    str(tmp_path / "box.fodt")], check=True, capture_output=True, timeout=180)
    subprocess.run(["soffice", "--headless", "--convert-to", "odt", "--outdir", str(tmp_path),
                    str(tmp_path / "box.fodt")], check=True, capture_output=True, timeout=180)
    for made in ("box.docx", "box.odt"):
        assert load_corpus([tmp_path / made]).documents[0].text.split("\n\n") == ["第一章 江河", "大江东去浪淘尽，千古风流人物都在此处留下足迹。",
            "补充说明：这条江全长约六千三百公里。", "此句出自古人的词作。", "湖海之间有许多岛屿和渔村。",
            "岛屿的数目以官方统计为准。"], made

    md = tmp_path / "notes.md"
    md.write_text("# 第一章 江河\n\n大江东去浪淘尽[^1]千古风流人物都在此处留下足迹。\n\n"
                  "[^1]: 此句出自古人词作。\n\n# 第二章 湖海\n\n湖海之间有许多岛屿和渔村。\n", encoding="utf-8")
    for made in ("notes.docx", "notes.odt"):
        subprocess.run(["pandoc", str(md), "-o", str(tmp_path / made)], check=True)
        doc = load_corpus([tmp_path / made]).documents[0]
        assert doc.text.split("\n\n") == ["第一章 江河", "大江东去浪淘尽千古风流人物都在此处留下足迹。",
                                            "此句出自古人词作。", "第二章 湖海", "湖海之间有许多岛屿和渔村。"], made
        assert [c.title for c in doc.chapters] == ["江河", "湖海"]
        assert [lvl for _, lvl in doc.heading_levels] == [1, 1]


def test_html_headings_and_main_text(write):
    page = write("page.html", """<!DOCTYPE html><html><head><title>城市笔记</title>
<style>p { color: red }</style><script>var nav = "脚本文字";</script></head><body>
<nav><a href="/">首页导航</a></nav><header>站点页头</header>
<main><h1>城市笔记</h1><h2>老街</h2><p>老街的石板路已经有三百年历史，<b>两旁</b>是木结构的店铺。</p>
<h2>新区</h2><p>新区的道路宽阔，高楼林立。</p></main><footer>版权页脚</footer></body></html>""")
    doc = load_corpus([page]).documents[0]
    assert "老街的石板路已经有三百年历史，两旁是木结构的店铺。" in doc.text
    for chrome in ("首页导航", "站点页头", "脚本文字", "版权页脚", "color"):
        assert chrome not in doc.text
    assert doc.title == "城市笔记"
    assert [c.title for c in doc.chapters] == ["老街", "新区"]  # as for Markdown: the lone <h1> is the title


@needs_tools
def test_mixed_folder_is_read_by_content(books, tmp_path):
    files, _ = books
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(files["txt"], folder / "a.txt")
    shutil.copy(files["pdf"], folder / "b-scan")  # no extension: the content says PDF
    shutil.copy(files["epub"], folder / "c.epub")
    shutil.copy(files["styled_docx"], folder / "d.docx")
    (folder / "e.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)  # not a book: skipped
    corpus = load_corpus([folder])
    assert [(d.source, d.metadata.get("format")) for d in corpus.documents] == [
        ("a.txt", None), ("b-scan", "pdf"), ("c.epub", "epub"), ("d.docx", "docx")]
    assert all(outline(d) == EXPECTED for d in corpus.documents)


def _image_only_pdf(pdf: Path, out: Path, pages: int = 2) -> Path:
    """Pages rendered by pdftoppm and wrapped as a PDF with no text layer."""
    import pypdfium2 as pdfium

    subprocess.run(["pdftoppm", "-jpeg", "-r", "100", "-f", "1", "-l", str(pages), str(pdf),
                    str(out.with_suffix(""))], check=True)
    doc = pdfium.PdfDocument.new()
    for jpg in sorted(out.parent.glob(out.stem + "-*.jpg")):
        image = pdfium.PdfImage.new(doc)
        image.load_jpeg(str(jpg))
        w, h = image.get_px_size()
        page = doc.new_page(w * 0.72, h * 0.72)
        image.set_matrix(pdfium.PdfMatrix().scale(w * 0.72, h * 0.72))
        page.insert_obj(image)
        page.gen_content()
    doc.save(str(out))
    return out


BAD = {
    "encrypted.pdf": ("encrypted with a password", "qpdf --decrypt"),
    "damaged.pdf": ("damaged", "re-export"),
    "damaged.epub": ("damaged", "re-export"),
    "damaged.docx": ("damaged", "re-export"),
    "damaged.odt": ("damaged", "re-export"),
    "zip-named.pdf": ("the name says PDF but the content is", "rename"),
    "pdf-named.txt": ("the name says text but the content is PDF", "rename it to .pdf"),
    "scanned.pdf": ("pages have no text layer (scanned: pages 1-2)", "pip install 'docqa[ocr]'"),
}


@needs_tools
@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_books_are_refused_in_one_line_and_nothing_is_read(books, tmp_path, name, monkeypatch):
    files, _ = books
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(files["txt"], folder / "good.txt")
    bad = folder / name
    if name == "encrypted.pdf":
        subprocess.run(["qpdf", "--encrypt", "secret", "owner", "256", "--", str(files["pdf"]), str(bad)], check=True)
    elif name.startswith("damaged"):
        source = files[name.split(".")[1] if name != "damaged.docx" else "docx"]
        data = source.read_bytes()
        bad.write_bytes(data[: len(data) // 3])
    elif name == "zip-named.pdf":
        shutil.copy(files["docx"], bad)
    elif name == "pdf-named.txt":
        shutil.copy(files["pdf"], bad)
    elif name == "scanned.pdf":
        import docqa.ingest.formats.ocr as ocr

        monkeypatch.setattr(ocr, "ocr_available", lambda: False)  # as without the [ocr] extra
        _image_only_pdf(files["pdf"], bad)
    with pytest.raises(IngestError) as e:
        load_corpus([folder])
    message = str(e.value)
    what, todo = BAD[name]
    assert message.startswith(f"{name}: ") and what in message and todo in message
    assert "\n" not in message


@needs_tools
def test_pdf_note_marks_are_not_spliced_into_sentences(tmp_path):
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    p = doc.add_paragraph("河流从雪山上流下来")
    mark = p.add_run("1")
    mark.font.superscript = True
    p.add_run("，穿过草原和森林，最后汇入大海。")
    small = doc.add_paragraph("1 此说见于古代地理书。")
    small.runs[0].font.size = Pt(8)
    doc.save(tmp_path / "notes.docx")
    text = load_corpus([to_pdf(tmp_path / "notes.docx", tmp_path)]).documents[0].text
    assert "河流从雪山上流下来，穿过草原和森林，最后汇入大海。" in text
    assert "此说见于古代地理书。" in text


@needs_tools
def test_scanned_pages_are_read_by_ocr_when_installed(books, tmp_path):
    pytest.importorskip("rapidocr", reason="the [ocr] extra is not installed")
    files, paras = books
    scanned = _image_only_pdf(files["pdf"], tmp_path / "scanned.pdf", pages=2)
    doc = load_corpus([scanned]).documents[0]
    import difflib

    got = compact(doc.text)
    want = "".join(pdf_pages(files["pdf"])[:2]).replace(HEADER, "")
    want = re.sub(r"(?<=。)\d$|\d$", "", want)
    assert HEADER not in got  # the running header, read by OCR on both pages, is dropped
    assert difflib.SequenceMatcher(None, got, compact(want), autojunk=False).ratio() > 0.95
    assert [p[1] for p in doc.pages] == [1, 2]


def test_join_wrapped_rules():
    from docqa.ingest.formats.extracted import join_wrapped

    assert join_wrapped("中国的外汇", "储备接近四万亿") == "中国的外汇储备接近四万亿"
    assert join_wrapped("the inter-", "national order") == "the international order"
    assert join_wrapped("well-", "Known") == "well- Known"
    assert join_wrapped("a long", "sentence") == "a long sentence"


@needs_tools
def test_index_keeps_the_extracted_text(books, embedder, tmp_path):
    from docqa.index.store.directory import build_index, load_index
    from docqa.ingest.pipeline import chunker_settings

    files, _ = books
    build_index(load_corpus([files["pdf"]]), tmp_path / "idx", embedder, chunker=chunker_settings(),
                progress=False, say=None)
    index = load_index(tmp_path / "idx")
    text = index.documents[0].text
    assert index.documents[0].pages and index.documents[0].pages[0][:2] == [0, 1]
    for p in index.passages:
        assert compact(text[p.start:p.end]) == compact(p.text)
        assert p.page is not None


def test_docx_and_odt_tables_read_one_row_a_paragraph(tmp_path):
    if shutil.which("pandoc") is None:
        pytest.skip("needs pandoc")
    md = tmp_path / "table.md"
    md.write_text("# 第一章 表格\n\n| 年份 | 产量 |\n|---|---|\n| 2019 | 100万吨 |\n| 2020 | 120万吨 |\n\n正文。\n",
                  encoding="utf-8")
    for made in ("table.docx", "table.odt"):
        subprocess.run(["pandoc", str(md), "-o", str(tmp_path / made)], check=True)
        assert load_corpus([tmp_path / made]).documents[0].text.split("\n\n") == [
            "第一章 表格", "年份 产量", "2019 100万吨", "2020 120万吨", "正文。"], made


def test_the_author_in_the_files_properties_is_kept(tmp_path):
    """The author each tool writes into a file's properties (python-docx core.xml, pandoc's
    dc:creator in the EPUB OPF and ODT meta, LibreOffice's meta:initial-creator and PDF /Author)
    becomes the document's `metadata["author"]`; the name python-docx writes by itself is not an
    author."""
    if shutil.which("soffice") is None or shutil.which("pandoc") is None:
        pytest.skip("needs soffice and pandoc")
    import docx

    made = docx.Document()
    made.core_properties.author = "王小明; 李清照"
    made.add_paragraph("煮水要用山泉水，水沸如蟹眼时最好。")
    made.save(tmp_path / "book.docx")
    bare = docx.Document()
    bare.add_paragraph("这本书的文件没有写作者。")
    bare.save(tmp_path / "bare.docx")
    md = tmp_path / "book.md"
    md.write_text("# 第一章 煮水\n\n煮水要用山泉水，水沸如蟹眼时最好。\n", encoding="utf-8")
    for kind in ("epub", "odt"):
        subprocess.run(["pandoc", str(md), "-o", str(tmp_path / f"pandoc.{kind}"), "--metadata", "title=茶事",
                        "--metadata", "author=王小明", "--metadata", "author=李清照"], check=True)
    for kind in ("odt", "pdf"):
        subprocess.run(["soffice", "--headless", "--convert-to", kind, "--outdir", str(tmp_path / "lo"),
                        str(tmp_path / "book.docx")], check=True, capture_output=True, timeout=180)
    for path in (tmp_path / "book.docx", tmp_path / "pandoc.epub", tmp_path / "pandoc.odt",
                 tmp_path / "lo" / "book.odt", tmp_path / "lo" / "book.pdf"):
        doc = load_corpus([path]).documents[0]
        assert doc.metadata.get("author") == "王小明、李清照", (path.name, doc.metadata)
    assert "author" not in load_corpus([tmp_path / "bare.docx"]).documents[0].metadata
