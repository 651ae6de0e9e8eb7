"""EPUB and DOCX are ZIP containers: one that unpacks past the limit (a zip bomb) is refused
before any part is inflated, with a one-line message; real books pass."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from docqa.ingest.formats import read_formatted
from docqa.ingest.formats.archive import check_archive
from docqa.ingest.model import TooLargeError


def docx_with(path: Path, padding: int) -> Path:
    """A real Word file (python-docx), with `padding` bytes of zeros added as a media part."""
    import docx

    d = docx.Document()
    d.add_heading("第一章 总论", level=1)
    d.add_paragraph("这是一段正文，讲述一个与众不同的故事。" * 5)
    d.save(str(path))
    if padding:
        with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z:
            with z.open("word/media/padding.bin", "w") as f:
                for _ in range(padding // (1 << 20)):
                    f.write(bytes(1 << 20))
    return path


def test_a_docx_that_unpacks_past_the_limit_is_refused_before_reading(tmp_path):
    bomb = docx_with(tmp_path / "bomb.docx", 8 << 20)
    assert bomb.stat().st_size < 100_000  # eight megabytes of zeros pack small
    with pytest.raises(TooLargeError, match=r"bomb.docx: the file's [\d,]+ bytes unpack to [\d,]+, over the "
                                            r"4,194,304-byte limit \(a damaged file or a zip bomb\)"):
        read_formatted(bomb, "bomb.docx", "docx", max_unpacked_bytes=4 << 20)
    assert TooLargeError.status_code == 413


def test_real_containers_pass(tmp_path):
    plain = docx_with(tmp_path / "plain.docx", 0)
    check_archive(plain, "plain.docx", max_unpacked_bytes=4 << 20)
    doc = read_formatted(plain, "plain.docx", "docx", max_unpacked_bytes=4 << 20)
    assert "与众不同" in doc.text
    padded = docx_with(tmp_path / "padded.docx", 8 << 20)
    assert "与众不同" in read_formatted(padded, "padded.docx", "docx").text  # under the default limit


def test_a_damaged_zip_is_left_to_its_reader(tmp_path):
    broken = tmp_path / "broken.epub"
    broken.write_bytes(b"PK\x03\x04" + bytes(100))
    check_archive(broken, "broken.epub")  # no verdict here; the EPUB reader names the damage
