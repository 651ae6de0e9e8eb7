"""A library change (add, remove) run in a child process, so the serving process stays light.

Adding embeds: it loads the passage encoder (torch or OpenVINO, several hundred MB) and the
index's vectors and sentence tables. Done in the server, all of that stayed in its memory after
the change (about 1 GB after one upload, issue 25). Here the change runs in a spawned child
(`multiprocessing` "spawn": a fork of a process holding model threads is unsafe) that loads its
own model, writes the new index aside and swaps it in as `docqa add` does, under the index's
lock (one writer) and with the same ownership checks; the server then opens the new index with
the question encoder it already holds.

The child reports back through a pipe: its stage messages and embedding progress (so the job's
progress shows on the page), then its result or its error. A stop (cancel, time budget, server
shutdown) is a message on a second pipe that the child's `should_stop` polls, so it stops at its
next check, before the index is touched (a pipe, not a `multiprocessing.Event`: an Event is five
named POSIX semaphores that Python's resource_tracker reported as "leaked" when the server
stopped during a change; a pipe also reads as stopped once the server is gone); a child that
does not stop within STOP_GRACE_SECONDS is killed, which the index survives as it survives a killed `docqa add` (the swap is atomic; the half-written folder
is swept at the next change). The child dies with the server: it asks Linux for SIGKILL when
the thread that started it ends (PR_SET_PDEATHSIG; the library's worker thread lives as long as
the server) and exits at once if the server is already gone.
"""
from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from docqa.errors import DocqaError

log = logging.getLogger("docqa.service")

STOP_GRACE_SECONDS = 20.0
"""How long a stopped child may take to reach its next check (one embedding batch of 16 texts
takes well under a second on 2 AVX2 cores) before it is killed."""
POLL_SECONDS = 0.2


class ChangeProcessDied(DocqaError):
    """The child running a change ended without a result (killed, out of memory)."""

    status_code = 500


def run_change(kind: str, index_dir: Path, *, options: dict[str, Any], say: Callable[[str], None],
               progress: Callable[[int, int], None], should_stop: Callable[[], bool]) -> dict[str, Any]:
    """Run `add` (options: paths, model, cache_dir, precision, max_file_bytes) or `remove`
    (options: doc_ids) on `index_dir` in a child process; returns the change as a dict
    (`LibraryChange` fields). The child's DocqaError is raised here as the same class;
    a stop raises `ChangeStopped`."""
    import multiprocessing as mp

    from docqa.index.store.shelf import ChangeStopped

    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    stop_receive, stop = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(send, stop_receive, kind, str(index_dir), options, os.getpid()),
                        name=f"docqa-{kind}", daemon=True)
    child.start()
    send.close()
    stop_receive.close()
    stopped_at: float | None = None
    try:
        while True:
            if stopped_at is None and should_stop():
                _send_stop(stop)
                stopped_at = time.monotonic()
            if stopped_at is not None and time.monotonic() - stopped_at > STOP_GRACE_SECONDS and child.is_alive():
                log.warning("the %s child did not stop within %g s; killing it", kind, STOP_GRACE_SECONDS)
                child.kill()
            try:
                ready = receive.poll(POLL_SECONDS)
                message = receive.recv() if ready else None
            except (EOFError, OSError):
                message = ("died",)
            if message is None:
                if not child.is_alive() and not receive.poll(0):
                    message = ("died",)
                else:
                    continue
            what = message[0]
            if what == "say":
                say(message[1])
            elif what == "progress":
                progress(message[1], message[2])
            elif what == "done":
                return message[1]
            elif what == "stopped":
                raise ChangeStopped(message[1])
            elif what == "error":
                raise _rebuild(*message[1:])
            elif what == "bug":
                log.error("the %s child failed:\n%s", kind, message[2])
                raise RuntimeError(f"the {kind} child failed: {message[1]}")
            else:  # died
                child.join(timeout=5)
                if stopped_at is not None:
                    raise ChangeStopped("the change was stopped; the index is unchanged")
                if child.exitcode is not None and -child.exitcode in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    # Stopped from outside (a service manager stopping the process group, a user's
                    # kill), not out of memory: the kernel's OOM killer sends SIGKILL.
                    raise ChangeStopped(f"the process running the {kind} was stopped by "
                                        f"{signal.Signals(-child.exitcode).name}; the index is unchanged")
                raise ChangeProcessDied(f"the process running the {kind} ended without a result "
                                        f"(exit code {child.exitcode}); the index is unchanged",
                                        hint="see the server log; a change that needs more memory than the "
                                             "machine has fails this way")
    finally:
        receive.close()
        if child.is_alive():
            _send_stop(stop)
        stop.close()
        if child.is_alive():
            child.join(timeout=STOP_GRACE_SECONDS if stopped_at is None else 1)
            if child.is_alive():
                child.kill()
                child.join(timeout=5)


def _send_stop(stop) -> None:
    try:
        stop.send(True)
    except OSError:  # the child has already gone
        pass


def _rebuild(module: str, name: str, message: str, hint: str | None) -> DocqaError:
    """The child's error as the same DocqaError class, built without its own __init__ (some take
    other arguments)."""
    try:
        cls = getattr(importlib.import_module(module), name)
        if not (isinstance(cls, type) and issubclass(cls, DocqaError)):
            raise TypeError(name)
    except Exception:  # noqa: BLE001 - an unknown class: the message still reaches the job
        cls = DocqaError
    exc = cls.__new__(cls)
    DocqaError.__init__(exc, message, hint=hint)
    return exc


def die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when the thread that started it ends; exit now when the
    parent is already gone. Elsewhere a no-op (the server's shutdown stops its children)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(1)


def _child(conn, stop, kind: str, index_dir: str, options: dict[str, Any], parent: int) -> None:
    die_with_parent(parent)
    from docqa.ingest.isolated import ReadCancelled

    def say(message: str) -> None:
        conn.send(("say", message))

    def progress(done: int, total: int) -> None:
        conn.send(("progress", done, total))

    try:
        change = _run(kind, Path(index_dir), options, say, progress, stop.poll)
    except ReadCancelled as exc:
        conn.send(("stopped", str(exc)))
    except DocqaError as exc:
        conn.send(("error", type(exc).__module__, type(exc).__qualname__, exc.message, exc.hint))
    except BaseException as exc:  # noqa: BLE001 - a bug: its traceback goes to the server's log
        import traceback

        conn.send(("bug", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    else:
        from dataclasses import asdict

        conn.send(("done", asdict(change)))
    finally:
        conn.close()


def _run(kind: str, index_dir: Path, options: dict[str, Any], say, progress, should_stop):
    from docqa.index.store.shelf import add_documents, remove_documents

    if kind == "remove":
        return remove_documents(index_dir, options["doc_ids"], say=say, should_stop=should_stop)
    from docqa.index.embedding.embedder import load_embedder
    from docqa.index.store.directory import owned_state

    cache_dir, precision = Path(options["cache_dir"]), options["precision"]
    new = owned_state(index_dir) in ("missing", "empty")
    return add_documents(index_dir, [Path(p) for p in options["paths"]],
                         load_embedder=lambda name: load_embedder(name, cache_dir, precision=precision),
                         model_name=options["model"] if new else None, max_file_bytes=options["max_file_bytes"],
                         say=say, progress=progress, should_stop=should_stop)
