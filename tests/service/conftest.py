"""Service fixtures: the real app over the session's real index, in-process or on a socket."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from docqa.service.api import create_app
from docqa.service.settings import Settings
from tests.serving import free_port, live_server  # noqa: F401 - re-exported for the test modules


def make_settings(book_index, cache_dir, **overrides) -> Settings:
    # Explicit values so a developer's DOCQA_* environment cannot change what the tests see.
    base = dict(index=book_index, cache_dir=cache_dir, api_key=None, cors_origins=[], max_question_chars=1000,
                max_body_bytes=64 * 1024, max_chat_body_bytes=1024 * 1024, workers_threads=4)
    return Settings(**{**base, **overrides})


@pytest.fixture
def settings(book_index, cache_dir) -> Settings:
    return make_settings(book_index, cache_dir)


@pytest.fixture
def app(settings, searcher):
    return create_app(settings, searcher)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    # raise_server_exceptions stays on: any request that reached the catch-all 500 fails the test.
    with TestClient(app) as c:
        yield c
    assert app.state.docqa.internal_errors == 0


@pytest.fixture(scope="session")
def book_text() -> dict[str, str]:
    """Source file name -> decoded text, to check that citation offsets give back the cited text."""
    from docqa.corpus import bundled_files

    return {p.name: p.read_text(encoding="utf-8-sig") for p in bundled_files()}
