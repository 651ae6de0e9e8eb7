"""Where the CLI and the HTTP service get their searcher: the same index, opened the same way."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from docqa.service.settings import Settings

if TYPE_CHECKING:
    from docqa.index.search.searcher import Searcher


def index_dir_for(settings: Settings) -> Path:
    """--index if given; else a cache folder for the bundled book, or one per named corpus."""
    if settings.index is not None or not settings.corpus:
        return settings.index_dir()
    key = hashlib.sha256("\n".join(str(Path(p).resolve()) for p in settings.corpus).encode()).hexdigest()[:12]
    return settings.cache_dir / "indexes" / f"corpus-{key}-{settings.index_dir().name}"


def question_engine(settings: Settings, *, server: bool) -> str:
    """DOCQA_QUERY_ENGINE, with "auto" resolved for a server or a one-shot command
    (`index/embedding/engines/choice.py`)."""
    from docqa.index.embedding.engines.choice import question_engine as resolve

    return resolve(settings.query_engine, server=server)


def open_searcher(settings: Settings, *, server: bool = False, embedder=None) -> "Searcher":
    """Open the index (or the Milvus store). Only docqa's own cache indexes are built (or rebuilt) here.

    An index named with --index is opened as it is, never built or replaced: rebuilding is
    `docqa build`'s job, and whatever else is at that path belongs to the user. A server's
    question encoder is loaded here too (one question embedded), so its first client does not
    wait for it. `embedder`: a model already loaded (a server reopening its index after a
    change), used when it is the index's.
    """
    from docqa.api import ensure_index
    from docqa.index.search.searcher import Searcher

    engine = question_engine(settings, server=server)
    if settings.store is not None:
        explicit_model = settings.model if "model" in settings.model_fields_set else None
        searcher = Searcher.open(settings.store, explicit_model, embedder=embedder, cache_dir=settings.cache_dir,
                                 query_engine=engine, query_threads=settings.query_threads,
                                 refusal_threshold=settings.refusal_threshold, store_timeout=settings.store_timeout)
        if server:
            searcher.embedder.encode_queries(["warm-up"])
        return searcher
    index_dir = index_dir_for(settings)
    if settings.index is None:  # the model a first build loads serves too: it is loaded once
        embedder = ensure_index(settings.corpus, index_dir, settings.model, cache_dir=settings.cache_dir,
                                query_engine=engine, precision=settings.build_precision) or embedder
    explicit_model = settings.model if "model" in settings.model_fields_set else None
    searcher = Searcher.open(index_dir, explicit_model, embedder=embedder, cache_dir=settings.cache_dir,
                             query_engine=engine, query_threads=settings.query_threads,
                             refusal_threshold=settings.refusal_threshold)
    if server:
        searcher.embedder.encode_queries(["warm-up"])
    return searcher


def is_empty_shelf(settings: Settings) -> bool:
    """A server named a new library (--index on a missing or empty folder): it serves an empty
    shelf, and the first book added (through the page or `docqa add`) creates the index."""
    from docqa.index.store.directory import owned_state

    return settings.store is None and settings.index is not None and owned_state(settings.index) in ("missing", "empty")


def open_model(settings: Settings, *, server: bool = True):
    """The model an empty shelf's server embeds its first books with, and then asks with."""
    from docqa.index.embedding.embedder import load_embedder

    embedder = load_embedder(settings.model, settings.cache_dir, query_engine=question_engine(settings, server=server),
                             query_threads=settings.query_threads, precision=settings.build_precision)
    if server:
        embedder.encode_queries(["warm-up"])
    return embedder
