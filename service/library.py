"""The served library: changes run one at a time in a background thread, then the searcher is swapped.

Readers never wait for a change and never see a half-made index: a change writes a new index
aside (`docqa.index.library`), a new searcher is opened on it with the model already loaded,
and only then does `ServiceState.searcher` point at it. A request that took the old searcher
finishes with it; its passages, vectors and keyword index are in memory, so a removed book
stays answerable to that request. Uploads are saved under a safe name in a temporary folder
and deleted once their change ends.
"""
from __future__ import annotations

import hashlib
import logging
import queue
import re
import shutil
import tempfile
import threading
import time
import unicodedata
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docqa.errors import DocqaError, IndexStateError, NotFoundError
from docqa.service.settings import Settings
from docqa.service.state import ServiceState

log = logging.getLogger("docqa.service")

MAX_JOBS_KEPT = 200
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


class ReadOnlyLibrary(IndexStateError):
    """This server's index is docqa's own cache index, which a change must not touch."""

    status_code = 409


MAX_NAME_BYTES = 200
"""An uploaded file's saved name, in UTF-8 bytes: file systems allow 255 bytes (not characters;
a CJK character is 3), and the rest is room for what a tool may add (`.tmp`, `-2`)."""


def safe_filename(name: str | None) -> str:
    """An uploaded file's name reduced to one harmless path component: no folders (either slash),
    no `..`, no control, reserved or format characters (bidi controls such as U+202E and
    zero-width ones, which would reach citations), no leading dot, at most MAX_NAME_BYTES in UTF-8
    with the extension kept. The name matters: it becomes the document's source and id."""
    name = unicodedata.normalize("NFC", name or "")
    name = "".join(c for c in name if unicodedata.category(c) != "Cf")
    name = re.split(r"[/\\]", name)[-1]
    name = _UNSAFE.sub("_", name).strip().lstrip(".").strip()
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = _cut(suffix, 16)
    stem = _cut(stem.strip(" ._"), MAX_NAME_BYTES - len(suffix.encode()) - 1).strip(" ._") or "upload"
    return f"{stem}.{suffix}" if suffix else stem


def _cut(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` of UTF-8, on a character boundary."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


@dataclass
class Job:
    """One library change as GET /documents/jobs/{id} reports it."""

    job_id: str
    kind: str
    target: str
    status: str = "queued"  # queued, running, done, failed
    stage: str = "waiting for earlier changes"
    progress: float = 0.0
    error: str | None = None
    created_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    finished_at: str | None = None
    result: dict[str, Any] | None = None


_STAGES = (("reading", 0.05), ("embedding", 0.15), ("tokenizing", 0.75), ("added", 0.9), ("removed", 0.9))


class Library:
    """Changes to the served index, one at a time in a worker thread, each ending in a searcher swap."""

    def __init__(self, state: ServiceState):
        self.state = state
        self.settings: Settings = state.settings
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self._queue: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    def writable_reason(self) -> str | None:
        """Why this server cannot change its index, or None when it can."""
        from docqa.api import check_own_library

        from docqa.index.store import DirectoryStore

        if self.settings.store is not None:
            return (f"this server serves the Milvus store {self.settings.store}; adding and removing books works on "
                    "an index directory (serve one with --index DIR), then `docqa migrate` it to the store")
        if self.settings.index is None:
            return ("this server serves docqa's own cache index of the bundled book, which is never changed; "
                    "start it with --index DIR (DOCQA_INDEX) to serve a library of your own")
        store = getattr(self.state.searcher, "store", None)
        if store is not None and not isinstance(store, DirectoryStore):
            return (f"this server's index is a {type(store).__name__}; adding and removing books works on an "
                    "index directory (serve one with --index DIR)")
        try:
            check_own_library(self.settings.index, self.settings.cache_dir)
        except DocqaError as exc:
            return str(exc)
        return None

    def require_writable(self) -> Path:
        reason = self.writable_reason()
        if reason is not None:
            raise ReadOnlyLibrary(reason)
        assert self.settings.index is not None
        return self.settings.index

    def job(self, job_id: str) -> Job:
        try:
            return self.jobs[job_id]
        except KeyError:
            raise NotFoundError(f"no job {job_id!r}", hint="job ids come from POST /documents; "
                                                           f"the last {MAX_JOBS_KEPT} are kept") from None

    # -- changes ----------------------------------------------------------------------------

    def add(self, upload: Path, name: str) -> Job:
        """Queue adding the uploaded file (already saved as `upload`); the folder holding it is
        deleted when the change ends."""
        index_dir = self.require_writable()
        job = self._new_job("add", name)

        def run() -> dict[str, Any]:
            from docqa.index.library import add_documents

            try:
                change = add_documents(index_dir, [upload], embedder=self.state.embedder(),
                                       max_file_bytes=self.settings.max_file_bytes, say=self._reporter(job),
                                       progress=self._embedding_reporter(job))
                if change.changed:
                    self._swap(job)
                return _change_dict(change)
            finally:
                shutil.rmtree(upload.parent, ignore_errors=True)

        self._submit(job, run)
        return job

    def remove(self, doc_id: str) -> tuple[Job, Future]:
        """Queue removing a document; the future resolves when the new index is served."""
        index_dir = self.require_writable()
        job = self._new_job("remove", doc_id)

        def run() -> dict[str, Any]:
            from docqa.index.library import remove_documents

            change = remove_documents(index_dir, [doc_id], say=self._reporter(job))
            self._swap(job)
            return _change_dict(change)

        return job, self._submit(job, run)

    def _swap(self, job: Job) -> None:
        job.stage, job.progress = "opening the new index", 0.95
        self.state.swap()

    def _reporter(self, job: Job) -> Callable[[str], None]:
        def say(message: str) -> None:
            job.stage = message
            for word, share in _STAGES:
                if message.startswith(word):
                    job.progress = max(job.progress, share)
            log.info("library job %s: %s", job.job_id, message)
        return say

    @staticmethod
    def _embedding_reporter(job: Job) -> Callable[[int, int], None]:
        """The embedding's own progress as its batches are done, between its stage's share and the next's."""
        start, end = (dict(_STAGES)[k] for k in ("embedding", "tokenizing"))

        def report(done: int, total: int) -> None:
            job.stage = f"embedding: {done} of {total} texts"
            job.progress = max(job.progress, start + (end - start) * done / max(total, 1))
        return report

    def _new_job(self, kind: str, target: str) -> Job:
        job = Job(job_id=uuid.uuid4().hex[:16], kind=kind, target=target)
        with self._lock:
            self.jobs[job.job_id] = job
            while len(self.jobs) > MAX_JOBS_KEPT:
                oldest = next(iter(self.jobs))
                if self.jobs[oldest].status in ("queued", "running"):
                    break
                self.jobs.pop(oldest)
        return job

    def _submit(self, job: Job, run: Callable[[], dict[str, Any]]) -> Future:
        future: Future = Future()
        self._queue.put((job, run, future))
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="docqa-library", daemon=True)
                self._worker.start()
        return future

    def _work(self) -> None:
        while True:
            job, run, future = self._queue.get()
            job.status, job.stage = "running", "starting"
            try:
                job.result = run()
            except DocqaError as exc:
                job.status, job.error = "failed", " ".join(str(exc).split())
                future.set_exception(exc)
            except BaseException as exc:  # noqa: BLE001 - a bug: logged, reported, the worker lives on
                log.exception("library job %s failed", job.job_id)
                job.status, job.error = "failed", f"internal error ({type(exc).__name__}); the server log has details"
                future.set_exception(exc)
            else:
                job.status, job.stage, job.progress = "done", "done", 1.0
                future.set_result(job.result)
            finally:
                job.finished_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _change_dict(change) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(change)


def save_upload(src, name: str, limit: int) -> tuple[Path, str]:
    """Copy an uploaded file object to a new private folder under its safe name; returns the
    path and the file's sha256. Over `limit` bytes is refused (and nothing is kept)."""
    from docqa.ingest.read import _too_big

    folder = Path(tempfile.mkdtemp(prefix="docqa-upload-"))
    path = folder / name
    h = hashlib.sha256()
    size = 0
    try:
        with open(path, "wb") as out:
            for block in iter(lambda: src.read(1 << 20), b""):
                size += len(block)
                if size > limit:
                    raise _too_big(name, size, limit)
                h.update(block)
                out.write(block)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return path, h.hexdigest()
