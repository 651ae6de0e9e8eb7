"""Issue 20's whole battery, re-run against a real `docqa serve` over HTTP and the real CLI.

    python benchmarks/hostile_battery.py [--only NAME ...] [--skip-cli] > benchmarks/results/hostile-battery.txt

Every hostile file is made at run time (zipfile/zlib in benchmarks/make_bombs.py; the damaged PDF
by hand, checked with pikepdf). The server runs on a free loopback port with its own TMPDIR (so
its upload folders can be counted) and a small library built with `docqa add`. For each upload a
sampler adds up the RSS of the server and every process under it (the reading child included)
20 times a second: "peak above base" is that sum's peak minus its value just before the upload.
"seconds" is from POST to the job's end. Tracebacks are counted in the server log and the CLI's
stderr; "lost" counts files of the user's folders (the uploaded originals, the library, a user
folder with its own manifest.json) missing or changed afterwards.

Cases past the issue's own: archive parts and HTML pages just under the part/HTML limits
(dense60.*, book60.html, densetags.html), user folders named `.NAME.previous`/`.NAME.building-*`
(siblings), Milvus Lite targets (milvus), a server on 0.0.0.0 without a key (open). The
tracebacks column also counts Python's resource_tracker warnings in the server log.

Target (issue 20): every bomb <= 300 MB above the server's baseline, answered within 30 s,
0 5xx, 0 tracebacks, 0 files lost.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_bombs  # noqa: E402

MB = 1 << 20
TARGET_MB, TARGET_S = 300, 30
QUESTIONS = ["xxxxxxxxxxxxxxxxxxxx", "'; DROP TABLE passages; --", "😀😀😀🎉🎉", "a" + "\u0301" * 900]


@dataclass
class Row:
    case: str
    how: str
    outcome: str = ""
    five_xx: int = 0
    tracebacks: int = 0
    lost: int = 0
    peak_mb: float | None = None
    seconds: float | None = None
    notes: list[str] = field(default_factory=list)

    def ok(self, bomb: bool) -> bool:
        good = self.five_xx == 0 and self.tracebacks == 0 and self.lost == 0
        if bomb:
            good = good and (self.peak_mb or 0) <= TARGET_MB and (self.seconds or 0) <= TARGET_S
        return good


# ---- processes ---------------------------------------------------------------------------------

def env(tmp: Path, **extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("DOCQA_")}
    e.update({"PYTHONPATH": str(ROOT), "TMPDIR": str(tmp)}, **extra)
    return e


def tree_pids(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return out


def tree_rss_mb(pid: int) -> float:
    total = 0
    for p in tree_pids(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class Sampler:
    """The peak of tree_rss_mb(pid) while in the `with` block."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()

    def __enter__(self):
        self.base = tree_rss_mb(self.pid)
        self.peak = self.base
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_mb(self.pid))
            time.sleep(0.05)

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()

    @property
    def above(self) -> float:
        return self.peak - self.base


def cli(args: list[str], tmp: Path, timeout: float = 400) -> tuple[int | None, str, float, float]:
    """The real CLI: (exit code or None on timeout, stderr, seconds, peak tree RSS in MB)."""
    t = time.monotonic()
    with open(tmp / "cli.err", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "docqa.service.cli", *args], env=env(tmp), cwd=tmp,
                                stdout=subprocess.DEVNULL, stderr=err)
        with Sampler(proc.pid) as s:
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                code = None
    return code, (tmp / "cli.err").read_text(errors="replace"), time.monotonic() - t, s.peak


class Server:
    def __init__(self, index: Path, work: Path, name: str, host: str = "127.0.0.1", **extra: str):
        import httpx

        from benchmarks.bench_http import free_port

        self.tmp = work / f"tmp-{name}"
        self.tmp.mkdir(exist_ok=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = work / f"serve-{name}.log"
        self.index = index
        self._out = open(self.log, "a")
        self.proc = subprocess.Popen([sys.executable, "-m", "docqa.service.cli", "serve", "--port", str(self.port),
                                      "--host", host, "--index", str(index)], env=env(self.tmp, DOCQA_CACHE_DIR=str(work / "cache"), **extra),
                                     cwd=self.tmp, stdout=self._out, stderr=subprocess.STDOUT)
        self.http = httpx.Client(base_url=self.base, trust_env=False, timeout=120)
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited: {self.log.read_text()[-2000:]}")
            try:
                if self.http.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise RuntimeError("serve not ready")

    def tracebacks(self) -> int:
        """Tracebacks, and Python's resource_tracker warnings (leaked semaphores), in the log."""
        text = self.log.read_text(errors="replace")
        return text.count("Traceback") + text.count("resource_tracker:")

    def uploads_left(self) -> int:
        return sum(1 for p in self.tmp.glob("docqa-upload-*"))

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.http.close()
        self._out.close()

    def wait_job(self, job_id: str, timeout: float = 420) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.http.get(f"/documents/jobs/{job_id}").json()
            if job["status"] in ("done", "failed", "cancelled"):
                return job
            time.sleep(0.2)
        return {"status": "timeout", "error": f"not finished after {timeout:.0f} s"}


def hashes(*roots: Path) -> dict[str, str]:
    out = {}
    for root in roots:
        for p in ([root] if root.is_file() else sorted(root.rglob("*"))):
            if p.is_file():
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def lost(before: dict[str, str]) -> int:
    return sum(1 for p, h in before.items() if not Path(p).is_file() or hashlib.sha256(Path(p).read_bytes()).hexdigest() != h)


# ---- the files ---------------------------------------------------------------------------------

def html_big(out: Path, size: int) -> Path:
    """An ordinary-looking HTML book of `size` bytes: many paragraphs of Chinese text."""
    para = "<p>" + make_bombs.CHAPTER.replace("\n\n", "。") * 4 + "</p>\n"
    unit = para.encode()
    with open(out, "wb") as f:
        f.write(b"<html><head><meta charset='utf-8'><title>big</title></head><body>")
        for _ in range(size // len(unit)):
            f.write(unit)
        f.write(b"</body></html>")
    return out


def html_dense(out: Path, tags: int) -> Path:
    """The densest HTML under a tag limit: one-character paragraphs, `tags` '<' in all."""
    unit = "<p>图</p>".encode()
    with open(out, "wb") as f:
        f.write(b"<html><head><meta charset='utf-8'><title>t</title></head><body>")
        f.write(unit * ((tags - 8) // 2))
        f.write(b"</body></html>")
    return out


def bombs(folder: Path, want=lambda name: True) -> list[tuple[str, str, Path]]:
    """(case, what it is, file) for every hostile file of issue 20; bombs first."""
    made = [
        ("mimetype1g.epub", "1 MB EPUB, mimetype inflates to 1 GB", lambda p: make_bombs.epub_mimetype_bomb(p, 1024 * MB)),
        ("mimetype3g.epub", "3 MB EPUB, mimetype inflates to 3 GB", lambda p: make_bombs.epub_mimetype_bomb(p, 3072 * MB)),
        ("dense480.epub", "EPUB declaring 480 MB of <p>图</p>", lambda p: make_bombs.epub_markup_bomb(p, 480 * MB)),
        ("dense380.odt", "ODT bomb, 380 MB of <text:p>", lambda p: make_bombs.odt_bomb(p, 380 * MB)),
        ("dense450.docx", "DOCX bomb, 450 MB of w:p", lambda p: make_bombs.docx_bomb(p, 450 * MB)),
        ("flate1g.pdf", "1 MB PDF, 1 GB FlateDecode content stream", lambda p: make_bombs.pdf_flate_bomb(p, 1024 * MB)),
        ("big95.html", "95 MB HTML (under the upload limit)", lambda p: html_big(p, 95_000_000)),
        ("dense60.epub", "EPUB, one part of 60 MB <p>图</p> (under the 64 MB part limit)",
         lambda p: make_bombs.epub_markup_bomb(p, 60 * MB)),
        ("dense60.odt", "ODT, content.xml of 60 MB <text:p> (under the part limit)", lambda p: make_bombs.odt_bomb(p, 60 * MB)),
        ("dense60.docx", "DOCX, document.xml of 60 MB w:p (under the part limit)", lambda p: make_bombs.docx_bomb(p, 60 * MB)),
        ("book60.html", "60 MB book HTML (under the 64 MB HTML limit)", lambda p: html_big(p, 60_000_000)),
        ("densetags.html", "<p>图</p> to just under the 1.5 M tag limit (7.5 MB)", lambda p: html_dense(p, 1_490_000)),
        ("loop.pdf", "damaged PDF (page tree lists itself)", make_bombs.pdf_self_loop),
        ("书" * 84 + ".txt", "long CJK name (84 CJK + .txt; on disk as longname.txt)", lambda p: p.write_text(make_bombs.CHAPTER * 3, encoding="utf-8") or p),
        ("\u202eabc\u202c.txt", "bidi name (U+202E ... U+202C; on disk as bidi.txt)", lambda p: p.write_text(make_bombs.CHAPTER, encoding="utf-8") or p),
    ]
    out = []
    for name, what, make in made:
        if not want(name):
            continue
        path = folder / ("longname.txt" if len(name) > 80 else "bidi.txt" if "\u202e" in name else name)
        if not path.exists():
            make(path)
        out.append((name, what, path))
    return out


BOMBS = {"mimetype1g.epub", "mimetype3g.epub", "dense480.epub", "dense380.odt", "dense450.docx", "flate1g.pdf", "big95.html",
         "dense60.epub", "dense60.odt", "dense60.docx", "book60.html", "densetags.html"}


def short(text: str, n: int = 150) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[:n - 1] + "…"


# ---- the runs ----------------------------------------------------------------------------------

def run_uploads(server: Server, files, rows: list[Row]) -> None:
    for name, what, path in files:
        label = name if len(name) < 30 else name[:6] + f"…({len(name)} chars)"
        row = Row(label, "HTTP upload")
        before_tb = server.tracebacks()
        before = hashes(path)
        time.sleep(1.0)
        t = time.monotonic()
        with Sampler(server.proc.pid) as s:
            with open(path, "rb") as f:
                r = server.http.post("/documents", files={"file": (name, f)})
            if r.status_code == 202:
                job = server.wait_job(r.json()["job"]["job_id"])
                row.outcome = f"202 then {job['status']}: " + short(job.get("error") or job.get("result") or "")
                if job["status"] == "done":
                    docs = server.http.get("/documents").json()["documents"]
                    source = next((d["source"] for d in docs if d["source"].endswith(".txt") and name[-10:] in d["source"]
                                   or d["source"] == name), None)
                    row.outcome += f" source={source!r}" if source else ""
            else:
                row.outcome = f"{r.status_code}: " + short(r.json().get("detail", r.text) if r.headers.get(
                    "content-type", "").startswith("application/json") else r.text)
                row.five_xx += r.status_code >= 500
        row.seconds = time.monotonic() - t
        row.peak_mb = s.above
        row.tracebacks = server.tracebacks() - before_tb
        row.lost = lost(before)
        row.notes.append(what)
        rows.append(row)
        print(f"  [{row.case}] {row.outcome[:120]} {row.seconds:.1f}s +{row.peak_mb:.0f}MB", file=sys.stderr, flush=True)


def run_cli(work: Path, index: Path, files, rows: list[Row]) -> None:
    tmp = work / "tmp-cli"
    tmp.mkdir(exist_ok=True)
    for name, what, path in files:
        label = name if len(name) < 30 else name[:6] + f"…({len(name)} chars)"
        row = Row(label, "CLI add")
        before = hashes(path, index)
        code, err, secs, peak = cli(["add", str(path), "--index", str(index)], tmp)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        row.outcome = f"exit {code}, {len(lines)} line(s): " + short(lines[-1] if lines else "")
        row.tracebacks = err.count("Traceback")
        row.seconds, row.peak_mb = secs, peak
        row.lost = lost({p: h for p, h in before.items() if code != 0 or not p.startswith(str(index))})
        row.notes.append(what + " (peak is the whole CLI process tree, model included)")
        rows.append(row)
        print(f"  [cli {row.case}] {row.outcome[:120]} {secs:.1f}s {peak:.0f}MB", file=sys.stderr, flush=True)


def run_questions(server: Server, rows: list[Row]) -> None:
    row = Row("content-free questions", "HTTP /ask")
    before_tb = server.tracebacks()
    kinds = []
    for q in QUESTIONS:
        r = server.http.post("/ask", json={"question": q})
        row.five_xx += r.status_code >= 500
        body = r.json()
        kinds.append(f"{q[:12]!r}: {r.status_code}/{body.get('confidence', 'refused' if r.status_code == 422 else '?')}"
                     + (f" {short(body.get('answer', ''), 40)!r}" if body.get("confidence") == "high" else ""))
    row.outcome = ", ".join(kinds)
    row.tracebacks = server.tracebacks() - before_tb
    rows.append(row)


def run_flood(work: Path, index: Path, small: Path, rows: list[Row], n: int = 50) -> None:
    """n uploads at once, then SIGTERM: statuses, and the upload folders left behind."""
    server = Server(index, work, "flood")
    row = Row(f"{n} concurrent uploads + SIGTERM", "HTTP")

    def one(i: int) -> int:
        import httpx
        with httpx.Client(base_url=server.base, trust_env=False, timeout=120) as c:
            data = small.read_bytes() + f"\n\n第{i}份。".encode()
            return c.post("/documents", files={"file": (f"flood{i}.txt", data)}).status_code

    with ThreadPoolExecutor(n) as pool:
        codes = list(pool.map(one, range(n)))
    server.stop(signal.SIGTERM)
    counts = {c: codes.count(c) for c in sorted(set(codes))}
    row.five_xx = sum(v for c, v in counts.items() if c >= 500)
    row.tracebacks = server.tracebacks()
    left = server.uploads_left()
    row.outcome = f"statuses {counts}; upload folders left after SIGTERM: {left}"
    row.lost = left  # each is a user's upload left on disk
    rows.append(row)


def run_kill9(work: Path, index: Path, small: Path, big: Path, rows: list[Row], runs: int = 3) -> None:
    """kill -9 the server while it reads an upload; then: the reading child gone? the upload folder
    swept at the next start? the library still loads with the same documents?"""
    row = Row("kill -9 during uploads", "HTTP")
    orphans = swept = 0
    lib_ok = 0
    for i in range(runs):
        server = Server(index, work, "kill9")
        docs_before = [d["doc_id"] for d in server.http.get("/documents").json()["documents"]]
        with open(big, "rb") as f:
            server.http.post("/documents", files={"file": (f"big{i}.html", f)})
        time.sleep(3.0)
        kids = [p for p in tree_pids(server.proc.pid) if p != server.proc.pid]
        server.stop(signal.SIGKILL)
        time.sleep(2.0)
        alive = [p for p in kids if Path(f"/proc/{p}").exists() and "Z" not in Path(f"/proc/{p}/stat").read_text().split(")")[1][:3]]
        orphans += bool(alive)
        for p in alive:
            os.kill(p, signal.SIGKILL)
        left_before = server.uploads_left()
        again = Server(index, work, "kill9")
        swept += left_before - again.uploads_left()
        docs_after = [d["doc_id"] for d in again.http.get("/documents").json()["documents"]]
        lib_ok += docs_after == docs_before
        again.stop()
        row.tracebacks += again.tracebacks() - server.tracebacks() if False else 0
    row.tracebacks = again.tracebacks()
    row.outcome = (f"{runs} kills: reading child outlived the server in {orphans}; upload folders swept at restart {swept}; "
                   f"library unchanged {lib_ok}/{runs}")
    row.lost = runs - lib_ok
    rows.append(row)


def run_user_manifest(work: Path, rows: list[Row], text: Path) -> None:
    folder = work / "mydocs"
    folder.mkdir(exist_ok=True)
    (folder / "manifest.json").write_text('{"name": "my project", "version": 3}\n')
    (folder / "notes.txt").write_text("我的笔记\n")
    before = hashes(folder)
    tmp = work / "tmp-cli"
    tmp.mkdir(exist_ok=True)
    outs = []
    for args in (["list", "--index", str(folder)], ["add", str(text), "--index", str(folder)],
                 ["build", str(text), "--index", str(folder)]):
        code, err, _, _ = cli(args, tmp)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        outs.append(f"{args[0]}: exit {code} {short(lines[-1] if lines else '', 110)}")
        rows_tb = err.count("Traceback")
        if rows_tb:
            outs[-1] += " TRACEBACK"
    row = Row("user folder with its own manifest.json", "CLI list/add/build")
    row.outcome = " | ".join(outs)
    row.tracebacks = sum(o.endswith("TRACEBACK") for o in outs)
    row.lost = lost(before)
    rows.append(row)


def run_user_siblings(work: Path, library: Path, text: Path, rows: list[Row]) -> None:
    """`.NAME.previous` and `.NAME.building-x` folders the user made beside a library: a change
    must neither remove nor replace them."""
    lib = work / "shelf"
    if lib.exists():
        shutil.rmtree(lib)
    shutil.copytree(library, lib)
    mine = [work / ".shelf.previous", work / ".shelf.building-mine"]
    for folder in mine:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        (folder / "thesis.txt").write_text("my thesis draft\n", encoding="utf-8")
    before = hashes(*mine)
    tmp = work / "tmp-cli"
    tmp.mkdir(exist_ok=True)
    gamma = work / "files" / "gamma.txt"
    gamma.write_text(make_bombs.CHAPTER.replace("外汇", "伽马") * 3, encoding="utf-8")
    code, err, secs, _ = cli(["add", str(gamma), "--index", str(lib)], tmp)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    row = Row(".shelf.previous/.building-* (user's)", "CLI add")
    row.outcome = f"exit {code}: {short(lines[-1] if lines else '', 110)}; user files intact {len(before) - lost(before)}/{len(before)}"
    row.tracebacks, row.lost, row.seconds = err.count("Traceback"), lost(before), secs
    rows.append(row)


def run_milvus(work: Path, library: Path, rows: list[Row]) -> None:
    """Milvus Lite targets: a `.db` that is the user's own file, a damaged database, two migrates
    into one new database at once."""
    tmp = work / "tmp-cli"
    tmp.mkdir(exist_ok=True)
    outs, row = [], Row("Milvus Lite .db: user file/damaged/two at once", "CLI migrate/list")
    mine = work / "mine.db"
    mine.write_text("my own notes, not a database\n", encoding="utf-8")
    before = hashes(mine)
    code, err, _, _ = cli(["migrate", "--from", str(library), "--to", f"milvus-lite://{mine}/docs", "-q"], tmp)
    outs.append(f"user file: exit {code} {short(err.strip().splitlines()[-1] if err.strip() else '', 90)}")
    row.tracebacks += err.count("Traceback")
    good = work / "good.db"
    shutil.rmtree(good, ignore_errors=True)
    code, err, _, _ = cli(["migrate", "--from", str(library), "--to", f"milvus-lite://{good}/docs", "-q"], tmp)
    row.tracebacks += err.count("Traceback")
    if code == 0:
        for f in sorted(p for p in good.rglob("*") if p.is_file() and p.stat().st_size > 64):
            data = bytearray(f.read_bytes())
            data[len(data) // 3: len(data) // 3 + 4096] = b"\xff" * min(4096, len(data) - len(data) // 3)
            f.write_bytes(bytes(data))
        code, err, _, _ = cli(["list", "--index", f"milvus-lite://{good}/docs"], tmp)
        outs.append(f"damaged: exit {code} {short(err.strip().splitlines()[-1] if err.strip() else '', 90)}")
        row.tracebacks += err.count("Traceback")
    else:
        outs.append(f"migrate failed: exit {code} {short(err, 90)}")
    two = work / "two.db"
    shutil.rmtree(two, ignore_errors=True)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda i: cli(["migrate", "--from", str(library), "--to", f"milvus-lite://{two}/docs",
                                               "-q"], work / f"tmp-two{i}"), [0, 1]
                                if all((work / f"tmp-two{i}").mkdir(exist_ok=True) is None for i in (0, 1)) else []))
    for code, err, _, _ in results:
        outs.append(f"two at once: exit {code} {short(err.strip().splitlines()[-1] if err.strip() else 'ok', 70)}")
        row.tracebacks += err.count("Traceback")
    row.outcome = " | ".join(outs)
    row.lost = lost(before)
    rows.append(row)


def run_open_host(work: Path, library: Path, small: Path, rows: list[Row]) -> None:
    """A server bound off the loopback without DOCQA_API_KEY: answers questions, refuses writes."""
    server = Server(library, work, "open", host="0.0.0.0")
    try:
        row = Row("0.0.0.0 without DOCQA_API_KEY", "HTTP")
        up = server.http.post("/documents", files={"file": ("open.txt", small.read_bytes())})
        docs = server.http.get("/documents").json()["documents"]
        rm = server.http.delete(f"/documents/{docs[0]['doc_id']}")
        ask = server.http.post("/ask", json={"question": "本书讲了什么？"})
        said = "DOCQA_API_KEY" in server.log.read_text(errors="replace")
        row.outcome = (f"upload {up.status_code}, delete {rm.status_code}, ask {ask.status_code}; "
                       f"warned at start: {said}; {short(up.json().get('detail', ''), 80)}")
        row.five_xx = sum(r.status_code >= 500 for r in (up, rm, ask))
    finally:
        server.stop()
    row.tracebacks = server.tracebacks()
    rows.append(row)


def print_table(rows: list[Row]) -> None:
    print(f"{'case':34} {'how':16} {'5xx':>3} {'tb':>3} {'lost':>4} {'peak+MB':>8} {'sec':>6}  outcome")
    for r in rows:
        peak = f"{r.peak_mb:8.0f}" if r.peak_mb is not None else f"{'-':>8}"
        secs = f"{r.seconds:6.1f}" if r.seconds is not None else f"{'-':>6}"
        print(f"{r.case[:34]:34} {r.how[:16]:16} {r.five_xx:3d} {r.tracebacks:3d} {r.lost:4d} {peak} {secs}  {r.outcome}")
    for r in rows:
        if r.notes:
            print(f"  {r.case}: {'; '.join(r.notes)}")


def run_main_server(work: Path, library: Path, files, files_dir: Path, small: Path, want, rows: list[Row]) -> None:
    """The uploads and the questions on one loopback server."""
    from tests.bookgen import book

    server = Server(library, work, "main", DOCQA_MAX_WAITING_JOBS="2")
    try:
        warm = files_dir / "warm.txt"
        warm.write_text(book(2000, chapters_per_volume=1, sections=1, paragraphs=1, seed=5), encoding="utf-8")
        with open(warm, "rb") as f:
            r = server.http.post("/documents", files={"file": ("warm.txt", f)})
        if r.status_code == 202:
            server.wait_job(r.json()["job"]["job_id"])  # loads the model: not a bomb's cost
        run_uploads(server, files, rows)
        if want("questions"):
            run_questions(server, rows)
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", help="case names (file names, or: questions siblings milvus open flood kill9 manifest)")
    ap.add_argument("--skip-cli", action="store_true")
    ap.add_argument("--work", type=Path, help="keep the made files here (default: a temp folder)")
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="docqa-battery-"))
    work.mkdir(parents=True, exist_ok=True)
    files_dir = work / "files"
    files_dir.mkdir(exist_ok=True)
    want = (lambda n: not args.only or n in args.only)
    t0 = time.monotonic()
    files = bombs(files_dir, lambda n: want(n) or bool(args.only and any(o in n or (o == "bidi" and "\u202e" in n)
                                                                       for o in args.only)))
    if (files_dir / "loop.pdf").exists():
        import pypdfium2
        try:
            pypdfium2.PdfDocument(files_dir / "loop.pdf")[0]
            print("note: PDFium loaded the damaged PDF's first page", file=sys.stderr)
        except Exception as e:  # the point: it is damaged
            print(f"damaged PDF checked with PDFium: {type(e).__name__}: {e}", file=sys.stderr)
    small = files_dir / "small.txt"
    from tests.bookgen import book
    small.write_text(book(3000, chapters_per_volume=2, sections=2, paragraphs=1, seed=3), encoding="utf-8")
    print(f"made files in {time.monotonic() - t0:.0f} s", file=sys.stderr)

    library = work / "library"
    if not library.exists():
        code, err, secs, _ = cli(["add", str(small), "--index", str(library)], work)
        assert code == 0, err
    lib_hashes = hashes(library)
    rows: list[Row] = []
    if files or want("questions"):
        run_main_server(work, library, files, files_dir, small, want, rows)
    if not args.skip_cli and files:
        cli_lib = work / "cli-library"
        if not cli_lib.exists():
            shutil.copytree(library, cli_lib)
        run_cli(work, cli_lib, files, rows)
    if want("manifest"):
        run_user_manifest(work, rows, small)
    if want("siblings"):
        run_user_siblings(work, library, small, rows)
    if want("milvus"):
        run_milvus(work, library, rows)
    if want("open"):
        run_open_host(work, library, small, rows)
    if want("flood"):
        run_flood(work, library, small, rows)
    if want("kill9"):
        big = bombs(files_dir, lambda n: n == "book60.html")[0][2]
        run_kill9(work, library, small, big, rows)
    print(f"docqa hostile battery (issue 20), {platform.processor() or platform.machine()}, "
          f"{_cpu()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; {time.monotonic() - t0:.0f} s")
    print(f"target: bombs <= {TARGET_MB} MB above the server's baseline and <= {TARGET_S} s; 0 5xx, 0 tracebacks, 0 lost")
    print_table(rows)
    bad = [r.case for r in rows if not r.ok(r.case in BOMBS and r.how == "HTTP upload")]
    print(f"over target or failing: {', '.join(bad) if bad else 'none'}")
    del lib_hashes
    return 0


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "?"


if __name__ == "__main__":
    sys.exit(main())
