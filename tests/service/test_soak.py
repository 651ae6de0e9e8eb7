"""A minute of 32 concurrent clients against a real `docqa serve`: no errors, no memory creep.

The server is a subprocess over the session's book index, so this is the deployed path (uvicorn,
the thread limiter, the model in worker threads) and its memory is its own, read from /proc.
"""
from __future__ import annotations

import sys
import threading
import time

import httpx
import pytest

from tests.serving import proc_status, run_load, served

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/status")]

CLIENTS = 32
SOAK_SECONDS = 60
SAMPLE_EVERY = 2.0
WARM_REQUESTS = 600
QUESTIONS = ["中国的外汇储备有多少？", "“一带一路”是什么时候提出的？", "What is production capacity cooperation?",
             "产能利用率最低的行业是哪个？", "本书一共分为几章？", "丝绸之路经济带有几个走向？",
             "海上丝绸之路的重点方向是什么？", "为什么要推进国际产能合作？", "钢铁行业的产能过剩有多严重？",
             "Which industries are the focus of cooperation?", "中亚国家在合作中扮演什么角色？", "高铁走出去的意义"]


def test_32_clients_for_a_minute_without_errors_or_memory_growth(book_index, cache_dir, tmp_path):
    # Distinct texts, so no layer can answer from a cache and hide a leak.
    questions = [f"{QUESTIONS[i % len(QUESTIONS)]} {i}" for i in range(20000)]
    with served(book_index, cache_dir, log_path=tmp_path / "server.log", ready_timeout=300) as server:
        # The allocator's pools grow over the first ~1000 answers, then stay flat (a 4-minute run
        # plateaus at ~1.17 GB): warm up past most of that so the soak measures creep, not warm-up.
        warm = run_load(server.base_url, questions, CLIENTS, requests=WARM_REQUESTS, seconds=90, timeout=120)
        assert not warm.errors, warm.errors[:3]

        samples: list[tuple[float, int]] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                samples.append((time.monotonic(), proc_status(server.pid)["VmRSS"]))
                stop.wait(SAMPLE_EVERY)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            soak = run_load(server.base_url, questions[WARM_REQUESTS:], CLIENTS, seconds=SOAK_SECONDS, timeout=120)
        finally:
            stop.set()
            sampler.join(timeout=10)
        assert server.proc.poll() is None, server.log_tail()
        with httpx.Client(trust_env=False, timeout=10) as c:
            assert c.get(f"{server.base_url}/readyz").status_code == 200
        status = proc_status(server.pid)
        log = server.log_tail(200)

    assert not soak.errors, f"{len(soak.errors)} errors, first: {soak.errors[:3]}"
    assert soak.statuses == {200: soak.ok} and soak.ok >= CLIENTS, soak.statuses
    assert "Traceback" not in log and "internal error" not in log, log

    rss = [kb for _, kb in samples]
    assert len(rss) >= 15, f"only {len(rss)} memory samples in {SOAK_SECONDS}s"
    third = len(rss) // 3
    first, last = sum(rss[:third]) / third, sum(rss[-third:]) / third
    mb = [round(kb / 1024) for kb in rss]
    print(f"\nsoak: {soak.ok} answers in {soak.seconds:.0f}s ({soak.throughput:.1f}/s), RSS MB {mb}, "
          f"peak (VmHWM) {status['VmHWM'] / 1024:.0f} MB")
    assert last <= 1.15 * first, f"RSS grew from {first / 1024:.0f} MB to {last / 1024:.0f} MB: {mb}"
