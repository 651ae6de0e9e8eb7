"""docqa never replaces, deletes or moves what it cannot prove is its own index (issue 8).

Every case runs the real CLI or app against real folders of user files and checks that each
file is still there, byte for byte, afterwards.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from docqa.api import ensure_index
from docqa.index.store.directory import MARKER, build_index, load_index
from docqa.service.cli import main
from tests.fakes import FakeEmbedder, make_corpus

CHUNKER = {"target": 500}


def user_folder(root: Path) -> Path:
    """A folder as a user has one: notes, a source tree, a binary file."""
    (root / "src").mkdir(parents=True)
    (root / "notes.txt").write_text("我的笔记：外汇储备。\n", encoding="utf-8")
    (root / "src" / "main.py").write_text("print('hello')\n", encoding="utf-8")
    (root / "photo.bin").write_bytes(os.urandom(4096))
    return root


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def siblings(path: Path) -> set[str]:
    return {p.name for p in path.parent.iterdir()}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", [["search", "外汇储备"], ["ask", "外汇储备"], ["eval", "q.jsonl"], ["chapters"],
                                     ["chapter", "1"]])
def test_commands_refuse_a_user_folder_and_leave_it_whole(tmp_path, capsys, command):
    folder = user_folder(tmp_path / "mydocs")
    before = tree(folder)
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "1", "question": "外汇储备有多少？", "gold": ["外汇"]}\n', encoding="utf-8")
    argv = [str(questions) if a == "q.jsonl" else a for a in command]
    code, out, err = run(capsys, *argv, "--index", str(folder))
    assert code == 1
    assert "is not a docqa index (it holds 3 entries)" in err and "docqa build" in err
    assert "Traceback" not in err and err.count("\n") == 1
    assert tree(folder) == before
    assert siblings(folder) == {"mydocs", "q.jsonl"}


def test_a_mistyped_index_path_is_not_created(tmp_path, capsys):
    code, _, err = run(capsys, "search", "外汇储备", "--index", str(tmp_path / "my-indx"))
    assert code == 1 and "no index at" in err and "docqa build" in err
    assert list(tmp_path.iterdir()) == []


def test_a_regular_file_named_as_index_is_left_alone(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("重要的笔记\n", encoding="utf-8")
    code, _, err = run(capsys, "ask", "外汇储备", "--index", str(notes))
    assert code == 1 and "is a file, not a docqa index" in err
    assert notes.read_text(encoding="utf-8") == "重要的笔记\n"
    assert {p.name for p in tmp_path.iterdir()} == {"notes.txt"}


def test_build_refuses_a_source_folder_as_its_target(tmp_path, capsys):
    corpus = tmp_path / "mycorp"
    corpus.mkdir()
    (corpus / "book.txt").write_text("第一章 总论\n\n这是一本书。它讲外汇储备。\n", encoding="utf-8")
    proj = user_folder(tmp_path / "proj")
    before = tree(proj)
    code, _, err = run(capsys, "build", str(corpus), "--index", str(proj))
    assert code == 1 and "is not a docqa index" in err
    assert tree(proj) == before


def test_build_index_itself_refuses_a_user_folder(tmp_path):
    """The library call is guarded too, not only the CLI."""
    folder = user_folder(tmp_path / "mine")
    before = tree(folder)
    from docqa.errors import IndexStateError

    with pytest.raises(IndexStateError, match="not a docqa index"):
        build_index(make_corpus({1: ["外汇储备很多。"]}), folder, FakeEmbedder(), chunker=CHUNKER, progress=False, say=None)
    assert tree(folder) == before
    assert not any(p.name.startswith(".mine.building-") for p in tmp_path.iterdir())


def test_build_into_an_empty_folder_and_rebuild_over_its_own_index(tmp_path):
    target = tmp_path / "idx"
    target.mkdir()
    build_index(make_corpus({1: ["第一次。"]}), target, FakeEmbedder(), chunker=CHUNKER, progress=False, say=None)
    assert (target / MARKER).is_file()
    build_index(make_corpus({1: ["第二次。"]}), target, FakeEmbedder(), chunker=CHUNKER, progress=False, say=None)
    assert [p.text for p in load_index(target).passages] == ["第二次。"]


def test_an_index_that_lost_its_manifest_is_refused_not_replaced(tmp_path, capsys):
    target = tmp_path / "idx"
    build_index(make_corpus({1: ["外汇储备很多。"]}), target, FakeEmbedder(), chunker=CHUNKER, progress=False, say=None)
    (target / "manifest.json").unlink()
    before = tree(target)
    code, _, err = run(capsys, "search", "外汇储备", "--index", str(target))
    assert code == 1 and "damaged docqa index" in err and "docqa build" in err
    assert tree(target) == before


def test_a_build_killed_between_its_renames_is_recovered_on_open(tmp_path, capsys):
    target = tmp_path / "idx"
    build_index(make_corpus({1: ["外汇储备很多。"]}), target, FakeEmbedder(), chunker=CHUNKER, progress=False, say=None)
    from docqa.index.store.directory import move_aside

    move_aside(target)  # exactly what a kill after the first rename leaves
    code, out, err = run(capsys, "chapters", "--json", "--index", str(target))
    assert code == 0, err
    assert [p.text for p in load_index(target).passages] == ["外汇储备很多。"]


def test_the_cache_index_is_recovered_not_rebuilt_after_a_killed_swap(tmp_path):
    """ensure_index puts the previous index back; it must not rebuild (the fake model cannot be loaded)."""
    book = tmp_path / "book.txt"
    book.write_text("第一章 总论\n\n外汇储备很多。\n", encoding="utf-8")
    from docqa.ingest.pipeline import chunker_settings, load_corpus

    corpus = load_corpus([book])
    target = tmp_path / "cache" / "indexes" / "corpus-x"
    fake = FakeEmbedder()
    build_index(corpus, target, fake, chunker=chunker_settings(), progress=False, say=None)
    before = tree(target)
    from docqa.index.store.directory import move_aside

    move_aside(target)
    ensure_index([book], target, fake.model_name, cache_dir=tmp_path / "cache", progress=False, say=None)
    assert tree(target) == before


def test_serving_a_user_folder_reports_it_and_touches_nothing(tmp_path, cache_dir):
    from fastapi.testclient import TestClient

    from docqa.service.api import create_app
    from tests.service.conftest import make_settings

    folder = user_folder(tmp_path / "mydocs")
    before = tree(folder)
    app = create_app(make_settings(folder, cache_dir))
    with TestClient(app) as c:
        import time

        deadline = time.monotonic() + 30
        while (r := c.get("/readyz")).status_code != 503 or "not a docqa index" not in r.text:
            assert time.monotonic() < deadline, r.text
            time.sleep(0.05)
    assert tree(folder) == before


# ---- issue 20: the folders beside an index, and inputs inside it ------------------------------

def book_file(path: Path, seed: int) -> Path:
    from tests.bookgen import book

    path.write_text(book(2000, chapters_per_volume=2, sections=2, paragraphs=1, seed=seed), encoding="utf-8")
    return path


@pytest.fixture
def shelf(tmp_path, cache_dir, capsys):
    """A library made by `docqa add`, beside the books it was made from."""
    alpha = book_file(tmp_path / "alpha.txt", 1)
    code, _, err = run(capsys, "add", str(alpha), "--index", str(tmp_path / "shelf"), "-q")
    assert code == 0, err
    return tmp_path / "shelf"


@pytest.mark.parametrize("how", ["mkdir", "cp -a"])
def test_a_users_previous_folder_survives_an_add(shelf, tmp_path, capsys, how):
    """`.shelf.previous` is the name docqa moves the index to while it swaps; a user's folder of
    that name (a thesis, or a manual backup copied with `cp -a shelf .shelf.previous`) is kept
    byte for byte and the add refuses in one line saying what to rename."""
    import subprocess

    backup = tmp_path / ".shelf.previous"
    if how == "mkdir":
        backup.mkdir()
        (backup / "thesis.txt").write_text("my thesis draft\n", encoding="utf-8")
    else:
        subprocess.run(["cp", "-a", str(shelf), str(backup)], check=True)
    mine, library = tree(backup), tree(shelf)
    gamma = book_file(tmp_path / "gamma.txt", 3)
    code, out, err = run(capsys, "add", str(gamma), "--index", str(shelf))
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err, err
    assert ".shelf.previous" in err and "rename it" in err
    assert tree(backup) == mine and tree(shelf) == library
    backup.rename(tmp_path / "shelf-backup")
    code, out, err = run(capsys, "add", str(gamma), "--index", str(shelf), "-q")
    assert code == 0 and out.startswith("added gamma"), err
    assert tree(tmp_path / "shelf-backup") == mine


def test_a_users_building_folder_survives_and_docqas_own_is_swept(tmp_path, capsys, cache_dir):
    """A change killed while it writes leaves a marked `.idx.building-*`; the next change sweeps
    it, but never a user's folder of that pattern."""
    import signal
    import subprocess
    import sys

    target = tmp_path / "idx"
    build_index(make_corpus({1: ["外汇储备很多。"]}), target, FakeEmbedder(), chunker=CHUNKER, progress=False, say=None)
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "import docqa.index.store.directory as store\n"
        "from tests.fakes import FakeEmbedder, make_corpus\n"
        "real = store.Hubness.save\n"
        "def save(self, folder):\n"
        "    real(self, folder)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "store.Hubness.save = save\n"
        "store.build_index(make_corpus({1: ['第二次。']}), Path(sys.argv[1]), FakeEmbedder(),\n"
        "                  chunker={'target': 500}, progress=False, say=None)\n")
    proc = subprocess.run([sys.executable, "-c", script, str(target)], cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == -signal.SIGKILL
    (left,) = tmp_path.glob(".idx.building-*")
    mine = tmp_path / ".idx.building-mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("我的笔记\n", encoding="utf-8")
    before = tree(mine)
    build_index(make_corpus({1: ["第三次。"]}), target, FakeEmbedder(), chunker=CHUNKER, progress=False, say=None)
    assert not left.exists() and tree(mine) == before
    assert [p.text for p in load_index(target).passages] == ["第三次。"]
    assert MARKER in {p.name for p in target.iterdir()} and ".docqa-building" not in {p.name for p in target.iterdir()}


def test_a_change_killed_between_its_renames_is_restored_by_list_and_remove(tmp_path, capsys):
    """A real SIGKILL after the index was moved aside: `docqa list` and `docqa remove` put it back
    instead of saying there is no index."""
    import signal
    import subprocess
    import sys

    from docqa.index.store.shelf import add_documents

    target = tmp_path / "lib"
    for name, seed in (("a.txt", 11), ("b.txt", 12)):
        add_documents(target, [book_file(tmp_path / name, seed)], embedder=FakeEmbedder())
    before = tree(target)
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "import docqa.index.store.directory as store\n"
        "from docqa.index.store.shelf import remove_documents\n"
        "real = os.rename\n"
        "def rename(a, b):\n"
        "    real(a, b)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "store.os.rename = rename\n"
        "remove_documents(Path(sys.argv[1]), ['b'])\n")
    for command in (["list", "--index", str(target)], ["remove", "b", "--index", str(target)]):
        proc = subprocess.run([sys.executable, "-c", script, str(target)], cwd=Path(__file__).resolve().parents[1])
        assert proc.returncode == -signal.SIGKILL and not target.exists()
        code, out, err = run(capsys, *command)
        assert code == 0, err
        assert "a" in {line.split("\t")[0] for line in out.splitlines()} or out.startswith("removed b")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".lib.") and not p.name.endswith(".lock")] == []
    assert tree(target) != before and "b" not in {d["doc_id"] for d in __import__("json").loads(
        (target / "documents.json").read_text(encoding="utf-8"))}


def test_adding_the_index_itself_or_a_folder_holding_it_is_refused(shelf, tmp_path, capsys):
    library = tree(shelf)
    for given in (shelf, shelf / "passages.jsonl", tmp_path):
        code, _, err = run(capsys, "add", str(given), "--index", str(shelf))
        assert code == 1 and err.count("\n") == 1 and "index" in err and "own files" in err, err
    code, _, err = run(capsys, "build", str(shelf), "--index", str(shelf))
    assert code == 1 and "own files" in err
    assert tree(shelf) == library


def test_a_user_folder_with_its_own_manifest_is_named_as_not_docqas(tmp_path, capsys):
    folder = user_folder(tmp_path / "docs")
    (folder / "manifest.json").write_text('{"name": "my project", "version": 2}\n', encoding="utf-8")
    before = tree(folder)
    for command in (["list"], ["search", "外汇储备"], ["build", str(tmp_path / "docs" / "notes.txt")]):
        code, _, err = run(capsys, *command, "--index", str(folder))
        assert code == 1 and err.count("\n") == 1, err
        assert "manifest.json is not docqa's" in err and "format None" not in err and "rebuild" not in err, err
    assert tree(folder) == before
