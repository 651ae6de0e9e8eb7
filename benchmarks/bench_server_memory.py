"""The server stays light (issue 25): resident memory of `docqa serve` through a first build and
10 uploads, and its time to ready on a built index, printed beside the targets.

    python benchmarks/bench_server_memory.py ../shared/bench/cmrc2018_trial.json --chars 3000

The real server (`python -m docqa.service.cli serve`) on a new library folder (an empty shelf),
with the model already in the user cache. The books are CMRC 2018 trial contexts (real Chinese
text, CC BY-SA 4.0), 11 distinct books of about `--chars` characters each, uploaded over HTTP one
after another (each waits for its job). Measured from /proc, for the server's own process only
(the change's child is not the server): VmRSS at ready on the empty shelf, after the first
upload (the first build), after 10 more uploads, and VmHWM (its peak) over the whole run. Then
the server is stopped and started again on the built index: seconds from start to /readyz 200
(median of `--starts`), the server's CPU seconds by then (user + system, all threads: what the
start costs, whatever the machine's load), and VmRSS then.

    python benchmarks/bench_server_memory.py --built DIR [--compare PYTHONPATH]

times only the starts, on an index already built at DIR. `--compare` starts, alternately with
this checkout's, a server from another copy of docqa laid out as a package (`docqa/`,
`docqa/index/`, ...) on PYTHONPATH, e.g. the code before a change, so both are measured in the
same run at the same load. Each series begins with one untimed start, which writes the bytecode
(as an install does) and brings the files into the page cache.

Targets: RSS <= 400 MB after the first build and after 10 uploads; ready <= 3 s on a built index.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

RSS_TARGET_MB = 400
READY_TARGET_S = 3.0


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            flags = Path("/proc/cpuinfo").read_text()
            isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
            return f"{line.split(':', 1)[1].strip()} ({isa}, {os.cpu_count()} cores)"
    return platform.processor() or "unknown CPU"


def books(source: Path, out: Path, n: int, chars: int) -> list[Path]:
    data = json.loads(source.read_text(encoding="utf-8"))
    contexts = iter(p["context"] for a in data["data"] for p in a["paragraphs"])
    paths = []
    for i in range(n):
        body, total = [], 0
        for text in contexts:
            body.append(text)
            total += len(text)
            if total >= chars:
                break
        path = out / f"短文选{i + 1:02d}.txt"
        path.write_text(f"百科短文选 第{i + 1}册\n\n" + "\n\n".join(body) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def status_mb(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(index: Path, log: Path, timeout: float = 600,
          pythonpath: str | None = None) -> tuple[subprocess.Popen, str, float]:
    """`docqa serve --index INDEX` (from `pythonpath` when given); returns it, its URL and the
    seconds until /readyz answered 200."""
    port = free_port()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "docqa.service.cli", "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--index", str(index)],
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT, env=env,
                            cwd=log.parent)  # not a checkout, whose docqa/ would come first on sys.path
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(timeout=5) as client:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"docqa serve exited with {proc.returncode}; see {log}")
            if time.perf_counter() - t0 > timeout:
                proc.kill()
                raise SystemExit(f"docqa serve not ready after {timeout}s; see {log}")
            try:
                if client.get(f"{url}/readyz").status_code == 200:
                    return proc, url, time.perf_counter() - t0
            except httpx.TransportError:
                pass
            time.sleep(0.05)


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def upload(url: str, path: Path) -> float:
    t0 = time.perf_counter()
    with httpx.Client(timeout=60) as client:
        r = client.post(f"{url}/documents", files={"file": (path.name, path.read_bytes(), "text/plain")})
        r.raise_for_status()
        job_id = r.json()["job"]["job_id"]
        while True:
            job = client.get(f"{url}/documents/jobs/{job_id}").json()
            if job["status"] in ("done", "failed", "cancelled"):
                if job["status"] != "done":
                    raise SystemExit(f"upload of {path.name} {job['status']}: {job.get('error')}")
                return time.perf_counter() - t0
            time.sleep(0.2)


def starts(index: Path, log: Path, n: int, pythonpaths: dict[str, str | None]) -> dict[str, list[tuple]]:
    """`n` timed starts per server (after one untimed start each), alternating between them:
    (seconds to ready, CPU seconds by then, RSS MB then, load average) per start."""
    for path in pythonpaths.values():
        proc, _, _ = start(index, log, pythonpath=path)
        stop(proc)
    out: dict[str, list[tuple]] = {name: [] for name in pythonpaths}
    for _ in range(n):
        for name, path in pythonpaths.items():
            load = os.getloadavg()[0]
            proc, url, ready = start(index, log, pythonpath=path)
            out[name].append((ready, cpu_seconds(proc.pid), status_mb(proc.pid)["VmRSS"], load))
            stop(proc)
    return out


def report_starts(label: str, rows: list[tuple]) -> float:
    readies = [r[0] for r in rows]
    print(f"{label}: ready in {statistics.median(readies):.2f} s median of {len(rows)} "
          f"({', '.join(f'{r:.2f}' for r in readies)}; target <= {READY_TARGET_S:g}), "
          f"{statistics.median(r[1] for r in rows):.2f} CPU s by then "
          f"({', '.join(f'{r[1]:.2f}' for r in rows)}), RSS at ready {statistics.median(r[2] for r in rows):.0f} MB, "
          f"load average {min(r[3] for r in rows):.1f}-{max(r[3] for r in rows):.1f}")
    return statistics.median(readies)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cmrc", type=Path, nargs="?", help="cmrc2018_trial.json")
    ap.add_argument("--built", type=Path, help="time only the starts, on this built index")
    ap.add_argument("--compare", help="with --built: also time a server from this PYTHONPATH, alternately")
    ap.add_argument("--chars", type=int, default=3000, help="characters per uploaded book")
    ap.add_argument("--uploads", type=int, default=10, help="uploads after the first build")
    ap.add_argument("--starts", type=int, default=3, help="starts on the built index (median reported)")
    args = ap.parse_args()

    print(f"CPU: {cpu_name()}; load average at start {os.getloadavg()[0]:.1f}")
    if args.built is not None:
        servers = {"this checkout": None, **({f"PYTHONPATH={args.compare}": args.compare} if args.compare else {})}
        with tempfile.TemporaryDirectory(prefix="docqa-bench-start-") as tmp:
            rows = starts(args.built, Path(tmp) / "serve.log", args.starts, servers)
        medians = [report_starts(f"{name}, built index {args.built.name}", rows[name]) for name in servers]
        print("target met" if medians[0] <= READY_TARGET_S else "target NOT met")
        return
    if args.cmrc is None:
        ap.error("give cmrc2018_trial.json, or --built DIR")
    with tempfile.TemporaryDirectory(prefix="docqa-bench-mem-") as tmp:
        tmp = Path(tmp)
        (tmp / "books").mkdir()
        paths = books(args.cmrc, tmp / "books", args.uploads + 1, args.chars)
        index, log = tmp / "library", tmp / "serve.log"
        proc, url, ready = start(index, log)
        try:
            empty = status_mb(proc.pid)
            print(f"empty shelf: ready in {ready:.1f} s, RSS {empty['VmRSS']:.0f} MB")
            took = upload(url, paths[0])
            first = status_mb(proc.pid)
            print(f"after the first build ({took:.1f} s): RSS {first['VmRSS']:.0f} MB (target <= {RSS_TARGET_MB})")
            times = [upload(url, p) for p in paths[1:]]
            after = status_mb(proc.pid)
            print(f"after {len(times)} more uploads (median {statistics.median(times):.1f} s each): "
                  f"RSS {after['VmRSS']:.0f} MB (target <= {RSS_TARGET_MB}); peak (VmHWM) {after['VmHWM']:.0f} MB")
        finally:
            stop(proc)
        rows = starts(index, log, args.starts, {"this checkout": None})["this checkout"]
        ready = report_starts(f"built index ({args.uploads + 1} books)", rows)
        verdict = (first["VmRSS"] <= RSS_TARGET_MB and after["VmRSS"] <= RSS_TARGET_MB
                   and ready <= READY_TARGET_S)
        print("targets met" if verdict else "targets NOT met")


if __name__ == "__main__":
    main()
