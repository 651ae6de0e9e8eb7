"""Where docqa keeps what it builds once per user: the rebuilt model, indexes, embeddings."""
from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "docqa"
