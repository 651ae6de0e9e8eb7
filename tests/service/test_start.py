"""What a server loads before it says it is ready, and what it leaves for later (issue 25: ready
in seconds on a built index). Each start runs in a fresh interpreter, since this test process has
long imported everything."""
from __future__ import annotations

import json
import subprocess
import sys

from .conftest import make_settings

START = r"""
import json, sys, time
from fastapi.testclient import TestClient
from docqa.service.api import create_app
from docqa.service.settings import Settings

settings = Settings.model_validate_json(sys.argv[1])
app = create_app(settings)
out = {}
with TestClient(app, base_url="http://127.0.0.1:8000") as c:
    deadline = time.monotonic() + 300
    while c.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "not ready in 300 s"
        time.sleep(0.05)
    out["loaded at ready"] = sorted(m for m in ("mcp", "pkg_resources", "scipy") if m in sys.modules)
    from docqa.index.answer import kinds as answer_types
    while answer_types._pos is None:
        assert time.monotonic() < deadline, "the part-of-speech tagger never loaded"
        time.sleep(0.05)
    out["tagger"] = "loaded after ready"
    r = c.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}},
        headers={"Accept": "application/json, text/event-stream"})
    out["mcp"] = [r.status_code, "mcp" in sys.modules, "docqa" in r.text]
print(json.dumps(out))
"""


def test_a_ready_server_has_loaded_only_what_questions_need(book_index, cache_dir):
    """At /readyz 200 the MCP SDK, pkg_resources (through jieba) and scipy (through bm25s) are not
    imported (1.5-4 s of a start on 2 shared cores); jieba's tagger loads right after ready in the
    background, and /mcp still answers its first request, building the SDK then."""
    settings = make_settings(book_index, cache_dir)
    done = subprocess.run([sys.executable, "-c", START, settings.model_dump_json()], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["loaded at ready"] == []
    assert out["tagger"] == "loaded after ready"
    assert out["mcp"] == [200, True, True]
