"""The server's answer thread: every question waiting for it is taken up to its text, sent to the
model with the others waiting (one forward pass), and answered, all in this one thread.

The server used to give each question a worker thread of its own (DOCQA_WORKERS_THREADS), which
handed its text to the model's thread and waited there for the vector. Nine threads taking turns
at the GIL cost more CPU than the ranking itself, and since each question reached the model on
its own schedule, the forward passes were small (2-3 questions at 8 clients; one question alone
costs 2.9x the CPU of each of eight together). Here the questions that arrive while a batch is
answered go to the model together, the model embeds them (in its own thread, without the GIL)
while this thread ranks and answers the batch before, and each answer goes back to the event
loop as soon as it is made.

A call is answered here when it is a method with a `<name>_steps` twin (`Searcher.ask`,
`Searcher.search`, see `docqa.index.search.searcher.run_steps`); anything else runs in a worker thread
as before.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Generator
from typing import Any

log = logging.getLogger("docqa.service")


def steps_of(fn: Callable[..., Any], args: tuple, kwargs: dict) -> tuple[Any, Generator] | None:
    """`(owner, steps)` for a method that has a steps twin (`searcher.ask` -> `searcher.ask_steps`),
    else None."""
    owner, name = getattr(fn, "__self__", None), getattr(fn, "__name__", None)
    twin = getattr(owner, f"{name}_steps", None) if owner is not None and name else None
    if twin is None or getattr(owner, name, None) != fn:
        return None
    return owner, twin(*args, **kwargs)


class _Job:
    __slots__ = ("owner", "steps", "future", "loop")

    def __init__(self, owner: Any, steps: Generator, future: asyncio.Future, loop: asyncio.AbstractEventLoop):
        self.owner, self.steps, self.future, self.loop = owner, steps, future, loop


def _settle(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.done():  # the request was cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _post(job: _Job, result: Any, error: BaseException | None) -> None:
    """Hand a job's outcome to its event loop (nothing when that loop has closed: a server
    shutting down, nobody waiting)."""
    try:
        job.loop.call_soon_threadsafe(_settle, job.future, result, error)
    except RuntimeError:
        pass


class AnswerThread:
    """One thread answering questions in batches; started on first use, ends with the process.

    Its queue holds new questions and forward passes done. New ones are taken up to their text
    and sent to the model without waiting (`Embedder.encode_queries_then`), so the model embeds
    them while this thread ranks and answers the batch whose vectors came back before."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Job | _Embedded] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    async def run(self, owner: Any, steps: Generator) -> Any:
        """The result of a question's steps (their return value, or what they raised)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._ensure_thread()
        self._queue.put(_Job(owner, steps, future, loop))
        return await future

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="docqa-answers", daemon=True)
                    self._thread.start()

    def _loop(self) -> None:
        while True:
            items = [self._queue.get()]
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._embed([i for i in items if isinstance(i, _Job)])
                for done in items:
                    if isinstance(done, _Embedded):
                        self._finish(done)
            except BaseException:  # noqa: BLE001 - a bug here must not leave callers waiting forever
                log.exception("the answer thread failed on a batch")
                for item in items:
                    for job in item.jobs if isinstance(item, _Embedded) else [item]:
                        _post(job, None, RuntimeError("the answer thread failed"))

    def _embed(self, jobs: list[_Job]) -> None:
        """Each new job up to its question text; the texts to the model, one group per model."""
        groups: dict[int, tuple[Any, list[_Job], list[str]]] = {}
        for job in jobs:
            try:
                text = next(job.steps)
            except BaseException as exc:  # noqa: BLE001 - the request's own error (a bad question, ...)
                _end(job, exc)
                continue
            embedder = job.owner.embedder
            group = groups.setdefault(id(embedder), (embedder, [], []))
            group[1].append(job)
            group[2].append(text)
        for embedder, waiting, texts in groups.values():
            done = _Embedded(waiting)

            def then(vectors, error, done=done) -> None:
                done.vectors, done.error = vectors, error
                self._queue.put(done)

            if hasattr(embedder, "encode_queries_then"):
                embedder.encode_queries_then(texts, then)
            else:  # a model without a thread of its own: embedded here
                try:
                    then(embedder.encode_queries(texts), None)
                except BaseException as exc:  # noqa: BLE001 - every question of the group gets it
                    then(None, exc)

    @staticmethod
    def _finish(done: "_Embedded") -> None:
        """Each job of a forward pass done, from its vector to its end."""
        if done.error is not None:
            for job in done.jobs:
                _post(job, None, done.error)
            return
        for job, vector in zip(done.jobs, done.vectors):
            try:
                job.steps.send(vector)
            except BaseException as exc:  # noqa: BLE001 - StopIteration carries the result
                _end(job, exc)
                continue
            _post(job, None, RuntimeError("a question's steps embed one text"))


class _Embedded:
    """A group of jobs whose forward pass is done: their vectors, or the error."""

    __slots__ = ("jobs", "vectors", "error")

    def __init__(self, jobs: list[_Job]):
        self.jobs, self.vectors, self.error = jobs, None, None


def _end(job: _Job, exc: BaseException) -> None:
    if isinstance(exc, StopIteration):
        _post(job, exc.value, None)
    else:
        _post(job, None, exc)
