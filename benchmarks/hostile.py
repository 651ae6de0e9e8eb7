"""The hostile battery: everything a careless or malicious user can throw at docqa, one table out.

    python -m benchmarks.hostile                       # short: 10 s load, 10 s slow clients
    python -m benchmarks.hostile --load-seconds 60     # the issue's 32 clients x 60 s
    python -m benchmarks.hostile --only http protocol  # some categories

It builds the bundled book's index with the real `docqa build` into a temp folder, starts the real
`python -m docqa.service.cli serve` on a free 127.0.0.1 port, and runs each category:

  http        bad input on every endpoint: fuzzed JSON bodies, query parameters, path parameters,
              methods and headers (seeded, so a run is repeatable)
  protocol    raw sockets: bad request lines, huge and many headers, truncated bodies,
              Content-Length lies, bad chunked encoding, bytes that are not UTF-8
  kill        `docqa build` SIGKILLed at every phase it prints and at fractions of its run time;
              after each kill the last good index must load and the user's files be intact
  damage      every index file truncated, then one byte flipped, in turn; each must be refused in
              one line by `docqa chapters --index` (and the damaged folder never replaced)
  disk        builds onto a small tmpfs (root only): one clean line, previous index byte-identical,
              nothing half-built
  corpora     pathological corpora through `docqa chapters` and `docqa build`: Big5, deep folders,
              FIFO, /dev/zero link, a huge line, binary junk, empty files, bad JSONL, unreadable
              folders, a file over the size limit; nothing indexed from a bad corpus
  ownership   --index / DOCQA_INDEX naming the user's folder, a file, a mistyped path
  load        32 clients on /ask for --load-seconds
  abandoned   100 /ask requests whose clients hang up after 20 ms, then one normal request timed
  slow        slowloris: connections that send headers a byte at a time, and one normal request

Outcome kinds: 2xx/3xx/4xx/5xx (HTTP), "refused" (exit 1, one `docqa: error:` line), "ok" (exit 0),
"closed" (server closed the socket without a response), "held" (no response, still open at the
deadline), "timeout"/"crash" (a command that hung or died), "traceback" (one was printed, by a
command or in the server log). "user files lost" counts files of the user's folders (a corpus, a
notes folder, a file named by --index) that are missing or changed afterwards: it must be 0.
Only loopback traffic; every loop is bounded in count and time.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.bench_http import ROOT, load_questions, pct, run_load, served

CATEGORIES = ["http", "protocol", "kill", "damage", "disk", "corpora", "ownership", "load", "abandoned", "slow"]


@dataclass
class Row:
    category: str
    outcomes: Counter = field(default_factory=Counter)
    five_xx: int = 0
    tracebacks: int = 0
    lost: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def cases(self) -> int:
        return sum(self.outcomes.values())

    def add(self, kind: str, note: str | None = None) -> None:
        self.outcomes[kind] += 1
        if kind == "5xx":
            self.five_xx += 1
        if kind == "traceback":
            self.tracebacks += 1
        if note and len(self.notes) < 8:
            self.notes.append(note)


# ---- helpers ---------------------------------------------------------------------------------

def env(**extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("DOCQA_")}
    e["PYTHONPATH"] = str(ROOT)
    e.update(extra)
    return e


def docqa(*args: str, timeout: float = 300, cwd: Path | None = None, user: int | None = None,
          cap: bool = False, **extra_env: str) -> tuple[int | None, str, str]:
    """The real CLI in a subprocess; (exit code or None on timeout, stdout, stderr). `cap`: a 2 GB
    address-space limit, for commands that load no model (a runaway read then fails fast)."""
    def limits():
        if cap:
            resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    cmd = [sys.executable, "-m", "docqa.service.cli", *args]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, preexec_fn=limits,
                             env=env(**extra_env), cwd=cwd or tempfile.gettempdir())
    except subprocess.TimeoutExpired as e:
        return None, "", (e.stderr or b"").decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
    return out.returncode, out.stdout, out.stderr


def cli_kind(code: int | None, stderr: str) -> str:
    if code is None:
        return "timeout"
    if "Traceback" in stderr:
        return "traceback"
    if code == 0:
        return "ok"
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith(("Loading", "built "))]
    if code == 1 and lines and lines[-1].startswith("docqa: error: ") and sum(
            ln.startswith("docqa: error:") for ln in lines) == 1:
        return "refused"
    return "crash"


def tree_hashes(*roots: Path) -> dict[str, str]:
    out = {}
    for root in roots:
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for p in paths:
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def lost(before: dict[str, str]) -> int:
    n = 0
    for path, digest in before.items():
        p = Path(path)
        if not p.is_file() or hashlib.sha256(p.read_bytes()).hexdigest() != digest:
            n += 1
    return n


def log_tracebacks(log: Path, since: int) -> tuple[int, int]:
    """(new "Traceback" lines in the server log since byte `since`, log size now)."""
    data = log.read_bytes()
    return data[since:].count(b"Traceback"), len(data)


def log_errors(log: Path, since: int) -> list[str]:
    """The distinct exception lines ending each traceback in the server log since byte `since`."""
    lines = log.read_bytes()[since:].decode(errors="replace").splitlines()
    found: list[str] = []
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            for nxt in lines[i + 1:]:
                if nxt and not nxt.startswith((" ", "Traceback", "\t")) and ("Error" in nxt or "Exception" in nxt):
                    if nxt[:160] not in found:
                        found.append(nxt[:160])
                    break
    return found


def status_kind(code: int) -> str:
    return f"{code // 100}xx"


# ---- http: bad input on every endpoint -------------------------------------------------------

def _junk_values(rng: random.Random) -> list:
    return [None, True, 0, -1, 1.5, 10**30, float("inf"), "", " ", "\u200b\u200b", "x" * 70_000, [], {},
            ["a"], {"a": 1}, "\ud800", "a\udfffb",
            "第一章", "../../etc/passwd", "' OR 1=1 --", "<script>alert(1)</script>", "%00", "\x00",
            rng.random(), -(2**63), 2**64, "1e309"]


def http_cases(rng: random.Random, fuzz: int) -> list[tuple[str, str, dict]]:
    """(method, path, httpx keyword arguments) for every endpoint."""
    cases: list[tuple[str, str, dict]] = []
    j = "application/json"
    raw_bodies = [b"", b"{", b"not json", b"[]", b"null", b"\xff\xfe\x00", b'{"question": "\\ud800"}',
                  b'{"question": "q", "k": 1' + b"0" * 5000 + b"}", b"[" * 100_000 + b"]" * 100_000,
                  b'{"question": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", b'{"question": NaN}',
                  b'{"question": "\xe4\xb8"}', b'{"question": "' + "问".encode() * 300_000 + b'"}',
                  b'{"question": "\\u200b\\u200c\\ufeff"}', b'{"question": "q", "question": "r"}']
    for path in ("/ask", "/v1/chat/completions"):
        for body in raw_bodies:
            cases.append(("POST", path, {"content": body, "headers": {"content-type": j}}))
        cases.append(("POST", path, {"content": b'{"question": "q"}', "headers": {"content-type": "text/plain"}}))
        cases.append(("POST", path, {"content": b'{"question": "q"}', "headers": {"content-type": "application/json; charset=gbk"}}))
    for v in _junk_values(rng):
        for key in ("question", "k", "chapter", "doc_id"):
            body = {"question": "本书一共分为几章？", key: v}
            cases.append(("POST", "/ask", _jsonable(body)))
        cases.append(("POST", "/v1/chat/completions", _jsonable({"messages": [{"role": "user", "content": v}]})))
        cases.append(("POST", "/v1/chat/completions", _jsonable({"messages": v})))
        cases.append(("GET", "/search", {"params": {"q": str(v)[:20_000], "k": str(v)[:100]}}))
    chat_bodies = [
        {"messages": []}, {"messages": [{"role": "system", "content": "x"}]},
        {"messages": [{"role": "user", "content": "问" * 62_354}, {"role": "assistant", "content": "a"},
                      {"role": "user", "content": "本书几章？"}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "本书几章？"}]}]},
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x"}}]}]},
        {"messages": [{"role": "user", "content": "本书几章？"}], "n": 2},
        {"messages": [{"role": "user", "content": "本书几章？"}], "stream": True},
        {"messages": [{"role": "hacker", "content": "本书几章？"}]},
        {"messages": [{"role": "user", "content": "本书几章？"}], "k": 0},
    ]
    cases += [("POST", "/v1/chat/completions", {"json": b}) for b in chat_bodies]
    for seg in ("-1", "0", "1", "99999999999999999999999", "abc", "%00", "..%2F..%2Fetc%2Fpasswd", "1.5", "١", "%F0%9F%98%80",
                "x" * 10_000):
        cases.append(("GET", f"/chapters/{seg}", {}))
        cases.append(("GET", f"/chapters/1/sections/{seg}", {}))
        cases.append(("GET", f"/passages/{seg}", {}))
    cases += [("GET", "/passages/a/b/c", {}), ("GET", "/chapters", {"params": {"doc_id": "\x00"}}),
              ("GET", "/chapters", {"params": {"doc_id": "x" * 20_000}}), ("GET", "/nope", {}), ("GET", "/" + "a" * 8000, {})]
    for path in ("/", "/healthz", "/readyz", "/ask", "/search", "/chapters", "/v1/models", "/v1/chat/completions"):
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"):
            cases.append((method, path, {}))
    for headers in ({"authorization": "Bearer x"}, {"authorization": "x" * 60_000}, {"cookie": "a=" + "b" * 60_000},
                    {"accept": "\x7f"}, {"origin": "http://evil.example"}, {"x-forwarded-for": "1.2.3.4"},
                    {"content-length": "5"}, {"transfer-encoding": "chunked"}):
        cases.append(("POST", "/ask", {"json": {"question": "本书几章？"}, "headers": headers}))
        cases.append(("GET", "/search", {"params": {"q": "外汇"}, "headers": headers}))
    values = _junk_values(rng)
    for _ in range(fuzz):
        path = rng.choice(["/ask", "/v1/chat/completions", "/search"])
        if path == "/search":
            params = {rng.choice(["q", "k", "chapter", "doc_id", "zzz"]): str(rng.choice(values))[:5000] for _ in range(3)}
            cases.append(("GET", path, {"params": params}))
        else:
            body = {rng.choice(["question", "k", "chapter", "doc_id", "messages", "stream", "n", "zzz"]): rng.choice(values)
                    for _ in range(rng.randint(0, 4))}
            cases.append(("POST", path, _jsonable(body)))
    return cases


def _jsonable(x) -> dict:
    """A JSON body as raw bytes, so values httpx's json= refuses (inf, lone surrogates) still go."""
    text = json.dumps(x).replace("Infinity", "1e999").replace("NaN", "1e999")
    return {"content": text.encode("ascii"), "headers": {"content-type": "application/json"}}


def run_http(base: str, log: Path, rng: random.Random, fuzz: int) -> Row:
    import httpx

    row = Row("http bad input")
    _, since = log_tracebacks(log, 0)
    cases = http_cases(rng, fuzz)
    with httpx.Client(base_url=base, trust_env=False, timeout=120) as c:
        for method, path, kw in cases:
            try:
                r = c.request(method, path, **kw)
                kind = status_kind(r.status_code)
                if "Traceback" in r.text:
                    row.add("traceback", f"{method} {path[:40]}: traceback in body")
                if kind == "5xx" and r.status_code != 503:
                    sent = kw.get("json") or kw.get("content") or kw.get("params") or ""
                    row.add(kind, f"{method} {path[:40]} {sent!r:.90} -> {r.status_code}")
                else:
                    row.add(kind)
            except httpx.HTTPError as e:
                sent = kw.get("json") or kw.get("content") or kw.get("params") or ""
                row.add("error", f"{method} {path[:40]} {sent!r:.60}: {type(e).__name__}")
            except Exception:  # noqa: BLE001 - httpx refused to build the request (InvalidURL, UnicodeError)
                row.add("unsendable")
    n, _ = log_tracebacks(log, since)
    row.tracebacks += n
    row.notes += [f"server log: {e}" for e in log_errors(log, since)[:4]]
    return row


# ---- protocol: raw sockets -------------------------------------------------------------------

def raw_exchange(port: int, payload: bytes, *, close_write: bool = False, wait: float = 5.0) -> str:
    """Send bytes, read until the server answers or closes: "<status>xx", "closed" or "held"."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        with contextlib.suppress(OSError):
            s.sendall(payload)
        if close_write:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_WR)
        s.settimeout(wait)
        data = b""
        try:
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            return "held" if not data else "partial"
        except OSError:
            return "closed"
    if not data:
        return "closed"
    try:
        code = int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return "garbage"
    return status_kind(code)


def protocol_cases() -> list[tuple[str, bytes, bool]]:
    h = b"Host: 127.0.0.1\r\n"
    body = '{"question": "本书一共分为几章？"}'.encode()
    cl = f"Content-Length: {len(body)}\r\n".encode()
    json_h = b"Content-Type: application/json\r\n"
    return [
        ("garbage line", b"GARBAGE\r\n\r\n", False),
        ("empty line", b"\r\n\r\n", False),
        ("bad version", b"GET / HTTP/9.9\r\n" + h + b"\r\n", False),
        ("HTTP/0.9", b"GET /\r\n", True),
        ("long target", b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\n" + h + b"\r\n", False),
        ("huge header", b"GET /healthz HTTP/1.1\r\n" + h + b"X-Big: " + b"a" * 1_000_000 + b"\r\n\r\n", False),
        ("many headers", b"GET /healthz HTTP/1.1\r\n" + h + b"".join(b"X-%d: v\r\n" % i for i in range(5000)) + b"\r\n", False),
        ("null in target", b"GET /\x00 HTTP/1.1\r\n" + h + b"\r\n", False),
        ("non-UTF-8 target", b"GET /passages/\xff\xfe HTTP/1.1\r\n" + h + b"\r\n", False),
        ("no Host", b"GET /healthz HTTP/1.1\r\n\r\n", False),
        ("two Hosts", b"GET /healthz HTTP/1.1\r\n" + h + h + b"\r\n", False),
        ("truncated body, closed", b"POST /ask HTTP/1.1\r\n" + h + json_h + cl + b"\r\n" + body[:10], True),
        ("Content-Length too big, open", b"POST /ask HTTP/1.1\r\n" + h + json_h + b"Content-Length: 1000\r\n\r\n" + body, False),
        ("Content-Length too small", b"POST /ask HTTP/1.1\r\n" + h + json_h + b"Content-Length: 5\r\n\r\n" + body, False),
        ("negative Content-Length", b"POST /ask HTTP/1.1\r\n" + h + json_h + b"Content-Length: -1\r\n\r\n" + body, False),
        ("non-numeric Content-Length", b"POST /ask HTTP/1.1\r\n" + h + json_h + b"Content-Length: abc\r\n\r\n" + body, False),
        ("two Content-Lengths", b"POST /ask HTTP/1.1\r\n" + h + json_h + cl + b"Content-Length: 3\r\n\r\n" + body, False),
        ("CL and chunked", b"POST /ask HTTP/1.1\r\n" + h + json_h + cl + b"Transfer-Encoding: chunked\r\n\r\n" + body, False),
        ("bad chunk size", b"POST /ask HTTP/1.1\r\n" + h + json_h + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n" + body + b"\r\n0\r\n\r\n", False),
        ("endless chunks, closed", b"POST /ask HTTP/1.1\r\n" + h + json_h + b"Transfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n", True),
        ("huge declared body", b"POST /ask HTTP/1.1\r\n" + h + json_h + b"Content-Length: 99999999999\r\n\r\n" + body, False),
        ("pipelined", (b"GET /healthz HTTP/1.1\r\n" + h + b"\r\n") * 50, False),
        ("header without colon", b"GET /healthz HTTP/1.1\r\n" + h + b"NoColonHere\r\n\r\n", False),
        ("obs-fold header", b"GET /healthz HTTP/1.1\r\n" + h + b"X-A: a\r\n b\r\n\r\n", False),
        ("lowercase method", b"get /healthz HTTP/1.1\r\n" + h + b"\r\n", False),
        ("CONNECT", b"CONNECT 127.0.0.1:22 HTTP/1.1\r\n" + h + b"\r\n", False),
        ("upgrade h2c", b"GET /healthz HTTP/1.1\r\n" + h + b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
         b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", False),
        ("TLS hello", bytes.fromhex("160301020001") + os.urandom(500), False),
        ("random bytes", os.urandom(4096), False),
    ]


def run_protocol(base: str, port: int, log: Path, wait: float) -> Row:
    import httpx

    row = Row("raw protocol")
    _, since = log_tracebacks(log, 0)
    for name, payload, close in protocol_cases():
        try:
            kind = raw_exchange(port, payload, close_write=close, wait=wait)
        except OSError as e:
            kind = "refused-connect"
            row.notes.append(f"{name}: {e}")
        row.add(kind, f"{name}: {kind}" if kind in ("held", "5xx", "garbage", "partial") else None)
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as c:
        alive = c.get("/healthz").status_code
    row.notes.append(f"/healthz after: {alive}")
    n, _ = log_tracebacks(log, since)
    row.tracebacks += n
    return row


# ---- kill: SIGKILL a build at every phase ----------------------------------------------------

def run_kill(work: Path, corpus: Path, user_hashes: dict[str, str], cache: Path) -> Row:
    from docqa.index.store.directory import load_index

    row = Row("build killed")
    target = work / "kill-index"
    code, _, err = docqa("build", str(corpus), "--index", str(target), DOCQA_CACHE_DIR=str(cache))
    if code != 0:
        row.add(cli_kind(code, err), f"first build failed: {err.strip()[-200:]}")
        return row
    first = load_index(target).manifest["counts"]["passages"]
    bigger = work / "kill-corpus"
    shutil.copytree(corpus, bigger)
    (bigger / "extra.txt").write_text("第一章 附加\n\n这是为了让新索引与旧索引不同而加的一段正文。", encoding="utf-8")
    t0 = time.perf_counter()
    code, _, err = docqa("build", str(bigger), "--index", str(target), DOCQA_CACHE_DIR=str(cache))
    full = time.perf_counter() - t0
    second = load_index(target).manifest["counts"]["passages"]
    row.notes.append(f"a whole build: {full:.1f}s; old {first}, new {second} passages")
    phases = ["loading", "tokenizing", "embedding", "index ready"]
    points: list[tuple[str, float | str]] = [(f"at {f:.0%}", f * full) for f in (0.1, 0.3, 0.5, 0.7, 0.9)]
    points += [(f"on '{p}'", p) for p in phases]
    corpora = [corpus, bigger]
    for n, (label, when) in enumerate(points):
        src = corpora[n % 2]
        e = env(DOCQA_CACHE_DIR=str(cache))
        proc = subprocess.Popen([sys.executable, "-m", "docqa.service.cli", "build", str(src), "--index", str(target)],
                                env=e, cwd=tempfile.gettempdir(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + full * 3 + 30
        if isinstance(when, float):
            time.sleep(when)
        else:
            os.set_blocking(proc.stderr.fileno(), False)
            seen = b""
            while when.encode() not in seen.lower() and proc.poll() is None and time.monotonic() < deadline:
                with contextlib.suppress(BlockingIOError, TypeError):
                    seen += proc.stderr.read() or b""
                time.sleep(0.005)
        finished = proc.poll() is not None
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        try:
            idx = load_index(target)
            kind = "index loads (finished)" if finished else "index loads"
            row.notes.append(f"{label}: {idx.manifest['counts']['passages']} passages")
        except Exception as exc:  # noqa: BLE001 - any failure to load is the finding
            kind = "index broken"
            row.notes.append(f"{label}: {type(exc).__name__}: {str(exc)[:120]}")
        code, _, err = docqa("chapters", "--index", str(target))
        if code != 0:
            kind = "traceback" if "Traceback" in err else "index broken"
        row.add(kind)
    row.lost = lost(user_hashes)
    leftovers = [p.name for p in work.iterdir() if p.name.startswith(".kill-index.") and not p.name.endswith(".lock")]
    row.notes.append(f"leftovers before the next build: {leftovers or 'none'}")
    return row


# ---- damage: every index file, truncated and flipped -----------------------------------------

def run_damage(work: Path, index: Path, user_hashes: dict[str, str]) -> Row:
    row = Row("damaged index files")
    files = sorted(p.relative_to(index) for p in index.rglob("*") if p.is_file() and p.stat().st_size)
    row.notes.append(f"{len(files)} files with data (the empty ownership marker has no bytes to damage)")
    for rel in files:
        for how in ("truncate", "flip"):
            copy = work / "damaged"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(index, copy)
            p = copy / rel
            data = bytearray(p.read_bytes())
            if how == "truncate":
                data = data[: len(data) // 2]
            elif data:
                data[len(data) // 2] ^= 0x5A
            else:
                data = bytearray(b"x")
            p.write_bytes(bytes(data))
            before = tree_hashes(copy)
            code, _, err = docqa("chapters", "--index", str(copy), "--json")
            kind = cli_kind(code, err)
            if kind == "ok":
                kind = "accepted"
                row.notes.append(f"{rel} {how}: accepted")
            row.add(kind)
            if tree_hashes(copy) != before:
                row.lost += 1
                row.notes.append(f"{rel} {how}: the damaged folder was changed")
    shutil.rmtree(work / "damaged", ignore_errors=True)
    row.lost += lost(user_hashes)
    return row


# ---- disk: a small tmpfs ---------------------------------------------------------------------

def run_disk(work: Path, corpus: Path, small: Path, cache: Path) -> Row:
    row = Row("full disk")
    if os.geteuid() != 0:
        row.notes.append("skipped: mounting a tmpfs needs root")
        return row
    for size in ("64k", "256k", "512k", "1m", "2m"):
        mnt = work / f"tmpfs-{size}"
        mnt.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True, text=True)
        if done.returncode != 0:
            row.notes.append(f"skipped: cannot mount a tmpfs ({done.stderr.strip()})")
            mnt.rmdir()
            return row
        try:
            target = mnt / "idx"
            prev = {}
            code, _, err = docqa("build", str(small), "--index", str(target), DOCQA_CACHE_DIR=str(cache))
            if code == 0:
                prev = tree_hashes(target)
            code, _, err = docqa("build", str(corpus), "--index", str(target), DOCQA_CACHE_DIR=str(cache))
            kind = cli_kind(code, err)
            if kind == "refused" and "no space left" not in err:
                row.notes.append(f"{size}: {err.strip().splitlines()[-1][:150]}")
            left = sorted(p.name for p in mnt.iterdir() if p.name not in ("idx", ".idx.lock"))
            if kind == "refused":
                if prev and tree_hashes(target) != prev:
                    kind = "previous index changed"
                    row.lost += 1
                if left:
                    kind = "half-built left"
            row.add(kind, f"{size}: previous {'kept' if prev else 'none'}, {kind}, leftovers {left or 'none'}")
        finally:
            subprocess.run(["umount", str(mnt)], check=False)
            mnt.rmdir()
    return row


# ---- corpora ---------------------------------------------------------------------------------

def _traditional_book() -> str:
    text = (ROOT / "corpus" / "belt-and-road-capacity-cooperation.txt").read_text(encoding="utf-8")
    try:
        import opencc
        return opencc.OpenCC("s2tw").convert(text)
    except ImportError:
        return "第一章 總論\n\n" + "這是一本用繁體中文寫成的書，討論國際產能合作與經濟發展。" * 50


def make_corpora(root: Path) -> list[tuple[str, Path, str]]:
    """(name, path, what is expected: "ok" or "refused")."""
    out = []

    def folder(name: str) -> Path:
        p = root / name
        p.mkdir(parents=True)
        return p

    trad = _traditional_book()
    p = folder("big5")
    (p / "book.txt").write_bytes(trad.encode("big5"))
    out.append(("Big5 book", p / "book.txt", "ok"))
    p = folder("big5hkscs")
    (p / "book.txt").write_bytes((trad + "\n\n佢哋話嘅嘢。\n").encode("big5hkscs"))
    out.append(("Big5-HKSCS book", p / "book.txt", "ok"))
    p = folder("deep")
    d = str(p)
    for _ in range(1500):
        d += "/d"
        os.mkdir(d)
    Path(d, "book.txt").write_text("第一章 深处\n\n最深处的文件。", encoding="utf-8")
    out.append(("folders 1,500 deep", p, "ok"))
    p = folder("fifo")
    os.mkfifo(p / "pipe.txt")
    out.append(("FIFO", p / "pipe.txt", "refused"))
    out.append(("FIFO in a folder", p, "refused"))
    p = folder("zero")
    (p / "zero.txt").symlink_to("/dev/zero")
    out.append(("link to /dev/zero", p / "zero.txt", "refused"))
    p = folder("hugeline")
    with open(p / "line.txt", "w", encoding="utf-8") as f:
        for _ in range(75):
            f.write("很长的一行没有换行" * 10_000)
    out.append(("one 20 MB line", p / "line.txt", "ok"))
    p = folder("binary")
    (p / "junk.txt").write_bytes(random.Random(3).randbytes(1 << 20))
    out.append(("binary junk", p / "junk.txt", "refused"))
    p = folder("empty")
    (p / "empty.txt").write_bytes(b"")
    out.append(("empty file", p / "empty.txt", "refused"))
    out.append(("empty folder", folder("nothing"), "refused"))
    p = folder("jsonl")
    (p / "deep.jsonl").write_text('{"text": "x", "m": ' + "[" * 100_000 + "]" * 100_000 + "}\n", encoding="utf-8")
    (p / "surrogate.jsonl").write_text('{"text": "正文\\ud800"}\n', encoding="utf-8")
    (p / "bigint.jsonl").write_text('{"text": "正文", "n": 1' + "0" * 5000 + "}\n", encoding="utf-8")
    out += [("JSONL nested 100k", p / "deep.jsonl", "refused"), ("JSONL lone surrogate", p / "surrogate.jsonl", "refused"),
            ("JSONL 5,000-digit int", p / "bigint.jsonl", "refused")]
    p = folder("notes-parent")
    (p / "notes.txt").write_text("笔记。", encoding="utf-8")
    out.append(("path through a file", p / "notes.txt" / "x.txt", "refused"))
    return out


def run_corpora(work: Path, cache: Path) -> Row:
    row = Row("pathological corpora")
    root = work / "corpora"
    cases = make_corpora(root)
    for name, path, expect in cases:
        code, out, err = docqa("chapters", str(path), "--json", timeout=300, cap=True)
        kind = cli_kind(code, err)
        if name.startswith("Big5") and kind == "ok":
            outline = json.loads(out)
            chapters = [c for d in outline["documents"] for c in d["chapters"]] if "documents" in outline else []
            if "總論" not in out and "產能" not in out:
                kind = "gibberish"
            row.notes.append(f"{name}: {len(chapters)} chapters")
        if kind != expect:
            row.notes.append(f"{name}: expected {expect}, got {kind}: {err.strip()[-120:]}")
        row.add(kind)
    # Unreadable folder, as an unprivileged user when running as root.
    top = Path(tempfile.mkdtemp(prefix="docqa-hostile-perm-"))
    top.chmod(0o755)
    (top / "c" / "locked").mkdir(parents=True)
    (top / "c" / "a.txt").write_text("能读。", encoding="utf-8")
    (top / "c" / "locked" / "b.txt").write_text("读不到。", encoding="utf-8")
    (top / "c" / "locked").chmod(0)
    code, _, err = docqa("chapters", str(top / "c"), user=65534 if os.geteuid() == 0 and shutil.which("setpriv") else None)
    row.add(cli_kind(code, err), f"unreadable folder: {err.strip()[-100:]}")
    (top / "c" / "locked").chmod(0o755)
    shutil.rmtree(top)
    # Over the size limit, and nothing indexed from bad corpora.
    big = root / "big.txt"
    big.write_text("第一章 大\n\n" + "正文。" * 1000, encoding="utf-8")
    code, _, err = docqa("chapters", str(big), DOCQA_MAX_FILE_BYTES="1000")
    row.add(cli_kind(code, err), f"over DOCQA_MAX_FILE_BYTES: {err.strip()[-90:]}")
    for name, path, expect in cases:
        if expect != "refused" or name.startswith("FIFO"):
            continue
        target = work / "bad-index"
        code, _, err = docqa("build", str(path), "--index", str(target), DOCQA_CACHE_DIR=str(cache), timeout=300)
        kind = cli_kind(code, err)
        if target.exists():
            kind = "indexed anyway"
            shutil.rmtree(target)
        row.add(kind)
    # The deep folder: remove bottom-up (rmtree recurses).
    d = root / "deep" / "/".join(["d"] * 1500)
    (d / "book.txt").unlink()
    for _ in range(1500):
        d.rmdir()
        d = d.parent
    shutil.rmtree(root)
    return row


# ---- ownership -------------------------------------------------------------------------------

def run_ownership(work: Path, corpus: Path, cache: Path) -> Row:
    row = Row("--index on user files")
    mine = work / "mydocs"
    mine.mkdir()
    (mine / "notes.md").write_text("# 我的笔记\n\n重要的内容。", encoding="utf-8")
    (mine / "src").mkdir()
    (mine / "src" / "main.py").write_text("print('hi')\n", encoding="utf-8")
    notes = work / "notes.txt"
    notes.write_text("用户的文件。", encoding="utf-8")
    before = tree_hashes(mine, notes)
    cases = [("search", "外汇储备", "--index", str(mine)), ("ask", "外汇储备", "--index", str(notes)),
             ("chapters", "--index", str(mine)), ("build", str(corpus), "--index", str(mine)),
             ("build", str(corpus), "--index", str(notes)), ("build", str(corpus), "--index", str(notes / "idx")),
             ("search", "外汇储备", "--index", str(work / "my-indx"))]
    for args in cases:
        code, _, err = docqa(*args, DOCQA_CACHE_DIR=str(cache))
        kind = cli_kind(code, err)
        row.add(kind, f"{args[0]} --index {Path(args[-1]).name}: {err.strip().splitlines()[-1][:110] if err.strip() else kind}")
    if (work / "my-indx").exists():
        row.notes.append("a mistyped --index was built into")
    row.add(*_serve_on(mine, cache))
    row.lost = lost(before)
    return row


def _serve_on(index: Path, cache: Path) -> tuple[str, str]:
    """`docqa serve` with DOCQA_INDEX naming a user folder: it must not become ready on it (it
    answers /readyz 503 saying why, or exits with one line), and must not touch it."""
    import httpx

    from benchmarks.bench_http import free_port, stop

    port = free_port()
    log = index.parent / "serve-foreign.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "docqa.service.cli", "serve", "--port", str(port)],
                                env=env(DOCQA_INDEX=str(index), DOCQA_CACHE_DIR=str(cache)), cwd=tempfile.gettempdir(),
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5, trust_env=False)
                if r.status_code == 200:
                    return "served a user folder", "serve became ready on the user's folder"
                if "not a docqa index" in r.text:
                    return "refused", f"serve: /readyz {r.status_code}: {r.json()['detail'][:100]}"
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
    finally:
        stop(proc)
    text = log.read_text(errors="replace")
    kind = cli_kind(proc.returncode, text) if proc.returncode is not None else "timeout"
    return kind, f"serve: exit {proc.returncode}: {text.strip().splitlines()[-1][:100] if text.strip() else ''}"


# ---- load, abandoned and slow clients --------------------------------------------------------

def run_load_row(base: str, log: Path, clients: int, seconds: float) -> Row:
    row = Row(f"load {clients}x{seconds:g}s /ask")
    _, since = log_tracebacks(log, 0)
    res = run_load(base, load_questions(2000), clients, seconds=seconds, timeout=300)
    for code, n in res.statuses.items():
        row.outcomes[status_kind(code)] += n
        if code >= 500:
            row.five_xx += n
    row.outcomes["error"] += sum(1 for e in res.errors if not e.startswith("HTTP"))
    row.notes.append(f"{res.throughput:.1f} answers/s, p50 {pct(res.latencies_ms, 50):.0f} ms, "
                     f"p95 {pct(res.latencies_ms, 95):.0f} ms")
    row.tracebacks += log_tracebacks(log, since)[0]
    return row


def _timed_ask(base: str) -> tuple[int, float]:
    import httpx

    t = time.perf_counter()
    with httpx.Client(base_url=base, trust_env=False, timeout=300) as c:
        r = c.post("/ask", json={"question": "中国的外汇储备有多少？"})
    return r.status_code, time.perf_counter() - t


def run_abandoned(base: str, log: Path, n: int = 100) -> Row:
    import httpx

    row = Row("abandoned clients")
    _, since = log_tracebacks(log, 0)
    code, baseline = _timed_ask(base)
    questions = load_questions(n)

    async def hang_up(q: str) -> str:
        try:
            async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=0.02) as c:
                r = await c.post("/ask", json={"question": q})
                return status_kind(r.status_code)
        except httpx.TimeoutException:
            return "hung up"
        except httpx.HTTPError:
            return "error"

    async def all_of_them():
        return await asyncio.gather(*(hang_up(q) for q in questions))

    for kind in asyncio.run(all_of_them()):
        row.add(kind)
    code, after = _timed_ask(base)
    row.add(status_kind(code))
    row.notes.append(f"a normal /ask: {baseline:.2f}s before, {after:.2f}s right after {n} abandoned")
    row.tracebacks += log_tracebacks(log, since)[0]
    return row


def run_slow(base: str, port: int, log: Path, seconds: float, n: int = 50) -> Row:
    row = Row("slow clients")
    _, since = log_tracebacks(log, 0)
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"POST /ask HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        socks.append(s)
    t_end = time.monotonic() + seconds
    status, during = _timed_ask(base)
    closed: set[int] = set()
    while time.monotonic() < t_end:
        for i, s in enumerate(socks):
            if i in closed:
                continue
            try:
                s.sendall(b"X")
            except OSError:
                closed.add(i)
        time.sleep(1)
    for i, s in enumerate(socks):
        if i not in closed:
            s.settimeout(0.2)
            try:
                if s.recv(1024) == b"":
                    closed.add(i)
                else:
                    closed.add(i)  # the server answered (e.g. 408) and will close
            except (socket.timeout, OSError):
                pass
        row.add("closed" if i in closed else "held")
        s.close()
    row.add(status_kind(status))
    row.notes.append(f"{n} slowloris connections for {seconds:g}s; a normal /ask meanwhile: {during:.2f}s")
    row.tracebacks += log_tracebacks(log, since)[0]
    return row


# ---- main ------------------------------------------------------------------------------------

def print_table(rows: list[Row]) -> None:
    print("\n| category | cases | outcomes | 5xx | tracebacks | user files lost |")
    print("|---|---:|---|---:|---:|---:|")
    for r in rows:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r.outcomes.items(), key=lambda kv: -kv[1]))
        print(f"| {r.category} | {r.cases} | {outcomes or '-'} | {r.five_xx} | {r.tracebacks} | {r.lost} |")
    total = Row("total")
    for r in rows:
        total.outcomes.update(r.outcomes)
        total.five_xx += r.five_xx
        total.tracebacks += r.tracebacks
        total.lost += r.lost
    print(f"| **total** | {total.cases} | | {total.five_xx} | {total.tracebacks} | {total.lost} |")
    print()
    for r in rows:
        for note in r.notes:
            print(f"- {r.category}: {note}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=CATEGORIES, help="run only these categories")
    ap.add_argument("--load-seconds", type=float, default=10, help="duration of the 32-client load (issue: 60)")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--slow-seconds", type=float, default=10, help="how long slow clients dribble")
    ap.add_argument("--fuzz", type=int, default=300, help="random fuzz requests on top of the fixed cases")
    ap.add_argument("--wait", type=float, default=5, help="seconds a raw-socket case waits for an answer")
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--cache-dir", type=Path, help="docqa cache (model, embeddings); default: the user's")
    args = ap.parse_args(argv)
    only = set(args.only or CATEGORIES)

    from docqa.index.cache import default_cache_dir

    cache = args.cache_dir or default_cache_dir()
    rng = random.Random(args.seed)
    rows: list[Row] = []
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="docqa-hostile-") as tmp:
        work = Path(tmp)
        corpus = work / "user-corpus"
        corpus.mkdir()
        shutil.copy(ROOT / "corpus" / "belt-and-road-capacity-cooperation.txt", corpus / "book.txt")
        (corpus / "mine.md").write_text("# 用户自己的笔记\n\n这是用户自己的文件，任何操作都不能改动它。", encoding="utf-8")
        small = work / "small-corpus"
        small.mkdir()
        (small / "a.txt").write_text("第一章 小\n\n一个很小的语料，只有一句话。", encoding="utf-8")
        user = tree_hashes(corpus, small)
        index = work / "book-index"
        t = time.perf_counter()
        code, _, err = docqa("build", "--index", str(index), DOCQA_CACHE_DIR=str(cache), timeout=1800)
        if code != 0:
            print(f"cannot build the book's index (exit {code}): {err}", file=sys.stderr)
            return 1
        print(f"built the book's index in {time.perf_counter() - t:.1f}s", flush=True)

        def step(name: str, fn) -> None:
            if name in only:
                t0 = time.perf_counter()
                try:
                    row = fn()
                except Exception as exc:  # noqa: BLE001 - a battery bug must not lose the other rows
                    import traceback
                    traceback.print_exc()
                    row = Row(name)
                    row.notes.append(f"the battery itself failed: {type(exc).__name__}: {exc}")
                row.lost = max(row.lost, lost(user))
                rows.append(row)
                print(f"{row.category}: {row.cases} cases in {time.perf_counter() - t0:.0f}s", flush=True)

        server_parts = {"http", "protocol", "load", "abandoned", "slow"} & only
        if server_parts:
            log = work / "serve.log"
            with served(index, cache, log_path=log) as srv:
                port = int(srv.base_url.rsplit(":", 1)[1])
                step("http", lambda: run_http(srv.base_url, log, rng, args.fuzz))
                step("protocol", lambda: run_protocol(srv.base_url, port, log, args.wait))
                step("abandoned", lambda: run_abandoned(srv.base_url, log))
                step("slow", lambda: run_slow(srv.base_url, port, log, args.slow_seconds))
                step("load", lambda: run_load_row(srv.base_url, log, args.clients, args.load_seconds))
                if srv.proc.poll() is not None:
                    print(f"the server died:\n{srv.log_tail()}", file=sys.stderr)
        step("kill", lambda: run_kill(work, corpus, user, cache))
        step("damage", lambda: run_damage(work, index, user))
        step("disk", lambda: run_disk(work, corpus, small, cache))
        step("corpora", lambda: run_corpora(work, cache))
        step("ownership", lambda: run_ownership(work, corpus, cache))
        print_table(rows)
        print(f"\nwhole battery: {time.perf_counter() - t_start:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
