"""What `docqa serve` writes to its log: one line per request a person made, one line per
library change, and nothing for the polls that run every few seconds.

A `/readyz` poller (a container's health check, the page waiting for the index) made 61 access
lines a minute while nothing happened, and a library change logged nothing at all: the
service's own logger had no handler, and uvicorn's configuration covers only its own loggers.
"""
from __future__ import annotations

import logging
import re
from typing import Any

HEALTH = re.compile(r"^/(healthz|readyz)(\?.*)?$")
"""Health checks: polled on a timer, and a 503 from /readyz while the index loads is its answer, not a failure."""
POLLS = re.compile(r"^/documents/jobs/[^/?]+(\?.*)?$")
"""The page following an upload or a removal; logged only when it fails."""

CHATTY = ("bm25s",)
"""Libraries that log their own steps at DEBUG (bm25s: "Building index from tokens" on every
library change, shown once the MCP server gives the root logger a handler). A filter, not a
level: bm25s sets its logger to DEBUG when it is imported, which is after the server starts."""


def _warnings_only(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING


class QuietPolls(logging.Filter):
    """Drops uvicorn access lines of health checks and of successful job polls."""

    def filter(self, record: logging.LogRecord) -> bool:
        args: Any = record.args
        if not isinstance(args, tuple) or len(args) != 5:  # uvicorn: client, method, path, version, status
            return True
        _, method, path, _, status = args
        if method not in ("GET", "HEAD"):
            return True
        return not (HEALTH.match(str(path)) or (POLLS.match(str(path)) and int(status) < 400))


def setup(level: int = logging.INFO) -> None:
    """The service's messages on stderr in uvicorn's own format ("INFO:     …"), polls left out
    of the access log, and chatty libraries held to warnings."""
    from uvicorn.logging import DefaultFormatter

    service = logging.getLogger("docqa")
    if not any(getattr(h, "docqa_serve", False) for h in service.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(DefaultFormatter("%(levelprefix)s %(message)s"))
        handler.docqa_serve = True  # type: ignore[attr-defined]
        service.addHandler(handler)
    service.setLevel(level)
    service.propagate = False
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QuietPolls) for f in access.filters):
        access.addFilter(QuietPolls())
    for name in CHATTY:
        chatty = logging.getLogger(name)
        if _warnings_only not in chatty.filters:
            chatty.addFilter(_warnings_only)


def change_line(kind: str, target: str, result: dict[str, Any] | None, seconds: float | None) -> str:
    """One line for a library change that ended well: what was added or removed, and what the
    library holds now."""
    result = result or {}
    done = []
    for verb, key in (("added", "added"), ("already there", "already"), ("removed", "removed")):
        docs = result.get(key) or []
        if docs:
            names = ", ".join(f"{d.get('title') or d.get('doc_id')} [{d.get('doc_id')}]" for d in docs)
            done.append(f"{verb} {names}")
    what = "; ".join(done) or f"{kind} {target}: nothing changed"
    took = f" in {seconds:.1f} s" if seconds is not None else ""
    return (f"library: {what}{took}; now {result.get('documents', '?')} book(s), "
            f"{result.get('passages', '?')} passages")
