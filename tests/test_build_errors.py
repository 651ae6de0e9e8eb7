"""A build that cannot write says so in one line and leaves nothing half-built.

The full disk is a real one: a small tmpfs mounted for the test (needs root and a kernel
that allows it; skipped otherwise). The corpus is the bundled book, so the files written
are real bm25s, FAISS and numpy files.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from docqa.corpus import bundled_files
from docqa.index.store.directory import IndexBuildError, IndexLoadError, build_index, check_replaceable, load_index
from docqa.ingest.pipeline import chunker_settings, load_corpus
from tests.fakes import FakeEmbedder, make_corpus


@pytest.fixture()
def small_disk(request):
    """A tmpfs of 9 MB by default: room for one tiny index (about 6 MB, most of it the keyword
    dictionary), not for a second one beside it; `@pytest.mark.parametrize("small_disk", [size],
    indirect=True)` picks another size."""
    size = getattr(request, "param", "9m")
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root")
    mnt = Path(tempfile.mkdtemp(prefix="docqa-full-"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        mnt.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
        mnt.rmdir()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_full_disk_is_a_clean_error_and_the_previous_index_survives(small_disk):
    target = small_disk / "idx"
    build_index(make_corpus({1: ["丝绸之路经济带有三个走向。", "外汇储备接近4万亿美元。"]}), target,
                FakeEmbedder(), chunker={"target_chars": 300}, progress=False, say=None)
    before = _snapshot(target)
    book = load_corpus(bundled_files())
    with pytest.raises(IndexBuildError) as e:
        build_index(book, target, FakeEmbedder(), chunker=chunker_settings(), progress=False, say=None)
    assert e.value.message == f"no space left on the disk holding {small_disk} while building the index idx"
    assert "free some space" in e.value.hint and "previous index" in e.value.hint
    assert _snapshot(target) == before
    assert [p.text for p in load_index(target).passages][0] == "丝绸之路经济带有三个走向。"
    assert sorted(p.name for p in small_disk.iterdir()) == [".idx.lock", "idx"]  # nothing half-built


@pytest.mark.parametrize("small_disk", ["2m"], indirect=True)
def test_full_disk_on_a_first_build_leaves_nothing(small_disk):
    target = small_disk / "idx"
    with pytest.raises(IndexBuildError, match="no space left"):
        build_index(load_corpus(bundled_files()), target, FakeEmbedder(), chunker=chunker_settings(),
                    progress=False, say=None)
    assert sorted(p.name for p in small_disk.iterdir()) == [".idx.lock"]


def test_index_path_through_a_file_is_refused_before_any_work(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("用户的笔记。", encoding="utf-8")
    target = notes / "idx" / "deeper"
    with pytest.raises(IndexBuildError) as e:
        check_replaceable(target)
    assert e.value.message == f"cannot make the index folder {target}: {notes} is a file, not a folder"
    with pytest.raises(IndexBuildError, match=r"cannot write the index .*Not a directory"):
        build_index(make_corpus({1: ["正文。"]}), target, FakeEmbedder(), chunker={}, progress=False, say=None)
    assert notes.read_text(encoding="utf-8") == "用户的笔记。"


def test_manifest_nested_100k_deep_is_refused_as_damaged(tmp_path):
    target = tmp_path / "idx"
    build_index(make_corpus({1: ["正文。"]}), target, FakeEmbedder(), chunker={}, progress=False, say=None)
    (target / "manifest.json").write_text('{"format_version": ' + "[" * 100_000 + "]" * 100_000 + "}",
                                          encoding="utf-8")
    with pytest.raises(IndexLoadError, match=r"manifest.json is damaged \(maximum recursion depth"):
        load_index(target)
    json.loads((target / "passages.jsonl").read_text(encoding="utf-8").splitlines()[0])  # untouched
