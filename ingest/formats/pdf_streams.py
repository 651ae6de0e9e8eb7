"""A PDF's compressed streams measured before PDFium opens it: a 1 MB file can hold a 1 GB
FlateDecode content stream, which PDFium inflates whole when the page loads (measured: 2 GB).

Each Flate stream that PDFium would inflate to read text (page contents, forms, object streams,
fonts; not images, which text extraction never decodes) is inflated here in 1 MB pieces that are
counted and dropped, so checking costs a few MB however big the stream claims to be, and stops
at the first stream over the limit. Streams are found in the raw bytes (`stream` ... `endstream`),
which also covers files whose cross-reference table is damaged.

`DEFAULT_MAX_PDF_STREAM_BYTES`: 128 MB. A real page's content stream is KBs to a few MB (a
dense vector map tens of MB); 128 MB keeps what PDFium can hold for one page near the 300 MB
issue-20 target.
"""
from __future__ import annotations

import mmap
import re
import zlib
from pathlib import Path

from docqa.ingest.model import TooLargeError

DEFAULT_MAX_PDF_STREAM_BYTES = 128 * 1024 * 1024
_STREAM = re.compile(rb"stream(?:\r\n|\n|\r)")
_PIECE = 1 << 20
_DICT_BACK = 4096


def check_pdf_streams(path: Path, source: str, max_stream_bytes: int = DEFAULT_MAX_PDF_STREAM_BYTES) -> None:
    """Refuse a PDF one of whose non-image Flate streams inflates past `max_stream_bytes`."""
    with open(path, "rb") as f:
        try:
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file: PDFium says what is wrong with it
            return
    with data:
        pos = 0
        while True:
            m = _STREAM.search(data, pos)
            if m is None:
                return
            start = m.end()
            pos = start
            if data[max(0, m.start() - 3):m.start()] == b"end":
                continue
            head = data[max(0, m.start() - _DICT_BACK):m.start()]
            head = head[head.rfind(b"obj") + 3:] if b"obj" in head else head
            if b"/FlateDecode" not in head or re.search(rb"/Subtype\s*/Image", head):
                continue
            end = data.find(b"endstream", start)
            end = len(data) if end < 0 else end
            size = _inflated_size(data, start, end, max_stream_bytes)
            if size > max_stream_bytes:
                raise TooLargeError(f"{source}: a compressed stream of {end - start:,} bytes in the PDF inflates to "
                                    f"more than {max_stream_bytes:,} bytes, over the limit for one stream "
                                    "(a damaged file or a PDF bomb); docqa did not open it",
                                    hint="export the PDF again from its source, or give the text in another format")
            pos = end


def _inflated_size(data, start: int, end: int, limit: int) -> int:
    """How many bytes the zlib data at data[start:end] inflates to, counting at most past `limit`.

    Stops at the zlib stream's end: the bytes a writer leaves between it and `endstream` (a
    newline) stay in `unconsumed_tail` after the end, and feeding them again would loop forever."""
    d = zlib.decompressobj()
    total = 0
    try:
        for i in range(start, end, _PIECE):
            chunk = data[i:min(i + _PIECE, end)]
            while chunk and not d.eof and total <= limit:
                out = d.decompress(chunk, _PIECE)
                if not out and len(d.unconsumed_tail) == len(chunk):
                    return total  # no progress: zlib wants what is not there
                total += len(out)
                chunk = d.unconsumed_tail
            if total > limit or d.eof:
                break
    except zlib.error:
        pass  # damaged data: PDFium decides what it can read
    return total
