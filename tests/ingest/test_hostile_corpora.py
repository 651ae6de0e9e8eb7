"""Pathological corpora get one clean line naming what is wrong, never a traceback or a hang.

Everything here is a real file system object: folders 1,500 deep, a FIFO, a link to /dev/zero,
an unreadable folder (made unreadable for an unprivileged user when the tests run as root).
The FIFO and /dev/zero cases run the real CLI in a subprocess with a timeout and a memory cap,
so a regression fails the test instead of hanging or exhausting the machine.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from docqa.ingest.model import IngestError
from docqa.ingest.pipeline import load_corpus
from docqa.ingest.read import read_documents

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, env: dict | None = None, timeout: float = 60, user: int | None = None):
    """`docqa ARGS` in a subprocess capped at 1 GB of address space; (exit code, stderr)."""
    def limits():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    cmd = [sys.executable, "-m", "docqa.service.cli", *args]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, preexec_fn=limits,
                         env=full_env, cwd=tempfile.gettempdir())
    return out.returncode, out.stderr


def _one_clean_line(code: int, stderr: str) -> str:
    assert code == 1, stderr
    assert "Traceback" not in stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("docqa: error: ")
    return lines[0]


def test_folders_nested_1500_deep_are_read(tmp_path):
    deep = str(tmp_path)
    for _ in range(1500):  # one level at a time: makedirs itself recurses
        deep += "/d"
        os.mkdir(deep)
    deep = Path(deep)
    (deep / "book.txt").write_text("第一章 深处\n\n最深处的文件也要读到。", encoding="utf-8")
    (tmp_path / "top.txt").write_text("顶层的文件。", encoding="utf-8")
    try:
        docs = read_documents([tmp_path])
        assert len(docs) == 2
        assert docs[0].source == "/".join(["d"] * 1500) + "/book.txt"
        assert docs[0].text.endswith("最深处的文件也要读到。")
    finally:  # bottom up: shutil.rmtree (and pytest's clean-up) recurse too
        (deep / "book.txt").unlink()
        for _ in range(1500):
            os.rmdir(deep)
            deep = deep.parent


def test_folder_link_loop_ends(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("正文。", encoding="utf-8")
    (tmp_path / "a" / "loop").symlink_to(tmp_path)
    assert [d.source for d in read_documents([tmp_path])] == ["a/x.txt"]


@pytest.mark.parametrize("line, message", [
    ('{"text": "正文。", "meta": ' + "[" * 100_000 + "]" * 100_000 + "}",
     r"^docs.jsonl, line 2: the JSON is nested too deeply to read: flatten the line"),
    ('{"text": "正文\\ud800。"}', r"^docs.jsonl, line 2: a string holds the lone surrogate \\ud800"),
    ('{"id": "\\udfff", "text": "正文。"}', r"^docs.jsonl, line 2: a string holds the lone surrogate \\udfff"),
    ('{"text": "正文。", "n": 1' + "0" * 5000 + "}", r"^docs.jsonl, line 2: invalid JSON \(.*digits"),
])
def test_hostile_jsonl_lines_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"id": "a", "text": "第一篇。"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(IngestError, match=message):
        load_corpus([path])


def test_fifo_is_refused_at_once_not_waited_on(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    line = _one_clean_line(*_cli("chapters", str(fifo), timeout=30))
    assert "pipe.txt: is a named pipe (FIFO), not a regular file" in line
    (tmp_path / "book.txt").write_text("正文。", encoding="utf-8")
    line = _one_clean_line(*_cli("chapters", str(tmp_path), timeout=30))
    assert "pipe.txt: is a named pipe" in line


def test_link_to_dev_zero_is_refused_without_reading_it(tmp_path):
    (tmp_path / "zero.txt").symlink_to("/dev/zero")
    line = _one_clean_line(*_cli("chapters", str(tmp_path / "zero.txt"), timeout=30))
    assert "zero.txt (a link to /dev/zero): is a character device, not a regular file" in line


def test_file_over_the_size_limit_is_refused_saying_how_to_raise_it(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("第一章 大\n\n" + "很长的正文。" * 100, encoding="utf-8")
    size = path.stat().st_size
    with pytest.raises(IngestError) as e:
        load_corpus([path], max_file_bytes=size - 1)
    assert e.value.message == f"big.txt: the file is {size:,} bytes, over the {size - 1:,}-byte limit for one file"
    assert "DOCQA_MAX_FILE_BYTES" in e.value.hint and "max_file_bytes" in e.value.hint
    assert load_corpus([path], max_file_bytes=size).documents[0].text.startswith("第一章")
    from docqa.ingest.read import DEFAULT_MAX_FILE_BYTES
    assert DEFAULT_MAX_FILE_BYTES >= 100_000_000

    line = _one_clean_line(*_cli("chapters", str(path), env={"DOCQA_MAX_FILE_BYTES": str(size - 1)}))
    assert "over the" in line and "DOCQA_MAX_FILE_BYTES" in line
    code, err = _cli("chapters", str(path), env={"DOCQA_MAX_FILE_BYTES": str(size)})
    assert code == 0, err


def test_unreadable_subfolder_is_named_not_skipped(tmp_path):
    top = Path(tempfile.mkdtemp(prefix="docqa-perm-"))  # reachable by an unprivileged user
    try:
        top.chmod(0o755)
        (top / "corpus" / "locked").mkdir(parents=True)
        (top / "corpus" / "a.txt").write_text("能读的文件。", encoding="utf-8")
        (top / "corpus" / "locked" / "b.txt").write_text("读不到的文件。", encoding="utf-8")
        (top / "corpus" / "locked").chmod(0)
        as_root = os.geteuid() == 0
        if as_root and not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: cannot make a folder unreadable")
        code, err = _cli("chapters", str(top / "corpus"), user=65534 if as_root else None)
        line = _one_clean_line(code, err)
        assert f"{top / 'corpus' / 'locked'}: cannot list this folder (Permission denied)" in line
    finally:
        (top / "corpus" / "locked").chmod(0o755)
        shutil.rmtree(top)


@pytest.mark.parametrize("make", ["missing-parent-file", "empty", "binary"])
def test_other_bad_corpora_give_one_line(tmp_path, make):
    if make == "missing-parent-file":
        (tmp_path / "notes.txt").write_text("笔记。", encoding="utf-8")
        target, expect = tmp_path / "notes.txt" / "x.txt", "Not a directory"
    elif make == "empty":
        (tmp_path / "empty").mkdir()
        target, expect = tmp_path / "empty", "no readable files"
    else:
        (tmp_path / "junk.txt").write_bytes(bytes(range(256)) * 64)
        target, expect = tmp_path / "junk.txt", "junk.txt: cannot"
    line = _one_clean_line(*_cli("chapters", str(target)))
    assert expect in line


def test_jsonl_error_through_the_cli_is_one_line(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps({"text": "正文。"}) + "\n" + '{"text": "x", "m": ' + "[" * 100_000 + "]" * 100_000 + "}\n",
                    encoding="utf-8")
    line = _one_clean_line(*_cli("chapters", str(path)))
    assert "docs.jsonl, line 2: the JSON is nested too deeply" in line


def test_nothing_is_indexed_from_a_bad_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("第一章 好\n\n好的文件。", encoding="utf-8")
    (corpus / "bad.jsonl").write_text('{"text": "正文\\ud800"}\n', encoding="utf-8")
    target = tmp_path / "idx"
    line = _one_clean_line(*_cli("build", str(corpus), "--index", str(target)))
    assert "bad.jsonl, line 1: a string holds the lone surrogate" in line
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]


def test_fifo_without_a_suffix_is_not_opened_to_sniff_its_format(tmp_path):
    """Folder scans sniff extension-less files for PDF/EPUB/DOCX content: never a FIFO's."""
    os.mkfifo(tmp_path / "book")
    (tmp_path / "a.txt").write_text("第一章 开始\n\n正文。", encoding="utf-8")
    code, err = _cli("chapters", str(tmp_path), "--json", timeout=30)
    assert code == 0, err
    line = _one_clean_line(*_cli("chapters", str(tmp_path / "book"), timeout=30))
    assert "book: is a named pipe (FIFO), not a regular file" in line
