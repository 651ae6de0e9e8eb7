"""Reading in a child process: same corpus, errors unchanged, memory/time/cancel become one line."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from docqa.corpus import bundled_files
from docqa.ingest.isolated import ReadCancelled, load_corpus_isolated, read_documents_isolated
from docqa.ingest.model import IngestError, TooLargeError
from docqa.ingest.pipeline import load_corpus

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import make_bombs  # noqa: E402

MB = 1 << 20


def _no_children():
    assert [p for p in psutil.Process().children(recursive=True) if "docqa.ingest.isolated" in " ".join(p.cmdline())] == []


def test_the_bundled_book_reads_the_same_in_the_child():
    here, there = load_corpus(bundled_files()), load_corpus_isolated(bundled_files())
    assert there.root == here.root
    assert [d.text for d in there.documents] == [d.text for d in here.documents]
    assert there.passages == here.passages
    seen = []
    docs = read_documents_isolated(bundled_files(), on_file=seen.append)
    assert [d.text for d in docs] == [d.text for d in here.documents] and seen == [here.documents[0].source]
    _no_children()


def test_the_child_imports_the_readers_without_torch():
    code = ("import sys; import docqa.ingest.isolated, docqa.ingest.pipeline, docqa.ingest.formats.pdf, "
            "docqa.ingest.formats.epub, docqa.ingest.formats.docx, docqa.ingest.formats.odt; "
            "print(sorted(m for m in ('torch', 'transformers', 'openvino', 'onnxruntime', 'faiss') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_docqa_error_in_the_child_crosses_back_unchanged(tmp_path):
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    with pytest.raises(IngestError) as here:
        load_corpus([tmp_path / "empty.txt"])
    with pytest.raises(IngestError) as there:
        load_corpus_isolated([tmp_path / "empty.txt"])
    assert type(there.value) is type(here.value) and str(there.value) == str(here.value)
    assert there.value.hint == here.value.hint


def test_a_read_past_its_memory_is_one_line_naming_the_file(tmp_path):
    bomb = make_bombs.epub_markup_bomb(tmp_path / "dense.epub", 40 * MB)
    with pytest.raises(TooLargeError) as err:
        load_corpus_isolated([bomb], memory_bytes=600 * MB)
    message = str(err.value)
    assert message.startswith("dense.epub: reading needed more than 600 MB of memory") and "\n" not in message
    assert "DOCQA_READ_MEMORY_BYTES" in message
    _no_children()


def test_a_read_past_its_time_or_cancelled_is_stopped(tmp_path):
    bomb = make_bombs.epub_markup_bomb(tmp_path / "slow.epub", 40 * MB)
    t0 = time.monotonic()
    with pytest.raises(TooLargeError) as err:
        load_corpus_isolated([bomb], seconds=1.0)
    assert str(err.value).startswith("slow.epub: reading took longer than 1 s") and "DOCQA_READ_SECONDS" in str(err.value)
    assert time.monotonic() - t0 < 30
    _no_children()
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    with pytest.raises(ReadCancelled):
        load_corpus_isolated([bomb], should_stop=stop.is_set)
    _no_children()


def test_library_add_reads_in_the_child_and_can_be_stopped(tmp_path, monkeypatch):
    from docqa.index.store.shelf import add_documents

    def no_model(name):
        raise AssertionError("a refused read never loads the model")

    bomb = make_bombs.epub_markup_bomb(tmp_path / "dense.epub", 40 * MB)
    monkeypatch.setenv("DOCQA_READ_MEMORY_BYTES", str(600 * MB))
    with pytest.raises(TooLargeError, match=r"^dense\.epub: reading needed more than 600 MB"):
        add_documents(tmp_path / "shelf", [bomb], load_embedder=no_model)
    book = tmp_path / "book.txt"
    book.write_text("第一章 总论\n\n正文。", encoding="utf-8")
    with pytest.raises(ReadCancelled):
        add_documents(tmp_path / "shelf", [book], load_embedder=no_model, should_stop=lambda: True)
    assert not (tmp_path / "shelf").exists()
    _no_children()


def test_the_reading_child_dies_with_a_killed_parent(tmp_path):
    """A server SIGKILLed mid-read must not leave its reader running on (holding up to
    DOCQA_READ_MEMORY_BYTES for up to DOCQA_READ_SECONDS): the child dies with its parent."""
    bomb = make_bombs.epub_markup_bomb(tmp_path / "slow.epub", 60 * MB)
    parent = subprocess.Popen([sys.executable, "-c",
                               "import sys; from pathlib import Path; from docqa.ingest.isolated import load_corpus_isolated;"
                               "load_corpus_isolated([Path(sys.argv[1])], seconds=600)", str(bomb)])
    try:
        deadline = time.monotonic() + 60
        readers = []
        while not readers and time.monotonic() < deadline:
            readers = [p for p in psutil.Process(parent.pid).children() if "docqa.ingest.isolated" in " ".join(p.cmdline())]
            time.sleep(0.05)
        assert readers, "the parent never started its reader"
        time.sleep(1.0)  # the reader is reading
        assert readers[0].is_running() and parent.poll() is None
        parent.kill()
        parent.wait()
        gone, alive = psutil.wait_procs(readers, timeout=5)
        assert not alive, f"reader {alive[0].pid} outlived its SIGKILLed parent"
    finally:
        parent.kill()
        for p in psutil.process_iter(["cmdline"]):
            if str(bomb) in " ".join(p.info["cmdline"] or []) and "docqa.ingest.isolated" in " ".join(p.info["cmdline"] or []):
                p.kill()
