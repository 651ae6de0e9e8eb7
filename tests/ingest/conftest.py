"""Shared fixtures: the bundled book loaded once, and a helper for small made-up files."""
from __future__ import annotations

from pathlib import Path

import pytest

from docqa.corpus import BUNDLED
from docqa.ingest.model import Corpus, Document
from docqa.ingest.pipeline import load_corpus

BOOK = BUNDLED / "belt-and-road-capacity-cooperation.txt"


@pytest.fixture(scope="session")
def book() -> Corpus:
    return load_corpus([BOOK])


@pytest.fixture(scope="session")
def book_doc(book: Corpus) -> Document:
    return book.documents[0]


@pytest.fixture
def write(tmp_path: Path):
    """Write `content` (str in `encoding`, or raw bytes) to tmp_path/name and return the path."""
    def _write(name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return path
    return _write
