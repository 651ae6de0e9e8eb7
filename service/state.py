"""What every request shares: the searcher (or why there is none yet) and the bounded queue in
front of the model.

Up to `workers_threads` questions are in the hands of the answer thread at once (it embeds those
waiting together in one forward pass, see `docqa.service.answering`); up to `max_queue` more wait
for a turn. Past that the server says 503 with Retry-After at once, instead of
letting a backlog grow that no client will wait for. A question whose client hangs up while
it waits is dropped before it reaches the model.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request

from docqa.errors import BusyError, DocqaError, IndexStateError
from docqa.service.answering import AnswerThread, steps_of
from docqa.service.settings import Settings

if TYPE_CHECKING:
    from docqa.index.search.searcher import Searcher

log = logging.getLogger("docqa.service")
T = TypeVar("T")
STORE_RETRY_SECONDS = 5.0
FOLLOW_SECONDS = 2.0


def warm_after_ready() -> None:
    """What only some questions need, loaded once the server is ready rather than before.

    Ready (/readyz 200) means the index is open and the question encoder has embedded a question,
    so a question is answered without loading anything more, except jieba's part-of-speech tagger,
    which the questions asking for a person, place, organisation or title use: 1-4 s of loading
    (11 s at load 11 on 2 shared AMD EPYC AVX2 cores), done here in the background instead of in
    the first such question or before ready. A question that needs it meanwhile waits for this
    load, not for a second one."""
    try:
        from docqa.index.answer import kinds as answer_types

        answer_types.warm()
    except Exception:  # the question that needs it loads it again and reports what fails
        log.warning("loading jieba's part-of-speech tagger in the background failed", exc_info=True)


class Loading(BusyError):
    """The index is still being opened or built."""

    retry_after = 5


class QueueFull(BusyError):
    """More questions are waiting than DOCQA_MAX_QUEUE allows."""

    retry_after = 1


class EmptyShelf(DocqaError):
    """The server serves a new library with no book in it yet."""

    status_code = 409


class ClientGone(DocqaError):
    """The client hung up before its question reached the model; nobody reads this reply."""

    status_code = 499


class ServiceState:
    """The searcher, or why there is none yet; shared by every request."""

    def __init__(self, settings: Settings, searcher: "Searcher | None"):
        self.settings = settings
        self.searcher = searcher
        self.error: str | None = None
        self.loading_since: float | None = None
        self.limiter: anyio.CapacityLimiter | None = None
        self.waiting = 0
        self.dropped = 0
        self.internal_errors = 0
        self._opener: Callable[..., "Searcher"] | None = None
        """Opens the searcher: `(settings)`, or `(settings, embedder=model)` to reuse a loaded model."""
        self._failure: DocqaError | None = None
        self._lock = threading.Lock()
        self._reopening = False
        self._next_reopen = 0.0
        self._stamp: tuple[int, int] | None = None
        self._next_look = 0.0
        self.answers = AnswerThread()
        self.empty = False
        """A new library (--index on a missing or empty folder): no searcher, and no error either."""
        self.model: Any = None
        """The model loaded while the shelf is empty: its question encoder serves once the first book is
        added (the books themselves are embedded in a child process, see `docqa.service.change_process`)."""

    def use_opener(self, open_searcher: Callable[..., "Searcher"]) -> None:
        """How to open the searcher again: when its store fails under it (`store_failed`) or its
        index folder is changed by another process (`follow_changes`)."""
        self._opener = self._opener or open_searcher

    def load(self, open_searcher: Callable[..., "Searcher"] | None = None) -> None:
        """Open the searcher (with `open_searcher`, which is kept for opening it again; without,
        with the one kept). A searcher already in service lends the new one its model, and stays
        in service if the new one cannot be opened."""
        if open_searcher is not None:
            self._opener = open_searcher
        self.loading_since = time.monotonic()
        current = self.searcher
        stamp = self._manifest_stamp()
        try:
            if current is None and self._load_empty():
                return
            self.searcher = self._open()
            if current is not None:
                log.info("opened the index again; serving the new one")
            self.error = self._failure = None
            self.empty = False
            if current is None:
                threading.Thread(target=warm_after_ready, name="docqa-warm", daemon=True).start()
        except DocqaError as exc:  # the user's to fix: one line, no traceback
            if current is None:
                log.error("cannot serve: %s", exc)
            else:
                log.warning("cannot open the index again (%s); still serving the one loaded", exc)
            self.error, self._failure = f"{type(exc).__name__}: {exc}", exc
            self._next_reopen = time.monotonic() + STORE_RETRY_SECONDS
        except Exception as exc:  # a bug: reported by /readyz, with its traceback in the log
            log.exception("loading the index failed")
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self._stamp = stamp  # one try per change of the folder: a broken index is not reopened in a loop

    def _load_empty(self) -> bool:
        """When the served folder holds no index yet: load the model, serve an empty shelf, True."""
        from docqa.service.engine import is_empty_shelf, open_model

        if not is_empty_shelf(self.settings):
            return False
        if self.model is None:
            self.model = open_model(self.settings)
        if not self.empty:
            log.info("%s holds no index yet: serving an empty shelf; the first book added creates it",
                     self.settings.index)
        self.empty, self.error, self._failure = True, None, None
        return True

    def shelf(self) -> "Searcher | None":
        """The searcher, or None while the shelf is empty (for the routes that show an empty shelf)."""
        try:
            return self.require()
        except EmptyShelf:
            return None

    def _look_for_shelf(self) -> None:
        """An empty shelf's folder may be filled by `docqa add` beside the server: at most every
        FOLLOW_SECONDS a look at the manifest tells, and the new index is opened in the background."""
        now = time.monotonic()
        with self._lock:
            if self._reopening or now < self._next_look:
                return
            self._next_look = now + FOLLOW_SECONDS
            stamp = self._manifest_stamp()
            if stamp is None or stamp == self._stamp:
                return
            self._reopening = True
        threading.Thread(target=self._reopen, name="docqa-follow", daemon=True).start()

    def store_failed(self, exc: BaseException) -> None:
        """The store was unavailable, at start or under a request. Milvus may be down, or a
        rebuild may have moved the store to a new generation and dropped the one this searcher
        reads; either way it is opened again in the background (at most every
        STORE_RETRY_SECONDS, with the model already loaded) and replaces the searcher once it opens, so the server recovers and
        follows rebuilds without a restart. Other failures are not retried."""
        from docqa.index.store.milvus import StoreUnavailable

        if not isinstance(exc, StoreUnavailable) or self._opener is None:
            return
        with self._lock:
            now = time.monotonic()
            if self._reopening or now < self._next_reopen:
                return
            self._reopening, self._next_reopen = True, now + STORE_RETRY_SECONDS
        threading.Thread(target=self._reopen, name="docqa-reload", daemon=True).start()

    def _reopen(self) -> None:
        """`load` again, in a background thread that `store_failed` or `follow_changes` started."""
        try:
            self.load()
        finally:
            self._reopening = False

    def swap(self) -> None:
        """Serve the index as it now is, after a change made through this server (one assignment:
        a request holding the old searcher finishes with it); a failure is the caller's. An empty
        shelf's first book makes the first searcher."""
        if not self.empty:
            self.require()
        stamp = self._manifest_stamp()
        self.searcher = self._open()
        self._stamp = stamp
        if self.empty:
            threading.Thread(target=warm_after_ready, name="docqa-warm", daemon=True).start()
        self.empty = False

    def _open(self) -> "Searcher":
        """The searcher `_opener` opens, with the model of the one in service if there is one."""
        assert self._opener is not None
        model = self.searcher.embedder if self.searcher is not None else self.model
        if model is None:
            return self._opener(self.settings)
        return self._opener(self.settings, embedder=model)

    def _manifest_stamp(self) -> tuple[int, int] | None:
        """The identity of the served index folder's manifest: every change docqa makes renames
        a new folder into place, so a new inode or mtime means the index changed."""
        from docqa.index.store.directory import MANIFEST

        if self.settings.store is not None or self.settings.index is None:
            return None
        try:
            st = (Path(self.settings.index) / MANIFEST).stat()
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns

    def follow_changes(self) -> None:
        """A `docqa add`, `remove` or `build` run beside the server changes the index folder it
        serves; at most every FOLLOW_SECONDS a look at the manifest tells, and the index is
        opened again in the background with the model already loaded, so the server serves the
        change without a restart. Until then, and if the new index cannot be opened, the
        searcher already open stays in service."""
        if self.searcher is None or self._opener is None or self.settings.store is not None:
            return
        now = time.monotonic()
        with self._lock:
            if self._reopening or now < self._next_look:
                return
            self._next_look = now + FOLLOW_SECONDS
            stamp = self._manifest_stamp()
            if self._stamp is None:  # a searcher handed in: the index as it is now is what it serves
                self._stamp = stamp
                return
            if stamp is None or stamp == self._stamp:
                return
            self._reopening = True
        threading.Thread(target=self._reopen, name="docqa-follow", daemon=True).start()

    def require(self) -> "Searcher":
        if self.searcher is not None:
            self.follow_changes()
            return self.searcher
        if self.empty:
            self._look_for_shelf()
            raise EmptyShelf("the shelf is empty: no book has been added yet",
                             hint="upload a book (POST /documents, or 书架 on the page) or "
                                  f"`docqa add FILE --index {self.settings.index}`")
        if self.error is not None:
            if self._failure is not None:
                self.store_failed(self._failure)
            raise IndexStateError(f"the index could not be loaded: {self.error}")
        waited = int(time.monotonic() - (self.loading_since or time.monotonic()))
        raise Loading(f"the index is still loading ({waited}s so far)", hint="retry shortly")

    async def run(self, request: Request | None, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn` once a slot is free, unless the queue is full or the client left: a question
        (`Searcher.ask`, `Searcher.search`) in the answer thread, anything else in a worker thread."""
        if self.limiter is None:
            self.limiter = anyio.CapacityLimiter(self.settings.workers_threads)
        if self.limiter.available_tokens == 0 and self.waiting >= self.settings.max_queue:
            raise QueueFull(f"the server is busy: {self.waiting} questions are waiting (DOCQA_MAX_QUEUE "
                            f"{self.settings.max_queue})", hint=f"retry in {QueueFull.retry_after} s")
        borrower = object()  # the slot belongs to this request, not to whichever task took it
        acquired = await self._acquire(request, borrower)
        if not acquired:
            self.dropped += 1
            raise ClientGone("the client disconnected before its question was answered")
        try:
            stepped = steps_of(fn, args, kwargs)
            if stepped is not None:
                return await self.answers.run(*stepped)
            return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
        except IndexStateError as exc:
            self.store_failed(exc)
            raise
        finally:
            self.limiter.release_on_behalf_of(borrower)

    async def _acquire(self, request: Request | None, borrower: object) -> bool:
        """A worker slot (True), or False when the client hangs up first (no slot is then held).

        `waiting` counts a request from its arrival until it holds a slot or is dropped.
        """
        assert self.limiter is not None
        limiter = self.limiter
        if request is not None and limiter.available_tokens > 0:
            # A free slot: taken at once, without the task group that watches a waiting client
            # (0.3 of the 1.0 CPU ms the app itself spends on an /ask, measured in-process).
            try:
                limiter.acquire_on_behalf_of_nowait(borrower)
            except anyio.WouldBlock:
                pass
            else:
                if await request.is_disconnected():
                    limiter.release_on_behalf_of(borrower)
                    return False
                return True
        got = gone = False
        self.waiting += 1
        try:
            if request is None:
                await limiter.acquire_on_behalf_of(borrower)
                got = True
                return True

            async def acquire() -> None:
                nonlocal got
                await limiter.acquire_on_behalf_of(borrower)
                got = True
                self.waiting -= 1
                tg.cancel_scope.cancel()

            async def watch() -> None:
                nonlocal gone
                while (await request.receive())["type"] != "http.disconnect":
                    pass
                gone = True
                tg.cancel_scope.cancel()

            async with anyio.create_task_group() as tg:
                tg.start_soon(acquire)
                tg.start_soon(watch)
        finally:
            if not got or request is None:
                self.waiting -= 1
        if not got:
            return False
        if gone or await request.is_disconnected():
            limiter.release_on_behalf_of(borrower)
            return False
        return True
