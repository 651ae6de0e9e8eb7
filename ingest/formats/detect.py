"""What a file is, from its first bytes; the extension only says what it claims to be."""
from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path

CLAIMS = {".pdf": "pdf", ".epub": "epub", ".docx": "docx", ".odt": "odt", ".html": "html", ".htm": "html",
          ".xhtml": "html"}
NAMES = {"pdf": "PDF", "epub": "EPUB", "docx": "Word (.docx)", "odt": "OpenDocument text (.odt)", "html": "HTML", "zip": "ZIP archive",
         "text": "plain text", "binary": "binary (not text)", "ole": "old Word/Office (.doc, .xls)",
         "image": "image"}
_HTML = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html[\s>])", re.I | re.S)


def sniff(path: Path) -> str:
    """"pdf", "epub", "docx", "odt", "zip", "html", "ole", "image", "text" or "binary"."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if head.startswith(b"%PDF-") or b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(path)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "ole"
    if head[:8] == b"\x89PNG\r\n\x1a\n" or head[:3] == b"\xff\xd8\xff" or head[:4] in (b"GIF8", b"II*\x00", b"MM\x00*"):
        return "image"
    body = head.lstrip(b"\xef\xbb\xbf")
    if _HTML.match(body):
        return "html"
    if b"\x00" in head and not (head.startswith((b"\xff\xfe", b"\xfe\xff"))):
        return "binary"
    return "text"


MIMETYPE_BYTES = 200
"""The most of a ZIP's `mimetype` member sniffing reads: the longest real value,
"application/vnd.oasis.opendocument.text-master-template", is 55 bytes. Reading it whole once
let a 1 MB EPUB whose `mimetype` inflates to 1 GB take gigabytes before any limit was checked."""


def _zip_kind(path: Path) -> str:
    """The kind of a ZIP from its directory's names and at most `MIMETYPE_BYTES` of its
    `mimetype`: nothing else is unpacked here (sizes are checked later, before any reader)."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            mimetype = b""
            if "mimetype" in names:
                with z.open("mimetype") as f:
                    mimetype = f.read(MIMETYPE_BYTES).strip()
            if mimetype == b"application/epub+zip":
                return "epub"
            if mimetype == b"application/vnd.oasis.opendocument.text" and "content.xml" in names:
                return "odt"
            if "META-INF/container.xml" in names:
                return "epub"
            if "word/document.xml" in names:
                return "docx"
    except (zipfile.BadZipFile, OSError, KeyError, EOFError, zlib.error, NotImplementedError, RuntimeError):
        return "zip"
    return "zip"


def claimed(path: Path) -> str | None:
    """The format the extension claims, or None for text and unknown extensions."""
    return CLAIMS.get(path.suffix.lower())
