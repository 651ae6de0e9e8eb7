"""The served library: changes run one at a time, each in a child process, then the searcher is swapped.

Readers never wait for a change and never see a half-made index: a change writes a new index
aside (`docqa.index.store.shelf`, in a child process so that its passage encoder and the index it
copies never stay in the server's memory, see `docqa.service.change_process`), a new searcher
is opened on it with the question encoder already loaded,
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

from docqa.errors import BusyError, DocqaError, IndexStateError, NotFoundError
from docqa.service.logs import change_line
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
    status: str = "queued"  # queued, running, done, failed, cancelled
    stage: str = "waiting for earlier changes"
    progress: float = 0.0
    error: str | None = None
    created_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    finished_at: str | None = None
    result: dict[str, Any] | None = None


_STAGES = (("reading", 0.05), ("embedding", 0.15), ("tokenizing", 0.75), ("added", 0.9), ("removed", 0.9))
FINISHED = ("done", "failed", "cancelled")


class LibraryBusy(BusyError):
    """More changes are waiting than DOCQA_MAX_WAITING_JOBS allows."""

    status_code = 429
    retry_after = 30


class WritesNeedKey(DocqaError):
    """A server reachable off the loopback without DOCQA_API_KEY: anyone could change its library."""

    status_code = 403


class JobFinished(DocqaError):
    """A cancel of a change that has already ended."""

    status_code = 409


@dataclass
class _Pending:
    job: Job
    run: Callable[[Callable[[], bool]], dict[str, Any]]
    future: Future
    stop: threading.Event = field(default_factory=threading.Event)
    why: str = ""
    upload: Path | None = None
    started: float | None = None


def is_loopback(host: str) -> bool:
    """Whether `host` (the address the server binds) is reachable only from this machine."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Library:
    """Changes to the served index, one at a time in a worker thread, each ending in a searcher swap.

    Every change has a wall-clock budget (DOCQA_JOB_SECONDS) and can be cancelled; both stop it at
    its next check (between stages, after every embedding batch; the reading itself where the
    reader supports it), before the index is touched. At most DOCQA_MAX_WAITING_JOBS wait; past
    that a change is refused with 429. Upload folders are docqa's own (a marker inside), removed
    when their change ends, when the server stops, and, for a server that was killed, at the next
    start.
    """

    def __init__(self, state: ServiceState):
        self.state = state
        self.settings: Settings = state.settings
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self._queue: queue.Queue = queue.Queue()
        self._pending: dict[str, _Pending] = {}
        self._uploads: set[Path] = set()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    # -- life ---------------------------------------------------------------------------------

    def start(self) -> None:
        """At server start: sweep upload folders left by killed servers and half-built index
        folders of docqa's own beside the served index; say, in one line, when writes are refused
        for want of a key."""
        swept = sweep_uploads()
        if swept:
            log.info("removed %d upload folder(s) left by a stopped server", swept)
        if self.settings.index is not None and self.settings.store is None:
            from docqa.index.store.directory import sweep

            sweep(Path(self.settings.index))
        reason = self.key_reason()
        if reason is not None:
            log.warning("%s", reason)

    def close(self) -> None:
        """At shutdown: stop the running change and drop the waiting ones, then remove every
        upload folder this server made (a change cut short leaves the index as it was)."""
        self._closed = True
        with self._lock:
            pending = list(self._pending.values())
        for p in pending:
            self._stop(p, "the server stopped")
        worker = self._worker
        if worker is not None and worker.is_alive():
            worker.join(timeout=3)
        with self._lock:
            uploads, self._uploads = set(self._uploads), set()
        for folder in uploads:
            shutil.rmtree(folder, ignore_errors=True)

    # -- who may write ------------------------------------------------------------------------

    def key_reason(self) -> str | None:
        """Why changes are refused for want of a key (a server reachable off the loopback
        without DOCQA_API_KEY), or None."""
        if self.settings.api_key or is_loopback(self.settings.host):
            return None
        return (f"adding and removing books is refused: this server listens on {self.settings.host}, beyond this "
                "machine, without DOCQA_API_KEY; set DOCQA_API_KEY (clients then send 'Authorization: Bearer KEY'), "
                "or serve on 127.0.0.1; questions are answered either way")

    def writable_reason(self) -> str | None:
        """Why this server cannot change its index, or None when it can."""
        from docqa.api import check_own_library

        from docqa.index.store.directory import DirectoryStore

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
        return self.key_reason()

    def require_key(self) -> None:
        """403 when a change would come from anyone (see `key_reason`)."""
        reason = self.key_reason()
        if reason is not None:
            raise WritesNeedKey(reason)

    def require_writable(self) -> Path:
        self.require_key()
        reason = self.writable_reason()
        if reason is not None:
            raise ReadOnlyLibrary(reason)
        self.check_room()
        assert self.settings.index is not None
        return self.settings.index

    def check_room(self) -> None:
        """429 when DOCQA_MAX_WAITING_JOBS changes already wait (checked before an upload is saved)."""
        waiting = sum(1 for p in list(self._pending.values()) if p.job.status == "queued")
        if waiting >= self.settings.max_waiting_jobs:
            raise LibraryBusy(f"{waiting} library changes are already waiting (DOCQA_MAX_WAITING_JOBS "
                              f"{self.settings.max_waiting_jobs})",
                              hint=f"retry in {LibraryBusy.retry_after} s, or follow the jobs at GET /documents/jobs/ID")

    def job(self, job_id: str) -> Job:
        try:
            return self.jobs[job_id]
        except KeyError:
            raise NotFoundError(f"no job {job_id!r}", hint="job ids come from POST and DELETE /documents; "
                                                           f"the last {MAX_JOBS_KEPT} are kept") from None

    def cancel(self, job_id: str) -> Job:
        """Cancel a waiting change (it never runs) or a running one (it stops at its next check,
        the index unchanged); 409 for one that has ended."""
        job = self.job(job_id)
        pending = self._pending.get(job_id)
        if pending is None or job.status in FINISHED:
            raise JobFinished(f"job {job_id} has already ended ({job.status})",
                              hint="only a queued or running change can be cancelled")
        self._stop(pending, "cancelled")
        return job

    def _stop(self, pending: _Pending, why: str) -> None:
        pending.why = pending.why or why
        pending.stop.set()
        job = pending.job
        if job.status == "queued":
            self._finish(pending, "cancelled", why)

    # -- uploads ------------------------------------------------------------------------------

    def save_upload(self, src, name: str, limit: int) -> tuple[Path, str]:
        """`save_upload` into a folder this server removes when it stops."""
        if self._closed:
            raise LibraryBusy("the server is stopping", hint="retry once it is back")
        folder = new_upload_folder()
        with self._lock:
            self._uploads.add(folder)
        try:
            return save_upload(src, name, limit, folder=folder)
        except BaseException:
            self.discard(folder)
            raise

    def discard(self, folder: Path) -> None:
        with self._lock:
            self._uploads.discard(folder)
        shutil.rmtree(folder, ignore_errors=True)

    # -- changes ----------------------------------------------------------------------------

    def add(self, upload: Path, name: str) -> Job:
        """Queue adding the uploaded file (already saved as `upload`); the folder holding it is
        deleted when the change ends."""
        index_dir = self.require_writable()
        job = self._new_job("add", name)

        def run(should_stop: Callable[[], bool]) -> dict[str, Any]:
            from docqa.service.change_process import run_change

            self._reporter(job)(f"reading {name}")
            change = run_change("add", index_dir, options=self._add_options([upload]), say=self._reporter(job),
                                progress=self._embedding_reporter(job), should_stop=should_stop)
            if change["added"] or change["removed"]:
                self._swap(job)
            return change

        self._submit(job, run, upload=upload.parent)
        return job

    def remove(self, doc_id: str) -> tuple[Job, Future]:
        """Queue removing a document; the future resolves when the new index is served."""
        index_dir = self.require_writable()
        job = self._new_job("remove", doc_id)

        def run(should_stop: Callable[[], bool]) -> dict[str, Any]:
            from docqa.service.change_process import run_change

            change = run_change("remove", index_dir, options={"doc_ids": [doc_id]}, say=self._reporter(job),
                                progress=lambda _done, _total: None, should_stop=should_stop)
            self._swap(job)
            return change

        return job, self._submit(job, run)

    def _add_options(self, paths: list[Path]) -> dict[str, Any]:
        """What the child process of an add needs to load the model as this server would."""
        return {"paths": [str(p) for p in paths], "model": self.settings.model, "cache_dir": str(self.settings.cache_dir),
                "precision": self.settings.build_precision, "max_file_bytes": self.settings.max_file_bytes}

    def _swap(self, job: Job) -> None:
        job.stage, job.progress = "opening the new index", 0.95
        self.state.swap()

    def _reporter(self, job: Job) -> Callable[[str], None]:
        def say(message: str) -> None:
            job.stage = message
            for word, share in _STAGES:
                if message.startswith(word):
                    job.progress = max(job.progress, share)
            log.debug("library job %s: %s", job.job_id, message)
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
                if self.jobs[oldest].status not in FINISHED:
                    break
                self.jobs.pop(oldest)
        return job

    def _submit(self, job: Job, run: Callable[[Callable[[], bool]], dict[str, Any]],
                upload: Path | None = None) -> Future:
        pending = _Pending(job, run, Future(), upload=upload)
        with self._lock:
            self._pending[job.job_id] = pending
        self._queue.put(pending)
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="docqa-library", daemon=True)
                self._worker.start()
        return pending.future

    def _work(self) -> None:
        while True:
            pending: _Pending = self._queue.get()
            job = pending.job
            if job.status in FINISHED or pending.stop.is_set():  # cancelled while it waited
                self._finish(pending, "cancelled", pending.why or "cancelled")
                continue
            job.status, job.stage = "running", "starting"
            pending.started = time.monotonic()
            budget = self.settings.job_seconds
            timer = threading.Timer(budget, self._stop, args=(pending, f"over its time budget of {budget:g} s "
                                                                         "(DOCQA_JOB_SECONDS)"))
            timer.daemon = True
            timer.start()
            try:
                result = pending.run(pending.stop.is_set)
            except BaseException as exc:  # noqa: BLE001 - reported on the job; a bug is logged, the worker lives on
                if pending.stop.is_set():
                    self._finish(pending, "cancelled", pending.why, exc)
                elif isinstance(exc, DocqaError):
                    self._finish(pending, "failed", " ".join(str(exc).split()), exc)
                else:
                    log.exception("library job %s failed", job.job_id)
                    self._finish(pending, "failed",
                                 f"internal error ({type(exc).__name__}); the server log has details", exc)
            else:
                job.result = result
                self._finish(pending, "done", None)
            finally:
                timer.cancel()

    def _finish(self, pending: _Pending, status: str, error: str | None, exc: BaseException | None = None) -> None:
        """End a change once: its status, its upload folder removed, its future resolved."""
        job = pending.job
        with self._lock:
            if self._pending.pop(job.job_id, None) is None:
                return
        if status == "cancelled":
            what = "stopped: " + (error or "cancelled") if error != "cancelled" else "cancelled"
            error = f"{what}; the index is unchanged"
            job.stage = "cancelled"
        elif status == "done":
            job.stage, job.progress = "done", 1.0
        job.status, job.error = status, error
        job.finished_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if pending.upload is not None:
            self.discard(pending.upload)
        if status == "done":
            pending.future.set_result(job.result)
        else:
            pending.future.set_exception(exc if exc is not None else JobFinished(error or status))
        if status == "done":
            seconds = time.monotonic() - pending.started if pending.started is not None else None
            log.info("%s", change_line(job.kind, job.target, job.result, seconds))
        else:
            log.info("library: %s %s %s: %s", job.kind, job.target, status, error)


UPLOAD_PREFIX = "docqa-upload-"
UPLOAD_MARKER = ".docqa-upload"
"""A file in each upload folder: its inode, this server's pid and that process's start time, so a
sweep at start removes only docqa's own folders of servers that are gone, never a live one's."""


def _process_started(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def new_upload_folder() -> Path:
    """A new private folder for one upload, marked as this server's."""
    import os

    folder = Path(tempfile.mkdtemp(prefix=UPLOAD_PREFIX))
    pid = os.getpid()
    (folder / UPLOAD_MARKER).write_text(f"{os.stat(folder).st_ino} {pid} {_process_started(pid)}", encoding="ascii")
    return folder


def sweep_uploads(root: Path | None = None) -> int:
    """Remove upload folders whose server is gone (killed before it could clean up); returns how
    many. A folder without docqa's marker, or whose server still runs, is left alone."""
    import os

    root = Path(root or tempfile.gettempdir())
    swept = 0
    for folder in root.glob(UPLOAD_PREFIX + "*"):
        try:
            if folder.is_symlink() or not folder.is_dir():
                continue
            inode, pid, started = (folder / UPLOAD_MARKER).read_text(encoding="ascii").split()
            if inode != str(os.stat(folder).st_ino):
                continue
            if pid == str(os.getpid()) or (_process_started(int(pid)) == started and started != "None"):
                continue
        except (OSError, ValueError):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        swept += 1
    return swept


def save_upload(src, name: str, limit: int, *, folder: Path | None = None) -> tuple[Path, str]:
    """Copy an uploaded file object to a new private folder (or `folder`) under its safe name;
    returns the path and the file's sha256. Over `limit` bytes is refused (and nothing is kept)."""
    from docqa.ingest.read import too_big_error

    folder = folder or new_upload_folder()
    path = folder / name
    h = hashlib.sha256()
    size = 0
    try:
        with open(path, "wb") as out:
            for block in iter(lambda: src.read(1 << 20), b""):
                size += len(block)
                if size > limit:
                    raise too_big_error(name, size, limit)
                h.update(block)
                out.write(block)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return path, h.hexdigest()
