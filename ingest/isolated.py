"""Reading files in a child process with a memory and a time budget, so a hostile file costs a
bounded amount and a failed read gives its memory back.

The child is a fresh interpreter (`python -m docqa.ingest.isolated`, started by exec, never a
fork of a process holding model threads) that imports only the readers (no torch), caps its own
address space with `RLIMIT_AS`, and sends its result back through a pipe. The parent polls: past
`seconds`, or when `should_stop()` turns true, it kills the child. A `DocqaError` raised in the
child crosses back unchanged; running out of memory (a `MemoryError`, or the child killed) or
time becomes a one-line `TooLargeError` naming the file being read.

Budgets (settings, env vars):
- DOCQA_READ_MEMORY_BYTES, default 2 GiB of address space. RLIMIT_AS counts virtual memory: the
  child's interpreter with lxml, pypdfium2 and numpy maps about 0.4 GB before reading; reading
  the bundled book peaks at about 0.5 GB of it (benchmarks/bombs.py prints both), and the
  readers' own caps (`formats.limits`) keep real books far below 2 GiB.
- DOCQA_READ_SECONDS, default 300: a long book reads in well under a minute here.
"""
from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from docqa.errors import DocqaError
from docqa.ingest.model import Corpus, Document, TooLargeError

DEFAULT_READ_MEMORY_BYTES = 2 * 1024 ** 3
DEFAULT_READ_SECONDS = 300.0
MEMORY_SETTING = "DOCQA_READ_MEMORY_BYTES"
SECONDS_SETTING = "DOCQA_READ_SECONDS"
_POLL = 0.05
_HEADER = struct.Struct("!Q")
_QUIET_THREADS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}


class ReadCancelled(DocqaError):
    """The caller asked the read to stop (`should_stop()` turned true); nothing was read."""

    status_code = 409


def read_memory_bytes() -> int:
    return _setting(MEMORY_SETTING, DEFAULT_READ_MEMORY_BYTES, int)


def read_seconds() -> float:
    return _setting(SECONDS_SETTING, DEFAULT_READ_SECONDS, float)


def _setting(name: str, default, kind):
    raw = os.environ.get(name, "").strip().replace("_", "")
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = 0
    if value <= 0:
        from docqa.errors import InputError
        raise InputError(f"{name}={os.environ[name]!r} is not a positive number", hint=f"set it like {default} or unset it")
    return value


def load_corpus_isolated(paths: Sequence[str | Path], *, memory_bytes: int | None = None, seconds: float | None = None,
                         should_stop: Callable[[], bool] | None = None,
                         on_file: Callable[[str], None] | None = None, **load_corpus_kwargs: Any) -> Corpus:
    """`docqa.ingest.pipeline.load_corpus(paths, **load_corpus_kwargs)` run in a child process
    limited to `memory_bytes` of address space and `seconds` of wall-clock time (defaults: the
    settings above). `should_stop()` is polled every 50 ms; when true the child is killed and
    `ReadCancelled` raised. `on_file(source)` is called in this process as each file starts."""
    return _run("load_corpus", [str(p) for p in paths], load_corpus_kwargs, memory_bytes, seconds, should_stop, on_file)


def read_documents_isolated(paths: Sequence[str | Path], *, memory_bytes: int | None = None,
                            seconds: float | None = None, should_stop: Callable[[], bool] | None = None,
                            on_file: Callable[[str], None] | None = None, **kwargs: Any) -> list[Document]:
    """`docqa.ingest.read.read_documents` in a child process, with the budgets of `load_corpus_isolated`."""
    return _run("read_documents", [str(p) for p in paths], kwargs, memory_bytes, seconds, should_stop, on_file)


def _run(func: str, paths: list[str], kwargs: dict, memory_bytes, seconds, should_stop, on_file):
    memory_bytes = read_memory_bytes() if memory_bytes is None else int(memory_bytes)
    seconds = read_seconds() if seconds is None else float(seconds)
    if should_stop is not None and should_stop():
        raise ReadCancelled("reading was cancelled before it started")
    request = pickle.dumps((func, paths, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
    rfd, wfd = os.pipe()
    env = {**os.environ, **_QUIET_THREADS}
    try:
        child = subprocess.Popen([sys.executable, "-m", "docqa.ingest.isolated", str(wfd), str(memory_bytes),
                                  str(os.getpid())],
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, pass_fds=(wfd,), env=env,
                                 close_fds=True)
    finally:
        os.close(wfd)
    current = Path(paths[0]).name if len(paths) == 1 else "the files"  # as named once the child says
    try:
        child.stdin.write(request)
        child.stdin.close()
    except BrokenPipeError:
        pass
    deadline = time.monotonic() + seconds
    buf = bytearray()
    result = None
    try:
        with os.fdopen(rfd, "rb", buffering=0) as pipe:
            while result is None:
                ready, _, _ = select.select([pipe], [], [], _POLL)
                if ready:
                    chunk = pipe.read(1 << 20)
                    if not chunk:
                        break  # the child is gone
                    buf += chunk
                    while len(buf) >= _HEADER.size and len(buf) >= _HEADER.size + _HEADER.unpack_from(buf)[0]:
                        n = _HEADER.unpack_from(buf)[0]
                        kind, payload = pickle.loads(bytes(buf[_HEADER.size:_HEADER.size + n]))
                        del buf[:_HEADER.size + n]
                        if kind == "file":
                            current = payload
                            if on_file is not None:
                                on_file(payload)
                        else:
                            result = (kind, payload)
                            break
                    continue
                if should_stop is not None and should_stop():
                    _kill(child)
                    raise ReadCancelled(f"{current}: reading was cancelled; nothing was added")
                if time.monotonic() > deadline:
                    _kill(child)
                    raise TooLargeError(f"{current}: reading took longer than {seconds:g} s, the limit for reading "
                                        "(a damaged file or a bomb); docqa stopped it",
                                        hint=f"split the file, or raise the limit: set {SECONDS_SETTING}")
    finally:
        if child.poll() is None and result is None:
            _kill(child)
    child.wait()
    if result is None:
        raise _died(current, child.returncode, memory_bytes)
    kind, payload = result
    if kind == "ok":
        return payload
    if kind == "error":
        raise payload
    if kind == "memory":
        raise _out_of_memory(payload or current, memory_bytes)
    raise RuntimeError(f"reading {current} failed in the reader process:\n{payload}")


def _kill(child: subprocess.Popen) -> None:
    try:
        child.kill()
    except ProcessLookupError:
        pass
    child.wait()


def _out_of_memory(source: str, memory_bytes: int) -> TooLargeError:
    return TooLargeError(f"{source}: reading needed more than {memory_bytes // 2 ** 20:,} MB of memory, the limit "
                         "for reading (a damaged file or a bomb); docqa stopped it",
                         hint=f"split the file, or raise the limit: set {MEMORY_SETTING}")


def _died(source: str, code: int | None, memory_bytes: int) -> DocqaError:
    how = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 and -code in signal.valid_signals() \
        else f"exit status {code}"
    return TooLargeError(f"{source}: the reader stopped ({how}): the file needed more than its "
                         f"{memory_bytes // 2 ** 20:,} MB of memory or crashed the reader (a damaged file or a bomb)",
                         hint=f"re-export the file; if it is a real book, raise {MEMORY_SETTING}")


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this reader when its parent dies (PR_SET_PDEATHSIG), so a server
    killed with SIGKILL mid-read does not leave its reader holding memory for the rest of the read;
    exit at once if the parent is already gone. Elsewhere (no prctl) the reader ends at its
    first write to the closed pipe."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, signal.SIGKILL, 0, 0, 0) != 0:  # 1 = PR_SET_PDEATHSIG
            return
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(70)


def _child(fd: int, memory_bytes: int, parent: int | None = None) -> None:
    """The child's side: cap the address space, read, send frames ("file", source)... then one result."""
    import resource
    import traceback

    if parent is not None:
        _die_with_parent(parent)
    out = os.fdopen(fd, "wb", buffering=0)

    def send(kind: str, payload: Any) -> None:
        data = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
        out.write(_HEADER.pack(len(data)) + data)

    func, paths, kwargs = pickle.loads(sys.stdin.buffer.read())
    _, hard = resource.getrlimit(resource.RLIMIT_AS)  # a tighter cap from the caller's own limits stays
    cap = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    state = {"file": None}

    def on_file(source: str) -> None:
        state["file"] = source
        send("file", source)

    try:
        if func == "load_corpus":
            from docqa.ingest.pipeline import load_corpus
            value = load_corpus([Path(p) for p in paths], on_file=on_file, **kwargs)
        else:
            from docqa.ingest.read import read_documents
            value = read_documents([Path(p) for p in paths], on_file=on_file, **kwargs)
        send("ok", value)
    except MemoryError:
        send("memory", state["file"])
    except DocqaError as e:
        send("error", e)
    except BaseException:  # noqa: BLE001
        # A C library out of address space fails in its own words (libxml2: XMLSyntaxError
        # "unknown error"); near the cap that is memory, anything else is a bug with its traceback.
        if _peak_address_space() >= 0.85 * memory_bytes:
            send("memory", state["file"])
        else:
            send("bug", traceback.format_exc())
    out.close()


def _peak_address_space() -> int:
    """This process's peak virtual memory (VmPeak), in bytes; 0 where /proc does not say."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


if __name__ == "__main__":
    try:
        _child(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None)
    except BaseException:  # noqa: BLE001 - e.g. out of memory while sending: the parent reports it in one line
        os._exit(70)
