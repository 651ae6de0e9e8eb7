"""Issue 20: hostile files (made here with zipfile and zlib) cost a bounded amount to refuse or read."""
from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import pytest

from docqa.ingest.formats.detect import sniff
from docqa.ingest.model import IngestError, TooLargeError
from docqa.ingest.pipeline import load_corpus

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import make_bombs  # noqa: E402

MB = 1 << 20


def _peak(fn):
    """(result or raised error, peak bytes Python allocated while calling fn)."""
    tracemalloc.start()
    try:
        try:
            out = fn()
        except Exception as e:  # noqa: BLE001
            out = e
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_sniffing_reads_a_bounded_piece_of_the_mimetype(tmp_path):
    """A `mimetype` part that inflates to 64 MB: sniffing still sees an EPUB, and holds a few KB of it."""
    bomb = make_bombs.epub_mimetype_bomb(tmp_path / "bomb.epub", 64 * MB)
    assert bomb.stat().st_size < MB
    kind, peak = _peak(lambda: sniff(bomb))
    assert kind == "epub"
    assert peak < 4 * MB, peak


def test_an_epub_with_a_huge_mimetype_reads_its_book_cheaply(tmp_path):
    bomb = make_bombs.epub_mimetype_bomb(tmp_path / "book.epub", 64 * MB)
    corpus, peak = _peak(lambda: load_corpus([bomb]))
    assert not isinstance(corpus, Exception), corpus
    assert "外汇储备" in corpus.documents[0].text
    assert peak < 16 * MB, peak


def test_a_pdf_whose_page_tree_lists_itself_is_refused_in_one_line(tmp_path):
    bad = make_bombs.pdf_self_loop(tmp_path / "loop.pdf")
    with pytest.raises(IngestError) as err:
        load_corpus([bad])
    message = str(err.value)
    assert message.startswith("loop.pdf: page 1 of the PDF is damaged") and "\n" not in message
