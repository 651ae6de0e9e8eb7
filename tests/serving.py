"""Real servers for the tests: the app on a socket in a thread, `docqa serve` as a subprocess,
a small load generator and /proc memory readings.

The tests' own copy: tests never import `benchmarks/`, and the benchmark scripts keep theirs.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def live_server(app, config=None) -> Iterator[str]:
    """The app on a real socket (uvicorn in a thread), for the browser and real-HTTP tests.

    `config`, when given, is a function `(app, port) -> uvicorn.Config` (the service's own
    `server_config`, to test the deployed protocol settings)."""
    import uvicorn

    port = free_port()
    if config is None:
        cfg = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    else:
        cfg = config(app, port)
    server = uvicorn.Server(cfg)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, so uvicorn shuts down as a user's Ctrl-C would; SIGKILL only if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM / VmSize / Threads of a process, from /proc (Linux); sizes in kB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "VmSize", "Threads"):
            out[key] = int(value.split()[0])
    return out


@dataclass
class Server:
    proc: subprocess.Popen
    base_url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


@contextlib.contextmanager
def served(index_dir: Path, cache_dir: Path, *, log_path: Path, env: dict[str, str] | None = None,
           ready_timeout: float = 300) -> Iterator[Server]:
    """`python -m docqa.service.cli serve` on a free loopback port, ready (/readyz 200) when yielded.

    Output goes to a file: a pipe nobody reads would fill with access-log lines and stall the server.
    """
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DOCQA_")}
    full_env.update({"DOCQA_CACHE_DIR": str(cache_dir)})
    full_env.update(env or {})
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "docqa.service.cli", "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--index", str(index_dir)],
                            cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(proc, f"http://127.0.0.1:{port}", Path(log_path))
    try:
        deadline = time.monotonic() + ready_timeout
        with httpx.Client(trust_env=False, timeout=5) as client:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"docqa serve exited with {proc.returncode}:\n{server.log_tail()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"docqa serve not ready after {ready_timeout}s:\n{server.log_tail()}")
                try:
                    if client.get(f"{server.base_url}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        yield server
    finally:
        stop(proc)
        log.close()


@dataclass
class LoadResult:
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def run_load(base_url: str, questions: list[str], clients: int, *, requests: int | None = None,
             seconds: float | None = None, timeout: float = 120) -> LoadResult:
    """`clients` keep-alive connections posting /ask, each sending its next question when the
    last is answered, until `requests` were sent or `seconds` passed."""
    if requests is None and seconds is None:
        raise ValueError("bound the load by requests or seconds")
    result = LoadResult()
    issued = 0

    async def main() -> None:
        stop_at = time.perf_counter() + seconds if seconds is not None else None

        def next_question() -> str | None:
            nonlocal issued
            if (requests is not None and issued >= requests) or (stop_at and time.perf_counter() >= stop_at):
                return None
            issued += 1
            return questions[(issued - 1) % len(questions)]

        async def client_loop() -> None:
            limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
            async with httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=timeout, limits=limits) as c:
                while (q := next_question()) is not None:
                    try:
                        r = await c.post("/ask", json={"question": q, "k": 5})
                    except httpx.HTTPError as exc:
                        result.errors.append(f"{type(exc).__name__}: {exc}")
                        continue
                    result.statuses[r.status_code] = result.statuses.get(r.status_code, 0) + 1
                    if r.status_code != 200:
                        result.errors.append(f"HTTP {r.status_code}: {r.text[:200]}")

        await asyncio.gather(*(client_loop() for _ in range(clients)))

    t0 = time.perf_counter()
    asyncio.run(main())
    result.seconds = time.perf_counter() - t0
    return result
