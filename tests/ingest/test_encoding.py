"""Legacy Chinese encodings: Big5 and Big5-HKSCS books are read as written, ambiguous bytes refused.

The Traditional-Chinese test books are the bundled book converted by OpenCC (Taiwan and Hong
Kong standards) and encoded with Python's own codecs, so they are real Traditional text.
"""
from __future__ import annotations

import pytest

from docqa.ingest.encoding import common_han, decode
from docqa.ingest.model import IngestError
from docqa.ingest.pipeline import load_corpus
from tests.ingest.conftest import BOOK

opencc = pytest.importorskip("opencc")


def _traditional(config: str) -> str:
    return opencc.OpenCC(config).convert(BOOK.read_text(encoding="utf-8"))


def _outline(corpus):
    (doc,) = corpus.documents
    return [(c.number, c.title, c.in_corpus, [s.title for s in c.sections]) for c in doc.chapters]


@pytest.mark.parametrize("encoding", ["big5", "cp950"])
def test_big5_book_is_decoded_and_keeps_its_chapters(tmp_path, encoding):
    text = _traditional("s2tw")
    (tmp_path / "utf8").mkdir()
    (tmp_path / "big5").mkdir()
    (tmp_path / "utf8" / "book.txt").write_text(text, encoding="utf-8")
    (tmp_path / "big5" / "book.txt").write_bytes(text.encode(encoding))
    big5 = load_corpus([tmp_path / "big5" / "book.txt"])
    utf8 = load_corpus([tmp_path / "utf8" / "book.txt"])
    (doc,) = big5.documents
    assert doc.text == text
    assert doc.metadata["encoding"] == "big5"
    assert "第一章" in doc.text and "產能合作" in doc.text
    outline = _outline(big5)
    assert len(outline) >= 7 and all(title for _, title, _, _ in outline)
    assert outline == _outline(utf8)
    assert [p.text for p in big5.passages] == [p.text for p in utf8.passages]


def test_big5_hkscs_book_with_cantonese_characters_is_decoded(tmp_path):
    cantonese = "\n\n佢哋話嘅嘢，我哋咗啲時間先明白。\n"
    text = _traditional("s2tw") + cantonese
    path = tmp_path / "hk.txt"
    path.write_bytes(text.encode("big5hkscs"))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("big5")  # really needs HKSCS
    (doc,) = load_corpus([path]).documents
    assert doc.text == text
    assert doc.metadata["encoding"] == "big5hkscs"
    assert len(doc.chapters) >= 7


def test_short_big5_file_is_decoded(tmp_path):
    text = "第一章 總論\n\n這是用繁體中文寫的短文，內容簡單。"
    path = tmp_path / "short.txt"
    path.write_bytes(text.encode("big5"))
    (doc,) = load_corpus([path]).documents
    assert doc.text == text
    assert doc.chapters[0].title == "總論"


def test_gb18030_traditional_text_stays_gb18030():
    text = _traditional("s2t")
    assert decode(text.encode("gb18030"), "t.txt") == (text, "gb18030")


def test_bytes_that_read_equally_well_as_gbk_and_big5_are_refused_naming_the_file(tmp_path):
    common = common_han()
    both = []
    for lead in range(0xB0, 0xC7):
        for trail in range(0xA1, 0xFF):
            pair = bytes((lead, trail))
            try:
                if pair.decode("gb2312") in common and pair.decode("big5") in common:
                    both.append(pair)
            except UnicodeDecodeError:
                pass
    path = tmp_path / "ambiguous.txt"
    path.write_bytes(b"".join(both[::7][:60]))
    with pytest.raises(IngestError) as e:
        load_corpus([path])
    message = str(e.value)
    assert message.startswith("ambiguous.txt: cannot tell the file's encoding")
    assert "Big5" in message and "GB18030" in message and "iconv" in message


def test_shift_jis_japanese_is_not_indexed_as_chinese_gibberish(tmp_path):
    text = "これは日本語の文章です。ひらがなとカタカナが多く含まれています。" * 10
    path = tmp_path / "ja.txt"
    path.write_bytes(text.encode("shift_jis"))
    try:
        (doc,) = load_corpus([path]).documents
    except IngestError as e:
        assert str(e).startswith("ja.txt:")
    else:
        assert doc.text == text
