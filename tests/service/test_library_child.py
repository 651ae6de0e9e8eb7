"""Library changes run in a child process (issue 25, "the server stays light"), with the real
model, the real app, the real `docqa serve` and real files: the server does not keep the passage
encoder after an upload, a killed change's child leaves the index as it was, and the child dies
with its server."""
from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.bookgen import book
from tests.service.test_library import base_library, library_dir, make_client, tree, upload, wait  # noqa: F401 (fixtures)
from tests.serving import proc_status, served


def small_book(seed: int, chars: int = 3000) -> bytes:
    return book(chars, chapters_per_volume=2, sections=2, paragraphs=1, seed=seed).encode("utf-8")


def children_of(pid: int) -> list[int]:
    """Processes whose parent is `pid` (from /proc, Linux)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def wait_for_stage(get_job, word: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = get_job()
        if job["stage"].startswith(word):
            return job
        assert job["status"] in ("queued", "running") and time.monotonic() < deadline, job
        time.sleep(0.1)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads memory from /proc (Linux)")
def test_the_server_does_not_keep_the_model_work_of_an_upload_and_its_child_dies_with_it(tmp_path, cache_dir):
    """`docqa serve` on a new library: after the first upload (the first build) the server's own
    RSS grew by far less than a passage encoder (about 800 MB when the add ran in the server:
    177 MB at start, 970 MB after one upload, issue 25); the book is served. A second upload is
    under way in a child when the server is SIGKILLed: the child is gone soon after."""
    library = tmp_path / "library"
    with served(library, cache_dir, log_path=tmp_path / "serve.log") as server:
        with httpx.Client(base_url=server.base_url, trust_env=False, timeout=30) as client:
            assert client.get("/readyz").json()["status"] == "empty"
            at_start = proc_status(server.pid)["VmRSS"] / 1024
            r = client.post("/documents", files={"file": ("第一本.txt", small_book(1), "text/plain")})
            assert r.status_code == 202, r.text
            job = wait(client, r.json()["job"]["job_id"])
            assert job["status"] == "done", job
            grown = proc_status(server.pid)["VmRSS"] / 1024 - at_start
            assert grown < 250, (f"the server grew by {grown:.0f} MB over the first build "
                                 f"(from {at_start:.0f} MB)\n{server.log_tail()}")
            assert client.get("/readyz").json()["documents"] == 1

            r = client.post("/documents", files={"file": ("第二本.txt", small_book(2, 12000), "text/plain")})
            job_id = r.json()["job"]["job_id"]
            wait_for_stage(lambda: client.get(f"/documents/jobs/{job_id}").json(), "embedding")
            changers = [pid for pid in children_of(server.pid)
                        if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
            assert len(changers) == 1, changers
        os.kill(server.pid, signal.SIGKILL)
        server.proc.wait()
        deadline = time.monotonic() + 15
        while Path(f"/proc/{changers[0]}").exists() and b"Z" not in _state(changers[0]):
            assert time.monotonic() < deadline, "the change's child outlived its server"
            time.sleep(0.1)


def _state(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return b"Z"


@pytest.mark.parametrize("how, reason", [("kill", "ended without a result"), ("terminate", "was stopped by SIGTERM")])
def test_a_killed_change_child_fails_its_job_and_leaves_the_index_as_it_was(library_dir, cache_dir, embedder, how,
                                                                            reason):
    """The child running an add is SIGKILLed (as the OOM killer does) or SIGTERMed (as a service
    manager does) while it embeds: the job fails with a one-line reason that says which, the index
    is byte for byte as it was, the server keeps serving, and the next upload works."""
    before = tree(library_dir)
    app, client = make_client(library_dir, cache_dir, embedder)
    with client:
        job_id = upload(client, "长书.txt", small_book(3, 20000)).json()["job"]["job_id"]
        wait_for_stage(lambda: client.get(f"/documents/jobs/{job_id}").json(), "embedding")
        children = [p for p in multiprocessing.active_children() if p.name == "docqa-add"]
        assert len(children) == 1, children
        getattr(children[0], how)()
        job = wait(client, job_id, timeout=60)
        assert job["status"] == "failed" and reason in job["error"], job
        assert "\n" not in job["error"]
        assert tree(library_dir) == before
        assert client.get("/readyz").json()["documents"] == 1

        job = wait(client, upload(client, "短书.txt", small_book(4)).json()["job"]["job_id"])
        assert job["status"] == "done", job
        assert [d["doc_id"] for d in client.get("/documents").json()["documents"]] == ["book", "短书"]
    assert app.state.docqa.internal_errors == 0


def test_cancelling_an_upload_while_its_child_embeds_stops_it_and_keeps_the_index(library_dir, cache_dir, embedder):
    """DELETE /documents/jobs/{id} while the child embeds: cancelled within seconds (at the
    child's next embedding batch), the child gone, the index unchanged."""
    before = tree(library_dir)
    app, client = make_client(library_dir, cache_dir, embedder)
    with client:
        job_id = upload(client, "长书.txt", small_book(5, 20000)).json()["job"]["job_id"]
        wait_for_stage(lambda: client.get(f"/documents/jobs/{job_id}").json(), "embedding")
        assert client.delete(f"/documents/jobs/{job_id}").status_code == 200
        t0 = time.monotonic()
        job = wait(client, job_id, timeout=60)
        assert job["status"] == "cancelled" and job["error"] == "cancelled; the index is unchanged", job
        assert time.monotonic() - t0 < 20
        assert [p for p in multiprocessing.active_children() if p.name == "docqa-add"] == []
    assert tree(library_dir) == before
    assert app.state.docqa.internal_errors == 0


def test_a_change_uses_no_named_semaphores_so_none_leaks_when_the_server_stops(library_dir, cache_dir, embedder,
                                                                              monkeypatch):
    """A change started and cancelled registers no POSIX semaphore with Python's resource_tracker:
    the stop used to be a multiprocessing Event (5 named semaphores), which the tracker reported
    as "5 leaked semaphore objects" when a server stopped during a change (hostile battery,
    50 uploads then SIGTERM)."""
    from multiprocessing import resource_tracker

    registered = []
    real = resource_tracker.register
    monkeypatch.setattr(resource_tracker, "register", lambda name, kind: (registered.append(kind), real(name, kind)))
    before = tree(library_dir)
    _app, client = make_client(library_dir, cache_dir, embedder)
    with client:
        job_id = upload(client, "长书.txt", small_book(6, 20000)).json()["job"]["job_id"]
        wait_for_stage(lambda: client.get(f"/documents/jobs/{job_id}").json(), "embedding")
        assert client.delete(f"/documents/jobs/{job_id}").status_code == 200
        assert wait(client, job_id, timeout=60)["status"] == "cancelled"
    assert registered.count("semaphore") == 0, registered
    assert tree(library_dir) == before
