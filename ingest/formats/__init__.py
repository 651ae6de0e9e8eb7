"""Readers for PDF, EPUB, DOCX, ODT and HTML books, chosen by what a file is, not what it is called.

`read_formatted` turns one such file into a `Document` whose text is the extracted text; the
heading levels the file declares and, for a PDF, its page map travel with it, so the common
structure and chunking rules run on every format and passages cite physical pages.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from docqa.ingest.formats.archive import DEFAULT_MAX_UNPACKED_BYTES, check_archive
from docqa.ingest.formats.detect import NAMES, claimed, sniff
from docqa.ingest.model import Document, IngestError, TooLargeError, UnsupportedFormatError

FORMAT_SUFFIXES = (".pdf", ".epub", ".docx", ".odt", ".html", ".htm", ".xhtml")
BOOK_KINDS = ("pdf", "epub", "docx", "odt", "html")
ARCHIVE_KINDS = ("epub", "docx", "odt")  # ZIP containers, size-checked before they are unpacked
READABLE = "PDF, EPUB, DOCX, ODT, HTML, .txt, .md or .jsonl"
"""Every kind of file docqa reads, as the refusals name them."""
TEXT_SUFFIXES = (".txt", ".md", ".markdown")
JSONL_SUFFIXES = (".jsonl",)
_TEXT_SUFFIXES = TEXT_SUFFIXES + JSONL_SUFFIXES  # read as text, never sniffed as books


def kind_of(path: Path, source: str) -> str | None:
    """The reader for `path` ("pdf", "epub", "docx", "odt", "html"), or None for a text file.

    The content decides; a file whose content is another format than its extension claims
    (a .pdf that is a ZIP, a .txt that is a PDF) is refused rather than guessed at.
    """
    try:
        actual = sniff(path)
    except OSError as e:
        raise IngestError(f"{source}: cannot read the file ({e.strerror}); check its permissions") from None
    claim = claimed(path)
    suffix = path.suffix.lower()
    if claim is not None:
        if actual == claim or (claim == "html" and actual == "text"):
            return claim
        if claim in ARCHIVE_KINDS and actual == "zip":
            raise UnsupportedFormatError(f"{source}: not a readable {NAMES[claim]} file (a damaged or foreign ZIP archive); "
                              "re-download or re-export it")
        raise UnsupportedFormatError(f"{source}: the name says {NAMES[claim]} but the content is {NAMES.get(actual, actual)}; "
                          f"rename it to match its content or re-export it as {NAMES[claim]}")
    if actual in BOOK_KINDS and actual != "html":
        if suffix in _TEXT_SUFFIXES:
            raise UnsupportedFormatError(f"{source}: the name says text but the content is {NAMES[actual]}; "
                              f"rename it to .{actual} and read it again")
        return actual
    if actual == "html" and suffix not in _TEXT_SUFFIXES:
        return "html"
    if suffix not in _TEXT_SUFFIXES and actual in ("ole", "image", "binary", "zip"):
        raise UnsupportedFormatError(f"{source}: unsupported content ({NAMES[actual]}); give a {READABLE} file")
    return None


def is_book_file(path: Path) -> bool:
    """For folder scans: a file with a book extension, or without a known one whose content is a book."""
    if path.suffix.lower() in FORMAT_SUFFIXES:
        return True
    if path.suffix.lower() in _TEXT_SUFFIXES:
        return False
    try:
        return sniff(path) in ("pdf", *ARCHIVE_KINDS)
    except OSError:
        return False


def read_formatted(path: Path, source: str, kind: str, *, progress: bool = False,
                   max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES) -> Document:
    """Read a PDF, EPUB, DOCX, ODT or HTML file into a `Document` (raises `IngestError`).
    `max_unpacked_bytes`: the most an EPUB, DOCX or ODT may unpack to (see `check_archive`)."""
    from docqa.ingest.formats.limits import MAX_TEXT_SETTING, TextLimitReached

    try:
        extracted = _extract(path, source, kind, progress, max_unpacked_bytes)
    except TextLimitReached as e:
        raise TooLargeError(f"{source}: the file gives more than {e.limit:,} characters of text, the limit for one "
                            "file (no real book is near it; a damaged file or a bomb)",
                            hint=f"split the book, or raise the limit: set {MAX_TEXT_SETTING}") from None
    return _document(path, source, kind, extracted)


def _extract(path: Path, source: str, kind: str, progress: bool, max_unpacked_bytes: int):
    if kind == "pdf":
        from docqa.ingest.formats.pdf import read_pdf
        from docqa.ingest.formats.ocr import ocr_reader
        from docqa.ingest.formats.pdf_streams import check_pdf_streams
        check_pdf_streams(path, source)

        extracted = read_pdf(path, source, ocr=ocr_reader(), progress=_bar(source) if progress else None)
    elif kind == "epub":
        from docqa.ingest.formats.epub import read_epub
        check_archive(path, source, max_unpacked_bytes)
        extracted = read_epub(path, source)
    elif kind == "docx":
        from docqa.ingest.formats.docx import read_docx
        check_archive(path, source, max_unpacked_bytes)
        extracted = read_docx(path, source)
    elif kind == "odt":
        from docqa.ingest.formats.odt import read_odt
        check_archive(path, source, max_unpacked_bytes)
        extracted = read_odt(path, source)
    elif kind == "html":
        from docqa.ingest.formats.html import read_html
        extracted = read_html(path, source)
    else:  # pragma: no cover - kind_of only returns the kinds above
        raise ValueError(kind)
    return extracted


def _document(path: Path, source: str, kind: str, extracted) -> Document:
    from docqa.ingest.structure import guess_title

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    title = extracted.title or guess_title(extracted.text) or Path(source).stem
    metadata = {"format": kind}
    if extracted.author:
        metadata["author"] = extracted.author
    if extracted.pages:
        metadata["page_count"] = extracted.pages[-1][1]
    return Document(doc_id="", title=title, source=source, text=extracted.text, checksum=h.hexdigest(),
                    metadata=metadata, pages=[tuple(p) for p in extracted.pages],
                    heading_levels=[tuple(h) for h in extracted.headings])


def _bar(source: str):
    """A tqdm bar on stderr for long PDFs (pages read of pages)."""
    state: dict = {}

    def update(done: int, total: int) -> None:
        if total < 50:
            return
        if "bar" not in state:
            from tqdm import tqdm
            state["bar"] = tqdm(total=total, desc=f"reading {source}", unit="page", leave=False)
        state["bar"].update(done - state["bar"].n)
        if done == total:
            state["bar"].close()
    return update
