"""Instructions per answer without the model, counted by callgrind: a measure that does not move
with the load on a shared machine, unlike CPU time.

    python benchmarks/instructions.py --index DIR ask            # Searcher.ask in-process
    python benchmarks/instructions.py --index DIR http           # the app on a socket, canned answers
    python benchmarks/instructions.py --index DIR http --real    # real ranking and answers per request

Needs valgrind (`apt-get install valgrind`). The question vectors (200 benchmark questions) are
computed once with the real question engine and kept in `--work`, so the counts leave out the
model's forward pass: what is measured is ranking, answer choice, refusal, and HTTP. The
instrumented process runs under `valgrind --tool=callgrind --instr-atstart=no`; counting is
switched on (`callgrind_control -i on`) after a warm-up, around the measured requests only.
`--parser` and `--loop` pick the HTTP parser (auto, h11, httptools) and event loop.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_http import free_port, load_questions, run_load, stop  # noqa: E402


def cached_searcher(index: Path, work: Path):
    """A Searcher whose question vectors come from `work/vectors.npz` (made on first use)."""
    from docqa.index.search.searcher import Searcher
    from docqa.index.store.directory import load_index

    store = load_index(index)
    path = work / "vectors.npz"
    questions = load_questions(200)
    if not path.is_file():
        from docqa.index.cache import default_cache_dir
        from docqa.index.embedding.embedder import load_embedder

        embedder = load_embedder(store.manifest["model"]["name"], Path(os.environ.get("DOCQA_CACHE_DIR") or default_cache_dir()),
                                 query_engine="openvino")
        seen: dict[str, np.ndarray] = {}
        encode = embedder.encode_queries

        def record(texts):
            vecs = encode(texts)
            seen.update(zip(texts, vecs))
            return vecs
        embedder.encode_queries = record
        live = Searcher(store, embedder)
        for q in questions:
            live.ask(q, k=5)
        work.mkdir(parents=True, exist_ok=True)
        np.savez(path, texts=np.array(list(seen)), vectors=np.stack(list(seen.values())))
    with np.load(path) as saved:
        table = dict(zip(saved["texts"].tolist(), saved["vectors"]))

    class Cached:
        model_name = store.manifest["model"]["name"]

        def encode_queries(self, texts):
            return np.stack([table[t] for t in texts])
    return Searcher(store, Cached()), questions


def _counting(pid: int, on: bool) -> None:
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(pid)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)


def _total(out: Path) -> int:
    total = 0
    for f in out.parent.glob(out.name + "*"):
        for line in f.read_text(errors="replace").splitlines():
            if line.startswith("totals:"):
                total += int(line.split()[1])
                break
    return total


def run_ask(args) -> None:
    """In the child under callgrind: `n` asks, counted."""
    searcher, questions = cached_searcher(args.index, args.work)
    for q in questions[:20]:
        searcher.ask(q, k=5)
    _counting(os.getpid(), True)
    for q in questions[20:20 + args.asks]:
        searcher.ask(q, k=5)
    _counting(os.getpid(), False)


def run_server(args) -> None:
    """In the child under callgrind: the real app on a socket."""
    import uvicorn

    from docqa.service.api import create_app, server_config
    from docqa.service.middleware import protocol_with_deadline
    from docqa.service.settings import Settings

    searcher, questions = cached_searcher(args.index, args.work)
    if not args.real:
        canned = {q: searcher.ask(q, k=5) for q in questions}
        searcher.ask = lambda q, k=5, chapter=None, doc_id=None: canned[q]
    settings = Settings(index=args.index, api_key=None, cors_origins=[])
    config = server_config(settings, create_app(settings, searcher), port=args.port, log_level="warning",
                           loop=args.loop)
    config.http = protocol_with_deadline(15, args.parser)
    uvicorn.Server(config).run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["ask", "http"])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/docqa-instructions"))
    parser.add_argument("--asks", type=int, default=50, help="asks counted in-process")
    parser.add_argument("--requests", type=int, default=300, help="requests counted over HTTP")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--real", action="store_true", help="HTTP with real ranking instead of canned answers")
    parser.add_argument("--parser", default="auto", choices=["auto", "h11", "httptools"])
    parser.add_argument("--loop", default="auto", choices=["auto", "asyncio", "uvloop"])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.index = args.index.resolve()
    if args.child:
        run_ask(args) if args.what == "ask" else run_server(args)
        return
    cached_searcher(args.index, args.work)  # the vectors, outside the count
    out = args.work / f"callgrind-{args.what}.out"
    for old in args.work.glob(out.name + "*"):
        old.unlink()
    port = free_port()
    child = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}", sys.executable,
             __file__, *sys.argv[1:], "--child", "--port", str(port)]
    if args.what == "ask":
        subprocess.run(child, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"Searcher.ask: {_total(out) / args.asks / 1e6:.2f} M instructions per ask ({args.asks} asks)")
        return
    import time

    import httpx

    proc = subprocess.Popen(child, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 600
        while True:
            try:
                if httpx.get(base + "/healthz", trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                raise SystemExit("the server under callgrind did not start")
            time.sleep(0.5)
        questions = load_questions(200)
        run_load(base, questions, 2, requests=20, timeout=600)
        _counting(proc.pid, True)
        result = run_load(base, questions, args.clients, requests=args.requests, timeout=600)
        _counting(proc.pid, False)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            stop(proc)
    done = len(result.latencies_ms)
    kind = "real answers" if args.real else "canned answers"
    print(f"HTTP ({kind}, parser {args.parser}, loop {args.loop}, {args.clients} clients): "
          f"{_total(out) / max(done, 1) / 1e6:.2f} M instructions per request ({done} requests, {len(result.errors)} errors)")


if __name__ == "__main__":
    main()
