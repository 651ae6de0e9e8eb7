"""A Word .docx: paragraphs and tables in body order, heading styles as heading levels.

Without heading styles the text goes through the same rules as a .txt (第X章, 第X节, 一、…).
Headers, footers and footnotes live outside the body and are not read into the text.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

from docqa.ingest.formats.extracted import Extracted, TextBuilder
from docqa.ingest.model import IngestError

_STYLE = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.I)


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
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            p = Paragraph(child, document)
            style = (p.style.name or "") if p.style is not None else ""
            if style.lower() == "title" and title is None and p.text.strip():
                title = p.text.strip()
            builder.paragraph(p.text, _level(p))
        elif tag == "tbl":
            for row in Table(child, document).rows:
                cells = []
                for cell in row.cells:
                    text = " ".join(q.text.strip() for q in cell.paragraphs if q.text.strip())
                    if text and (not cells or cells[-1] != text):
                        cells.append(text)
                builder.paragraph("\t".join(cells))
    out = builder.result(title)
    if not out.text.strip():
        raise IngestError(f"{source}: the Word file has no text; add text or remove the file")
    return out
