"""An OpenDocument text (.odt, LibreOffice's own format): headings with their outline levels,
paragraphs, lists and tables in document order, read from `content.xml`.

As for a .docx, footnotes and endnotes and the text of frames (text boxes) are book text: each
becomes a paragraph of its own after the paragraph that holds its mark or frame, never spliced
into a sentence. The title comes from `meta.xml`. The parts are parsed without entities or
network access, and the archive is size-checked before (`check_archive`).
"""
from __future__ import annotations

import zipfile
from pathlib import Path

from docqa.ingest.formats.extracted import Extracted, TextBuilder, file_author
from docqa.ingest.model import IngestError

_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_DRAW = "{urn:oasis:names:tc:opendocument:xmlns:drawing:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_META = "{urn:oasis:names:tc:opendocument:xmlns:meta:1.0}"
_CONTAINERS = {f"{_TEXT}section", f"{_TEXT}list", f"{_TEXT}list-item", f"{_TEXT}list-header",
               f"{_TEXT}index-body", f"{_TEXT}table-of-content", f"{_TEXT}alphabetical-index",
               f"{_TEXT}illustration-index", f"{_TEXT}bibliography"}
_SKIPPED = {f"{_TEXT}index-title-template", f"{_TEXT}table-of-content-source", f"{_TEXT}tracked-changes",
            f"{_OFFICE}annotation", f"{_TEXT}sequence-decls", f"{_TEXT}variable-decls", f"{_TEXT}user-field-decls"}


def _inline(element, extras: list[str]) -> str:
    """The text of a paragraph or heading as shown; notes and frames go to `extras`."""
    out = [element.text or ""]
    for child in element:
        tag = child.tag
        if tag == f"{_TEXT}s":
            out.append(" " * int(child.get(f"{_TEXT}c", "1") or 1))
        elif tag == f"{_TEXT}tab":
            out.append("\t")
        elif tag == f"{_TEXT}line-break":
            out.append("\n")
        elif tag == f"{_TEXT}note":
            body = child.find(f"{_TEXT}note-body")
            if body is not None:
                extras.append(" ".join(t for t in (_inline(p, extras) for p in body.iter(f"{_TEXT}p", f"{_TEXT}h"))
                                       if t.strip()))
        elif tag == f"{_DRAW}frame":
            for box in child.iter(f"{_DRAW}text-box"):
                extras += [_inline(p, extras) for p in box.iter(f"{_TEXT}p", f"{_TEXT}h")]
        elif tag in (f"{_OFFICE}annotation", f"{_TEXT}note-citation"):
            pass
        else:
            out.append(_inline(child, extras))
        out.append(child.tail or "")
    return "".join(out)


def _cell_text(cell, extras: list[str]) -> str:
    texts = (_inline(p, extras).strip() for p in cell.iter(f"{_TEXT}p", f"{_TEXT}h"))
    return " ".join(t for t in texts if t)


def _blocks(parent, builder: TextBuilder) -> None:
    for child in parent:
        tag = child.tag
        if tag in (f"{_TEXT}p", f"{_TEXT}h"):
            extras: list[str] = []
            text = _inline(child, extras)
            level = None
            if tag == f"{_TEXT}h":
                raw = child.get(f"{_TEXT}outline-level", "1")
                level = min(int(raw), 9) if raw.isdigit() and int(raw) > 0 else 1
            builder.paragraph(text, level)
            for extra in extras:
                builder.paragraph(extra)
        elif tag == f"{_TABLE}table":
            for row in child.iter(f"{_TABLE}table-row"):
                extras: list[str] = []
                builder.table_row(_cell_text(cell, extras) for cell in row.iter(f"{_TABLE}table-cell"))
                for extra in extras:
                    builder.paragraph(extra)
        elif tag in _CONTAINERS:
            _blocks(child, builder)
        elif tag not in _SKIPPED:
            for frame in child.iter(f"{_DRAW}frame"):  # frames anchored to the page or a shape
                for box in frame.iter(f"{_DRAW}text-box"):
                    _blocks(box, builder)


def read_odt(path: Path, source: str) -> Extracted:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        with zipfile.ZipFile(path) as z:
            content = etree.fromstring(z.read("content.xml"), parser)
            meta = etree.fromstring(z.read("meta.xml"), parser) if "meta.xml" in z.namelist() else None
    except (zipfile.BadZipFile, KeyError, OSError, etree.XMLSyntaxError, ValueError) as e:
        raise IngestError(f"{source}: the OpenDocument file is damaged and cannot be read ({type(e).__name__}); "
                          "open and save it again in LibreOffice") from None
    text_body = content.find(f"{_OFFICE}body/{_OFFICE}text")
    if text_body is None:
        raise IngestError(f"{source}: not an OpenDocument text (a spreadsheet or presentation?); "
                          "save the text as .odt, .docx or .pdf")
    builder = TextBuilder()
    _blocks(text_body, builder)
    title = author = None
    if meta is not None:
        found = meta.find(f"{_OFFICE}meta/{_DC}title")
        title = (found.text or "").strip() or None if found is not None else None
        # meta:initial-creator made the document; dc:creator is whoever saved it last.
        creators = [meta.find(f"{_OFFICE}meta/{tag}") for tag in (f"{_META}initial-creator", f"{_DC}creator")]
        author = next(filter(None, (file_author(c.text) for c in creators if c is not None)), None)
    out = builder.result(title, author)
    if not out.text.strip():
        raise IngestError(f"{source}: the OpenDocument file has no text; add text or remove the file")
    return out
