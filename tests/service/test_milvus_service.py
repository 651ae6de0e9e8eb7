"""The HTTP service over a Milvus store on a real Milvus server (Milvus Lite's gRPC server in a
subprocess) that goes away and comes back: 503 with the reason, never 500."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from docqa.index.store.milvus import migrate, open_store
from docqa.index.search.searcher import Searcher
from docqa.service.api import create_app
from tests.service.conftest import make_settings
from tests.serving import free_port


def _milvus_server(data_dir: Path, port: int) -> subprocess.Popen:
    exe = shutil.which("milvus-lite") or str(Path(sys.executable).with_name("milvus-lite"))
    proc = subprocess.Popen([exe, "server", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from pymilvus import MilvusClient

    deadline = time.monotonic() + 60
    while True:
        try:
            MilvusClient(f"http://127.0.0.1:{port}", timeout=2).list_collections()
            return proc
        except Exception:  # noqa: BLE001 - not up yet
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the Milvus Lite server did not start")
            time.sleep(0.3)


def _stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory, book_index):
    data, port = tmp_path_factory.mktemp("milvus-data"), free_port()
    proc = _milvus_server(data, port)
    uri = f"milvus://127.0.0.1:{port}/book"
    migrate(book_index, uri)
    state = {"proc": proc, "data": data, "port": port, "uri": uri}
    yield state
    _stop(state["proc"])


def test_a_store_that_goes_away_gives_503_with_the_reason_and_comes_back(milvus_server, book_index, cache_dir,
                                                                         embedder):
    uri = milvus_server["uri"]
    settings = make_settings(book_index, cache_dir, index=None, store=uri, store_timeout=5)
    app = create_app(settings, Searcher(open_store(uri), embedder))
    with TestClient(app) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["passages"] > 0
        assert client.post("/ask", json={"question": "本书一共分为几章？"}).status_code == 200

        _stop(milvus_server["proc"])
        for method, path, body in (("GET", "/readyz", None), ("GET", "/search?q=产能合作", None),
                                   ("POST", "/ask", {"question": "本书一共分为几章？"}),
                                   ("POST", "/v1/chat/completions",
                                    {"model": "docqa", "messages": [{"role": "user", "content": "本书一共分为几章？"}]})):
            r = client.request(method, path, json=body)
            assert r.status_code == 503, (path, r.text)
            message = r.text
            assert f"the Milvus store {uri} failed" in message and "check that Milvus is running" in message, message

        milvus_server["proc"] = _milvus_server(milvus_server["data"], milvus_server["port"])
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the service did not recover when Milvus came back"
            time.sleep(0.5)
        assert client.post("/ask", json={"question": "本书一共分为几章？"}).status_code == 200
    assert app.state.docqa.internal_errors == 0


def test_a_store_unreachable_at_start_makes_readyz_say_so_until_it_comes(book_index, cache_dir, tmp_path):
    port = free_port()
    uri = f"milvus://127.0.0.1:{port}/book"
    settings = make_settings(book_index, cache_dir, index=None, store=uri, store_timeout=5)
    app = create_app(settings)
    with TestClient(app) as client:
        deadline = time.monotonic() + 60
        while (r := client.get("/readyz")).status_code == 503 and "loading" in r.json()["detail"]:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert r.status_code == 503
        assert "StoreUnavailable" in r.json()["detail"] and f"the Milvus store {uri} failed to connect" in r.json()["detail"]
        ask = client.post("/ask", json={"question": "本书一共分为几章？"})
        assert ask.status_code == 503 and "failed to connect" in ask.json()["detail"]

        proc = _milvus_server(tmp_path / "data", port)
        try:
            migrate(book_index, uri)
            deadline = time.monotonic() + 120
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, "the service never opened the store once it was there"
                time.sleep(0.5)
            assert client.post("/ask", json={"question": "本书一共分为几章？"}).status_code == 200
        finally:
            _stop(proc)
    assert app.state.docqa.internal_errors == 0


def test_the_server_follows_a_rebuilt_store_without_a_restart(milvus_server, book_index, cache_dir, embedder):
    """Two rebuilds drop the generation the server opened: its next answer is a 503 with the
    reason, and it then opens the current generation by itself."""
    uri = f"milvus://127.0.0.1:{milvus_server['port']}/rebuilt"
    migrate(book_index, uri)
    settings = make_settings(book_index, cache_dir, index=None, store=uri, store_timeout=5)
    app = create_app(settings, Searcher(open_store(uri), embedder))
    question = {"question": "本书一共分为几章？"}
    with TestClient(app) as client:
        first = client.post("/ask", json=question)
        assert first.status_code == 200
        opened = app.state.docqa.searcher
        migrate(book_index, uri)
        migrate(book_index, uri)  # the generation the server reads is dropped now
        stale = client.post("/ask", json=question)
        assert stale.status_code == 503 and f"the Milvus store {uri}" in stale.text, stale.text
        deadline = time.monotonic() + 60
        while (r := client.post("/ask", json=question)).status_code != 200:
            assert r.status_code == 503, r.text
            assert time.monotonic() < deadline, "the server did not open the rebuilt store"
            time.sleep(0.5)
        assert app.state.docqa.searcher is not opened
        assert r.json()["answer"] == first.json()["answer"]
        assert client.get("/readyz").status_code == 200
    assert app.state.docqa.internal_errors == 0
