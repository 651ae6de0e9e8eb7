"""A Word .docx: paragraphs and tables in body order, heading styles as heading levels.

Without heading styles the text goes through the same rules as a .txt (第X章, 第X节, 一、…).
Footnotes and endnotes (kept outside the body, in parts python-docx does not read) and text
boxes (drawn inside a paragraph's runs, which `Paragraph.text` skips) are book text too: each
becomes a paragraph of its own right after the paragraph that holds its mark or box, so it is
searchable and cited near what it explains but never spliced into a sentence. Headers and
footers are page furniture and are not read.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

from docqa.ingest.formats.extracted import Extracted, TextBuilder, file_author
from docqa.ingest.model import IngestError

_STYLE = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.I)
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_NOTES = (("footnotes", "footnote"), ("endnotes", "endnote"))


def _plain(p) -> str:
    """The text of a w:p element as Word shows it (runs' text and tabs)."""
    return "".join(t.text or "" if t.tag == f"{_W}t" else "\t" for t in p.iter(f"{_W}t", f"{_W}tab"))


def _notes(document) -> dict[tuple[str, str], str]:
    """Footnote and endnote texts by (kind, id), read from their parts; separators are skipped."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    wanted = {RT.FOOTNOTES: "footnote", RT.ENDNOTES: "endnote"}
    out: dict[tuple[str, str], str] = {}
    for rel in document.part.rels.values():
        kind = wanted.get(rel.reltype)
        if kind is None or rel.is_external:
            continue
        root = etree.fromstring(rel.target_part.blob, parser)
        for note in root.iter(f"{_W}{kind}"):
            if note.get(f"{_W}type") in (None, "normal"):
                out[(kind, note.get(f"{_W}id"))] = " ".join(t for t in map(_plain, note.iter(f"{_W}p")) if t.strip())
    return out


def _extras(element, notes: dict[tuple[str, str], str]) -> list[str]:
    """The text boxes drawn in `element` (one copy: Word writes each box twice, once as a
    fallback for old readers) and the notes it marks, in order."""
    out = []
    for box in element.iter(f"{_W}txbxContent"):
        if any(a.tag == _FALLBACK for a in box.iterancestors()):
            continue
        out += [_plain(p) for p in box.iter(f"{_W}p")]
    for ref in element.iter(f"{_W}footnoteReference", f"{_W}endnoteReference"):
        kind = "footnote" if ref.tag == f"{_W}footnoteReference" else "endnote"
        out.append(notes.get((kind, ref.get(f"{_W}id")), ""))
    return [t for t in out if t.strip()]


def _level(paragraph) -> int | None:
    style = paragraph.style
    seen = 0
    while style is not None and seen < 5:
        m = _STYLE.match((style.name or "").strip())
        if m:
            return int(m.group(1))
        style = style.base_style
        seen += 1
    ppr = paragraph._p.pPr
    if ppr is not None:
        lvl = ppr.find("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}outlineLvl")
        if lvl is not None:
            value = lvl.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}val")
            if value is not None and value.isdigit() and int(value) < 9:
                return int(value) + 1
    return None


def read_docx(path: Path, source: str) -> Extracted:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph
    from lxml import etree

    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError, etree.XMLSyntaxError, OSError) as e:
        raise IngestError(f"{source}: the Word file is damaged and cannot be read ({type(e).__name__}); "
                          "open and save it again in Word or LibreOffice") from None
    except Exception as e:  # noqa: BLE001 - python-docx's PackageNotFoundError and friends
        raise IngestError(f"{source}: not a readable Word .docx file ({e}); "
                          "save it again as .docx from Word or LibreOffice") from None
    builder = TextBuilder()
    title = (document.core_properties.title or "").strip() or None
    author = file_author(document.core_properties.author)
    try:
        notes = _notes(document)
    except (etree.XMLSyntaxError, KeyError, ValueError) as e:
        raise IngestError(f"{source}: the Word file's notes are damaged and cannot be read ({type(e).__name__}); "
                          "open and save it again in Word or LibreOffice") from None
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            p = Paragraph(child, document)
            style = (p.style.name or "") if p.style is not None else ""
            if style.lower() == "title" and title is None and p.text.strip():
                title = p.text.strip()
            builder.paragraph(p.text, _level(p))
            for extra in _extras(child, notes):
                builder.paragraph(extra)
        elif tag == "tbl":
            for row in Table(child, document).rows:
                builder.table_row(" ".join(q.text.strip() for q in cell.paragraphs if q.text.strip())
                                  for cell in row.cells)
            for extra in _extras(child, notes):
                builder.paragraph(extra)
    out = builder.result(title, author)
    if not out.text.strip():
        raise IngestError(f"{source}: the Word file has no text; add text or remove the file")
    return out
