"""What survives a kill, a race and a damaged file: real builds in real subprocesses.

The builds use the fake embedder (made slow on purpose) so a kill lands while the model would be
working; everything else — bm25s, FAISS, the lock, the temp-dir-and-rename swap — is the real code.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from docqa.index.store.directory import (BM25_DIR, DOCUMENTS, FORMAT_VERSION, MANIFEST, PASSAGES, SENTENCES, TERMS, VECTORS,
                         IndexLoadError, build_index, load_index, sha256_file)
from docqa.service.cli import main
from tests.fakes import FakeEmbedder, make_corpus
from tests.serving import stop

ROOT = Path(__file__).resolve().parents[1]
CHUNKER = {"target_chars": 300, "overlap_sentences": 1}
OLD = ["丝绸之路经济带主要有三个走向。", "海上丝绸之路重点方向有两条。", "中国外汇储备接近4万亿美元。"]
NEW_A = ["甲方案：钢铁行业的产能利用率较低。", "甲方案：水泥行业需要走出去。"]
NEW_B = ["乙方案：高铁和核电是合作重点。", "乙方案：中亚是陆上的重要方向。", "乙方案：东南亚港口。"]

# A build in its own process. The embedder sleeps so the parent can kill or race it mid-embedding;
# each call appends "pid start end" to a log so the parent can tell whether builds overlapped.
BUILD_SCRIPT = """
import json, os, sys, time
from pathlib import Path
from docqa.index.store.directory import build_index
from tests.fakes import FakeEmbedder, make_corpus

target, log, delay, texts = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), json.loads(sys.argv[4])

class Slow(FakeEmbedder):
    def encode_passages(self, texts, **kw):
        t0 = time.time()
        with open(log, "a") as f:
            f.write(f"{os.getpid()} start {t0}\\n")
        time.sleep(delay)
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {t0} {time.time()}\\n")
        return super().encode_passages(texts, **kw)

build_index(make_corpus({1: texts}), target, Slow(), chunker=%r, progress=False, say=None)
""" % (CHUNKER,)

# A build that SIGKILLs itself at a chosen point of the swap, to leave exactly what a power cut would.
SWAP_KILL_SCRIPT = """
import json, os, shutil, signal, sys
from pathlib import Path
import docqa.index.store.directory as store
from tests.fakes import FakeEmbedder, make_corpus

target, point, texts = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
real_rename, real_rmtree = os.rename, shutil.rmtree
renames = []

def rename(a, b):
    real_rename(a, b)
    renames.append((a, b))
    if point == "between-renames" and len(renames) == 1:
        os.kill(os.getpid(), signal.SIGKILL)

def rmtree(path, *a, **k):
    if point == "before-backup-removed" and len(renames) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_rmtree(path, *a, **k)

store.os.rename = rename
store.shutil.rmtree = rmtree
store.build_index(make_corpus({1: texts}), target, FakeEmbedder(), chunker=%r, progress=False, say=None)
""" % (CHUNKER,)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _spawn(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _snapshot(index_dir: Path) -> dict[str, bytes]:
    return {p.relative_to(index_dir).as_posix(): p.read_bytes() for p in sorted(index_dir.rglob("*")) if p.is_file()}


def _texts(index_dir: Path) -> list[str]:
    return [p.text for p in load_index(index_dir).passages]


def _leftovers(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.parent.iterdir()
                  if p.name.startswith(f".{index_dir.name}.") and not p.name.endswith(".lock"))


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture()
def previous(tmp_path) -> Path:
    target = tmp_path / "idx"
    build_index(make_corpus({1: OLD}), target, FakeEmbedder(), chunker=CHUNKER, progress=False, say=None)
    return target


# ---- killed and concurrent builds -------------------------------------------------------------

def test_build_killed_while_embedding_leaves_previous_index_byte_identical(previous, tmp_path):
    before = _snapshot(previous)
    log = tmp_path / "embed.log"
    proc = _spawn(BUILD_SCRIPT, str(previous), str(log), "60", json.dumps(NEW_A))
    try:
        _wait_for(lambda: log.exists() and "start" in log.read_text(), 60, "the build to start embedding")
        assert proc.poll() is None, proc.communicate()
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

    assert _snapshot(previous) == before
    assert _texts(previous) == OLD
    assert _leftovers(previous) == []  # embedding comes before anything is written

    build_index(make_corpus({1: NEW_B}), previous, FakeEmbedder(), chunker=CHUNKER, progress=False, say=None)
    assert _leftovers(previous) == []
    assert _texts(previous) == NEW_B


@pytest.mark.parametrize("point, survivor", [("between-renames", OLD), ("before-backup-removed", NEW_A)])
def test_build_killed_during_the_swap_leaves_one_whole_index(previous, point, survivor):
    """Between the two renames no index is at the path at all: the next load puts the previous one back."""
    before = _snapshot(previous)
    proc = _spawn(SWAP_KILL_SCRIPT, str(previous), point, json.dumps(NEW_A))
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err
    assert _leftovers(previous), "the kill should have left the backup behind"

    assert _texts(previous) == survivor
    if survivor is OLD:
        assert _snapshot(previous) == before
    build_index(make_corpus({1: NEW_B}), previous, FakeEmbedder(), chunker=CHUNKER, progress=False, say=None)
    assert _leftovers(previous) == []
    assert _texts(previous) == NEW_B


def test_two_builds_at_once_are_serialised_by_the_lock(previous, tmp_path):
    log = tmp_path / "embed.log"
    procs = {name: _spawn(BUILD_SCRIPT, str(previous), str(log), "1.5", json.dumps(texts))
             for name, texts in (("a", NEW_A), ("b", NEW_B))}
    results = {name: p.communicate(timeout=180) for name, p in procs.items()}
    for name, p in procs.items():
        assert p.returncode == 0, results[name][1]

    calls: dict[int, list[tuple[float, float]]] = {}
    for line in log.read_text().splitlines():
        pid, a, b = line.split()
        if a != "start":
            calls.setdefault(int(pid), []).append((float(a), float(b)))
    pids = {name: p.pid for name, p in procs.items()}
    spans = {name: (min(s for s, _ in calls[pid]), max(e for _, e in calls[pid])) for name, pid in pids.items()}
    first, last = sorted(spans, key=lambda n: spans[n][0])
    assert spans[first][1] <= spans[last][0], f"the two builds embedded at the same time: {spans}"

    assert _texts(previous) == {"a": NEW_A, "b": NEW_B}[last]
    assert _leftovers(previous) == []
    manifest = json.loads((previous / MANIFEST).read_text(encoding="utf-8"))
    for name, meta in manifest["files"].items():
        assert sha256_file(previous / name) == meta["sha256"]


# ---- damaged indexes: refused with the problem named ------------------------------------------
# tests/index/test_store.py already covers vectors.faiss truncated or flipped, bm25/ deleted and a
# manifest that is not JSON; these are the other ways an index goes bad.

def _resign(index_dir: Path) -> None:
    """Rewrite the manifest's checksums to match the files, as a careless hand edit would."""
    path = index_dir / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for name in manifest["files"]:
        p = index_dir / name
        manifest["files"][name] = {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def _edit_manifest(index_dir: Path, change) -> None:
    path = index_dir / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    change(manifest)
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def _bm25_file(index_dir: Path) -> Path:
    return sorted((index_dir / BM25_DIR).glob("*.json"))[0]


def _drop_last_line(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-1]), encoding="utf-8")


def _cut_mid_line(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 25])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x5A
    path.write_bytes(bytes(data))


DAMAGES = {
    "passages.jsonl cut mid-line": (lambda d: _cut_mid_line(d / PASSAGES), r"passages\.jsonl .*truncated or changed"),
    "passages.jsonl short, manifest re-signed": (
        lambda d: (_drop_last_line(d / PASSAGES), _resign(d)), r"inconsistent \(2 passages, manifest says 3; 3 vectors for 2 passages"),
    "passages.jsonl cut mid-line, manifest re-signed": (
        lambda d: (_cut_mid_line(d / PASSAGES), _resign(d)), r"cannot be read \((JSONDecodeError|UnicodeDecodeError)"),
    "passages.jsonl missing": (lambda d: (d / PASSAGES).unlink(), r"passages\.jsonl is missing"),
    "sentences.npz missing": (lambda d: (d / SENTENCES).unlink(), r"sentences\.npz is missing"),
    "documents.json emptied": (lambda d: (d / DOCUMENTS).write_text(""), r"documents\.json .*truncated or changed"),
    "terms.json flipped byte": (lambda d: _flip(d / TERMS), r"terms\.json .*checksum \(corrupted\)"),
    "bm25 file flipped byte": (lambda d: _flip(_bm25_file(d)), r"bm25/.*\.json .*checksum \(corrupted\)"),
    "bm25 file garbage, manifest re-signed": (
        lambda d: (_bm25_file(d).write_text("{garbage"), _resign(d)), r"cannot be read"),
    "manifest with wrong passage count": (
        lambda d: _edit_manifest(d, lambda m: m["counts"].update(passages=7)),
        r"inconsistent \(3 passages, manifest says 7\)"),
    "manifest from a future format": (
        lambda d: _edit_manifest(d, lambda m: m.update(format_version=FORMAT_VERSION + 1)),
        rf"has index format {FORMAT_VERSION + 1}, this docqa reads format {FORMAT_VERSION}"),
    "manifest without a format": (
        lambda d: _edit_manifest(d, lambda m: m.pop("format_version")), r"has index format None"),
    "manifest with another model's dimension": (
        lambda d: _edit_manifest(d, lambda m: m["model"].update(name="other-384", dimension=384)),
        r"vector dimension 64, model dimension 384"),
    "manifest is a list": (lambda d: (d / MANIFEST).write_text("[]"), r"has index format None"),
    "manifest missing": (lambda d: (d / MANIFEST).unlink(), r"is a damaged docqa index \(manifest\.json is missing\)"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_index_is_refused_naming_the_problem(previous, damage):
    do, expected = DAMAGES[damage]
    do(previous)
    with pytest.raises(IndexLoadError, match=expected) as info:
        load_index(previous)
    assert re.search(r"docqa build (PATH )?--index", str(info.value))


# Manifests that are valid JSON of the right format but lack what load_index reads: these should be
# refusals too. They are bugs in index/store/directory.py (see the reliability notes in BENCHMARKS.md).
BAD_MANIFESTS = {
    "no model": lambda m: m.pop("model"),
    "no counts": lambda m: m.pop("counts"),
    "model is a string": lambda m: m.update(model="fake-bigram-64"),
    "file entry without bytes": lambda m: m["files"][PASSAGES].pop("bytes"),
}


@pytest.mark.parametrize("damage", list(BAD_MANIFESTS))
def test_manifest_missing_fields_is_a_refusal(previous, damage):
    _edit_manifest(previous, BAD_MANIFESTS[damage])
    with pytest.raises(IndexLoadError):
        load_index(previous)


def test_manifest_without_file_list_does_not_skip_the_checks(previous):
    _flip(previous / VECTORS)  # corrupts stored vector values; FAISS still reads the file
    _edit_manifest(previous, lambda m: m.pop("files"))
    with pytest.raises(IndexLoadError):
        load_index(previous)


@pytest.mark.parametrize("command", [["search", "外汇储备"], ["ask", "外汇储备"], ["chapters"]])
@pytest.mark.parametrize("damage", ["passages.jsonl cut mid-line", "manifest from a future format",
                                    "bm25 file flipped byte", "sentences.npz missing"])
def test_cli_prints_the_refusal_and_exits_1(previous, capsys, command, damage, tmp_path, monkeypatch):
    for key in [k for k in os.environ if k.startswith("DOCQA_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("DOCQA_CACHE_DIR", str(tmp_path / "cache"))
    do, expected = DAMAGES[damage]
    do(previous)
    code = main([*command, "--index", str(previous)])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.startswith("docqa: error: ") and len(err.strip().splitlines()) == 1, err
    assert re.search(expected, err), err
    assert not (tmp_path / "cache" / "models").exists(), "a damaged index must be refused before the model loads"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("damage", ["passages.jsonl short, manifest re-signed", "bm25 file flipped byte"])
def test_serve_on_a_damaged_index_is_not_ready_and_says_why(previous, tmp_path, damage):
    do, expected = DAMAGES[damage]
    do(previous)
    port = _free_port()
    env = {k: v for k, v in _env().items() if not k.startswith("DOCQA_")} | {"DOCQA_CACHE_DIR": str(tmp_path / "cache")}
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "docqa.service.cli", "serve", "--port", str(port),
                                 "--index", str(previous)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, trust_env=False, timeout=10) as c:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the server never finished loading"
                try:
                    r = c.get("/readyz")
                    if "loading" not in r.json()["detail"]:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            assert r.status_code == 503
            detail = r.json()["detail"]
            assert "IndexLoadError" in detail and re.search(expected, detail), detail
            assert c.get("/healthz").status_code == 200
            asked = c.post("/ask", json={"question": "外汇储备有多少？"})
            assert asked.status_code == 503 and "could not be loaded" in asked.json()["detail"]
    finally:
        stop(proc)
