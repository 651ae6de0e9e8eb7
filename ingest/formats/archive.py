"""A ZIP container (EPUB, DOCX) is checked before any part of it is unpacked.

A zip bomb is a small file whose parts unpack to gigabytes. Python's `zipfile` never inflates
a part past the size its directory entry declares (and fails the CRC if the data disagrees),
so the declared sizes bound what reading can cost: their sum, and the number of parts, are
checked against limits first.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

from docqa.ingest.formats.limits import DEFAULT_MAX_PART_BYTES, XML_SUFFIXES
from docqa.ingest.model import TooLargeError

DEFAULT_MAX_UNPACKED_BYTES = 512 * 1024 * 1024
"""The most an EPUB or DOCX may unpack to: ten times the largest real books seen (a novel
with illustrations is 10-50 MB unpacked)."""
MAX_PARTS = 50_000


def check_archive(path: Path, source: str, max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES,
                  max_part_bytes: int = DEFAULT_MAX_PART_BYTES) -> None:
    """Refuse a ZIP whose parts unpack to more than `max_unpacked_bytes`, that has more than
    `MAX_PARTS` parts, or one of whose XML/XHTML parts unpacks to more than `max_part_bytes` (a
    parsed tree costs tens of times its bytes; see `limits`). Only the ZIP directory is read.
    A damaged ZIP passes here; its reader reports the damage in its own words."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return
    if len(infos) > MAX_PARTS:
        raise TooLargeError(f"{source}: the file holds {len(infos):,} parts, over the {MAX_PARTS:,} a book has "
                            "(a damaged file or a zip bomb); docqa did not unpack it",
                            hint="re-export the book, e.g. with Calibre, and add it again")
    total = sum(i.file_size for i in infos)
    if total > max_unpacked_bytes:
        packed = Path(path).stat().st_size
        raise TooLargeError(f"{source}: the file's {packed:,} bytes unpack to {total:,}, over the "
                            f"{max_unpacked_bytes:,}-byte limit (a damaged file or a zip bomb); docqa did not unpack it",
                            hint="re-export the book without oversized parts, or split it")
    big = max((i for i in infos if i.filename.lower().endswith(XML_SUFFIXES)), key=lambda i: i.file_size, default=None)
    if big is not None and big.file_size > max_part_bytes:
        raise TooLargeError(f"{source}: its part {big.filename} unpacks to {big.file_size:,} bytes, over the "
                            f"{max_part_bytes:,}-byte limit for one part (no real chapter is near it; a damaged file "
                            "or a zip bomb); docqa did not unpack it",
                            hint="re-export the book, e.g. with Calibre, which splits long chapters")
