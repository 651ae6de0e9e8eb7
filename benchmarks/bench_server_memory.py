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
(median of `--starts`), and VmRSS then.

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


def start(index: Path, log: Path, timeout: float = 600) -> tuple[subprocess.Popen, str, float]:
    """`docqa serve --index INDEX`; returns it, its URL and the seconds until /readyz answered 200."""
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "docqa.service.cli", "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--index", str(index)],
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT)
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cmrc", type=Path, help="cmrc2018_trial.json")
    ap.add_argument("--chars", type=int, default=3000, help="characters per uploaded book")
    ap.add_argument("--uploads", type=int, default=10, help="uploads after the first build")
    ap.add_argument("--starts", type=int, default=3, help="starts on the built index (median reported)")
    args = ap.parse_args()

    print(f"CPU: {cpu_name()}; load average at start {os.getloadavg()[0]:.1f}")
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
        readies, rss = [], []
        for _ in range(args.starts):
            proc, url, ready = start(index, log)
            readies.append(ready)
            rss.append(status_mb(proc.pid)["VmRSS"])
            stop(proc)
        print(f"built index ({args.uploads + 1} books): ready in {statistics.median(readies):.2f} s median "
              f"of {args.starts} ({', '.join(f'{r:.2f}' for r in readies)}; target <= {READY_TARGET_S:g}), "
              f"RSS at ready {statistics.median(rss):.0f} MB")
        verdict = (first["VmRSS"] <= RSS_TARGET_MB and after["VmRSS"] <= RSS_TARGET_MB
                   and statistics.median(readies) <= READY_TARGET_S)
        print("targets met" if verdict else "targets NOT met")


if __name__ == "__main__":
    main()
