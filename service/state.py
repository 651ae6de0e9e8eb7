"""What every request shares: the searcher (or why there is none yet) and the bounded queue in
front of the model.

The model answers `workers_threads` questions at once in worker threads (their question
vectors come from forward passes they share, see `docqa.index.embed._QueryBatcher`); up to
`max_queue` more wait for a turn. Past that the server says 503 with Retry-After at once, instead of
letting a backlog grow that no client will wait for. A question whose client hangs up while
it waits is dropped before it reaches the model.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request

from docqa.errors import BusyError, DocqaError, IndexStateError
from docqa.service.settings import Settings

if TYPE_CHECKING:
    from docqa.index.search import Searcher

log = logging.getLogger("docqa.service")
T = TypeVar("T")
STORE_RETRY_SECONDS = 5.0


class Loading(BusyError):
    """The index is still being opened or built."""

    retry_after = 5


class QueueFull(BusyError):
    """More questions are waiting than DOCQA_MAX_QUEUE allows."""

    retry_after = 1


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
        self._opener: Callable[[Settings], "Searcher"] | None = None
        self._failure: DocqaError | None = None
        self._lock = threading.Lock()
        self._reopening = False
        self._next_reopen = 0.0

    def use_opener(self, open_searcher: Callable[[Settings], "Searcher"]) -> None:
        """How to open the searcher again when its store fails under it (see `store_failed`)."""
        self._opener = self._opener or open_searcher

    def load(self, open_searcher: Callable[[Settings], "Searcher"]) -> None:
        """Open the searcher; on failure a searcher already open stays in service."""
        self._opener = open_searcher
        self.loading_since = time.monotonic()
        try:
            self.searcher = open_searcher(self.settings)
            self.error = self._failure = None
        except DocqaError as exc:  # the user's to fix: one line, no traceback
            log.error("cannot serve: %s", exc)
            self.error, self._failure = f"{type(exc).__name__}: {exc}", exc
            self._next_reopen = time.monotonic() + STORE_RETRY_SECONDS
        except Exception as exc:  # a bug: reported by /readyz, with its traceback in the log
            log.exception("loading the index failed")
            self.error = f"{type(exc).__name__}: {exc}"

    def store_failed(self, exc: BaseException) -> None:
        """The store was unavailable, at start or under a request. Milvus may be down, or a
        rebuild may have moved the store to a new generation and dropped the one this searcher
        reads; either way it is opened afresh in the background (at most every
        STORE_RETRY_SECONDS) and replaces the searcher once it opens, so the server recovers and
        follows rebuilds without a restart. Other failures are not retried."""
        from docqa.index.milvus_store import StoreUnavailable

        if not isinstance(exc, StoreUnavailable) or self._opener is None:
            return
        with self._lock:
            now = time.monotonic()
            if self._reopening or now < self._next_reopen:
                return
            self._reopening, self._next_reopen = True, now + STORE_RETRY_SECONDS
        threading.Thread(target=self._reload, args=(self._opener,), name="docqa-reload", daemon=True).start()

    def _reload(self, open_searcher: Callable[[Settings], "Searcher"]) -> None:
        try:
            self.load(open_searcher)
        finally:
            self._reopening = False

    def require(self) -> "Searcher":
        if self.searcher is not None:
            return self.searcher
        if self.error is not None:
            if self._failure is not None:
                self.store_failed(self._failure)
            raise IndexStateError(f"the index could not be loaded: {self.error}")
        waited = int(time.monotonic() - (self.loading_since or time.monotonic()))
        raise Loading(f"the index is still loading ({waited}s so far)", hint="retry shortly")

    async def run(self, request: Request | None, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn` in a worker thread once a worker is free, unless the queue is full or the client left."""
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
