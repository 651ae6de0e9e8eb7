"""Passage embeddings kept on disk by model and text, so a rebuild only embeds what changed.

Embedding is nearly all of a build's time on a CPU; an edited book or a re-run build should not
pay it again for unchanged passages. One SQLite file per model; a damaged file is set aside and
started afresh rather than trusted.
"""
from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger("docqa")

Parts = np.ndarray | Iterable[tuple[Sequence[int], np.ndarray]]


def _key(prompt: str, text: str) -> bytes:
    return hashlib.sha256(f"{prompt}\x00{text}".encode()).digest()


class EmbeddingCache:
    """A cache that cannot be opened or written (a full or read-only disk) is given up with one
    warning, and the build goes on without it: it only saves time."""

    def __init__(self, path: Path, dim: int):
        self.path = Path(path)
        self.dim = dim
        self._db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._open()
            except sqlite3.OperationalError:
                raise
            except sqlite3.DatabaseError:  # not a database: set aside, start afresh
                self.path.replace(self.path.with_suffix(".damaged"))
                self._db = self._open()
        except (OSError, sqlite3.OperationalError) as exc:
            self._give_up(exc)

    def _give_up(self, exc: BaseException) -> None:
        log.warning("the embedding cache %s cannot be used (%s); building without it", self.path, exc)
        if self._db is not None:
            self._db.close()
        self._db = None

    def _store(self, rows: list[tuple[bytes, np.ndarray]]) -> None:
        """Keep `rows` (key, vector or vectors) for later builds, in one transaction."""
        if self._db is None:
            return
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                     [(k, np.ascontiguousarray(v, np.float32).tobytes()) for k, v in rows])
        except sqlite3.OperationalError as exc:
            self._give_up(exc)

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def encode(self, texts: Sequence[str], prompt: str, compute: Callable[[list[str]], Parts]) -> np.ndarray:
        """Vectors for `texts`, computing (and storing) only those not cached yet. `compute(todo)`
        returns their vectors in order, or yields them in parts (the indices into `todo` of a
        part's texts, and their vectors): each part is stored as soon as it comes, so work done
        before an interruption is kept."""
        keys = [_key(prompt, t) for t in texts]
        found = {k: v for k, v in self._lookup(keys).items() if v.shape == (self.dim,)}
        todo = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in found))
        if todo:
            result = compute(todo)
            parts = [(np.arange(len(todo)), result)] if isinstance(result, np.ndarray) else result
            for part, vecs in parts:
                rows = [(_key(prompt, todo[i]), np.asarray(v, np.float32)) for i, v in zip(part, vecs)]
                self._store(rows)
                found.update(rows)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, key in enumerate(keys):
            out[i] = found[key]
        return out

    def _lookup(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The stored vectors of those keys, as flat float32 arrays (shape checks are the caller's)."""
        found: dict[bytes, np.ndarray] = {}
        if self._db is None:
            return found
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            rows = self._db.execute(
                f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk).fetchall()
            for key, blob in rows:
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    def encode_groups(self, texts: Sequence[str], prompt: str,
                      compute: Callable[[list[str]], list[np.ndarray] | Iterable[tuple[Sequence[int], list[np.ndarray]]]]
                      ) -> list[np.ndarray]:
        """Like `encode`, for texts that each map to several vectors (a passage and its sentences);
        `compute` returns them in order or yields them in parts, each part stored as it comes."""
        keys = [_key(prompt, t) for t in texts]
        found = {k: v.reshape(-1, self.dim) for k, v in self._lookup(keys).items() if v.size and v.size % self.dim == 0}
        todo = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in found))
        if todo:
            result = compute(todo)
            parts = [(range(len(todo)), result)] if isinstance(result, list) else result
            for part, groups in parts:
                rows = [(_key(prompt, todo[i]), np.asarray(g, np.float32)) for i, g in zip(part, groups)]
                self._store(rows)
                found.update(rows)
        return [found[k] for k in keys]
