"""Hostile files of issue 20, made with zipfile and zlib: small on disk, huge when read.

Each maker streams its big part through the compressor in blocks, so making a 1 GB bomb costs
a few MB of memory. Used by tests/ingest/test_bombs.py and benchmarks/bombs.py.
"""
from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

_BLOCK = 1 << 20

_CONTAINER = ('<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
              '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
              '</rootfiles></container>')
_OPF = ('<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>测试</dc:title><dc:identifier id="id">x'
        '</dc:identifier></metadata><manifest><item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/>'
        '</manifest><spine><itemref idref="c1"/></spine></package>')
_XHTML_HEAD = b'<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title></head><body>'
_XHTML_TAIL = b'</body></html>'
CHAPTER = "第一章 总论\n\n中国的外汇储备规模居世界首位，这是一段正常的书中文字。"


def _stream(z: zipfile.ZipFile, name: str, head: bytes, unit: bytes, size: int, tail: bytes) -> None:
    """Write `head`, `unit` repeated to about `size` bytes, then `tail`, as one deflated part."""
    size -= size % len(unit)  # whole units only: the XML stays well formed
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.file_size = size + len(head) + len(tail)  # lets zipfile write a ZIP64 entry when needed
    block = unit * max(1, _BLOCK // len(unit))
    with z.open(info, "w", force_zip64=True) as f:
        f.write(head)
        left = size
        while left > 0:
            piece = block[:left] if left < len(block) else block
            f.write(piece)
            left -= len(piece)
        f.write(tail)


def _zip(out: Path) -> zipfile.ZipFile:
    return zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9)


def _chapter_xhtml() -> bytes:
    return _XHTML_HEAD + "".join(f"<p>{p}</p>" for p in CHAPTER.split("\n\n")).encode() + _XHTML_TAIL


def epub_mimetype_bomb(out: Path, size: int) -> Path:
    """A real little EPUB whose `mimetype` part is its value followed by `size` spaces."""
    with _zip(out) as z:
        _stream(z, "mimetype", b"application/epub+zip", b" ", size, b"")
        z.writestr("META-INF/container.xml", _CONTAINER)
        z.writestr("OEBPS/content.opf", _OPF)
        z.writestr("OEBPS/c1.xhtml", _chapter_xhtml())
    return out


def epub_markup_bomb(out: Path, size: int, unit: bytes = "<p>图</p>".encode()) -> Path:
    """An EPUB whose one chapter is `size` bytes of `unit` (dense markup, one character each)."""
    with _zip(out) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml", _CONTAINER)
        z.writestr("OEBPS/content.opf", _OPF)
        _stream(z, "OEBPS/c1.xhtml", _XHTML_HEAD, unit, size, _XHTML_TAIL)
    return out


_ODT_HEAD = (b'<?xml version="1.0" encoding="UTF-8"?><office:document-content '
             b'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
             b'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
             b'<office:body><office:text>')
_ODT_TAIL = b'</office:text></office:body></office:document-content>'


def odt_bomb(out: Path, size: int, unit: bytes = "<text:p>图</text:p>".encode()) -> Path:
    """An OpenDocument text whose content.xml is `size` bytes of one-character paragraphs."""
    with _zip(out) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text",
                   compress_type=zipfile.ZIP_STORED)
        _stream(z, "content.xml", _ODT_HEAD, unit, size, _ODT_TAIL)
    return out


_W = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
_TYPES = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
          'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships'
          '+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" '
          'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
         'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
         'relationships/officeDocument" Target="word/document.xml"/></Relationships>')


def docx_bomb(out: Path, size: int, unit: bytes = "<w:p><w:r><w:t>图</w:t></w:r></w:p>".encode()) -> Path:
    """A Word .docx whose document.xml is `size` bytes of one-character paragraphs."""
    with _zip(out) as z:
        z.writestr("[Content_Types].xml", _TYPES)
        z.writestr("_rels/.rels", _RELS)
        _stream(z, "word/document.xml", b'<?xml version="1.0" encoding="UTF-8"?><w:document ' + _W + b'><w:body>',
                unit, size, b'</w:body></w:document>')
    return out


def _pdf(objects: list[bytes], out: Path) -> Path:
    """A PDF of `objects` (numbered from 1, the first the catalog) with a correct xref table."""
    body = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % n + obj + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    out.write_bytes(bytes(body))
    return out


def pdf_flate_bomb(out: Path, size: int) -> Path:
    """A one-page PDF whose content stream is `size` bytes of spaces after one line of text,
    stored FlateDecode (about 1000:1)."""
    comp = zlib.compressobj(9)
    text = b"BT /F1 12 Tf 72 712 Td (Hello) Tj ET\n"
    data = bytearray(comp.compress(text))
    block = b" " * _BLOCK
    left = size
    while left > 0:
        piece = block[:left] if left < len(block) else block
        data += comp.compress(piece)
        left -= len(piece)
    data += comp.flush()
    return _one_page_pdf(bytes(data), out)


def pdf_text_page(out: Path, size: int) -> Path:
    """A one-page PDF whose content stream is about `size` bytes of text operators, 70 lines down
    the page drawn over and over (PDFium counts about 0.37 characters per byte of it)."""
    parts, n, k = [], 0, 0
    while n < size:
        unit = b"BT /F1 10 Tf 72 %d Td (Hello world text) Tj ET\n" % (760 - (k % 70) * 10)
        parts.append(unit)
        n += len(unit)
        k += 1
    data = zlib.compress(b"".join(parts), 9)
    return _one_page_pdf(data, out)


def _one_page_pdf(flate: bytes, out: Path) -> Path:
    """A one-page PDF in Helvetica whose content stream is `flate` (already deflated)."""
    stream = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(flate) + flate + b"\nendstream"
    return _pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                 b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                 b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
                 b"/Resources << /Font << /F1 5 0 R >> >> >>",
                 stream,
                 b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"], out)


def pdf_self_loop(out: Path) -> Path:
    """A PDF whose page tree lists itself as its only kid: PDFium counts a page it cannot load."""
    return _pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                 b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"], out)
