"""The index in Milvus: the second implementation of `docqa.index.store.protocol.IndexStore`.

Everything a search needs lives on the Milvus side, so a store opened by URI works the same
against Milvus Lite (a local file) and a remote cluster:

- `NAME` (the collection the user names): docqa's catalogue. One row per key: a marker that
  docqa made it, which generation is current, and per generation the manifest, the documents
  (outline and extracted text), the tokenizer's corpus terms, the keyword vocabulary with
  document frequencies, and the language shift. Long values are cut into parts.
- `NAME__<gen>_passages`: one row per passage: row number (primary key, the same row numbers as
  the directory store), passage id, doc_id, chapter, the dense vector, the keyword leg as a
  sparse vector of docqa's own BM25 weights, the two hubness values, the passage as JSON.
- `NAME__<gen>_sentences`: every passage's sentences, spans and vectors.

The keyword leg is docqa's tokens with the weights bm25s computed, so an inner product with the
question's token counts is exactly the directory store's BM25 score. Milvus's own BM25 function
with its jieba analyzer was measured against it and matched the embedded leg far less
(`benchmarks/milvus_keyword.py`; README "Milvus"): it cuts words differently and Milvus Lite's
IDF is per segment.

A build writes a new generation beside the current one and switches the catalogue's `current`
row to it in one upsert; readers of the old generation keep answering, and the generation before
that is dropped. Only collections that docqa's catalogue lists are ever dropped.
"""
from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np

from docqa.errors import IndexStateError, InputError
from docqa.index.store.protocol import Where
from docqa.index.ranking import DenseLeg, KeywordLeg, RankingSettings
from docqa.index.store.sentences import SentenceTable
from docqa.ingest.model import Document, Passage

__all__ = ["MilvusTarget", "MilvusStore", "StoreUnavailable", "parse_store_uri", "is_store_uri", "save_store",
           "open_store", "build_store", "migrate", "check_writable", "SCHEMES"]

SCHEMES = ("milvus", "milvus+https", "milvus-lite")
STORE_FORMAT = 1
MARKER_KEY = "docqa"
CURRENT_KEY = "current"
PART_CHARS = 16_000  # a VARCHAR holds 65,535 bytes: 16,000 characters of up to 4 bytes each
VARCHAR_MAX = 65_535
RESERVED_TERM = 2**32 - 2  # an empty passage's keyword vector needs one weight; no question has this id
BATCH = 2_000
MAX_TOPK = 16_384  # Milvus's limit on one search's results
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,199}$")
VECTOR_INDEXES = ("FLAT", "HNSW", "IVF_FLAT")


class StoreUnavailable(IndexStateError):
    """The Milvus store cannot be reached or failed to answer (HTTP 503)."""


@dataclass(frozen=True)
class MilvusTarget:
    """Where a Milvus store is: the connection URI pymilvus takes, and docqa's collection name."""

    uri: str
    collection: str
    label: str
    token: str = ""

    @property
    def lite(self) -> bool:
        return self.uri.endswith(".db")


def is_store_uri(text: str | None) -> bool:
    return bool(text) and str(text).split("://", 1)[0] in SCHEMES and "://" in str(text)


def parse_store_uri(uri: str) -> MilvusTarget:
    """`milvus://HOST:PORT/COLLECTION` (a Milvus server: standalone or a cluster's proxy;
    `milvus://USER:PASSWORD@HOST:PORT/COLLECTION` with authentication, `milvus+https://` over TLS)
    or `milvus-lite://PATH/FILE.db/COLLECTION` (Milvus Lite in this process: a relative path
    after `//`, an absolute one after `///`)."""
    usage = ("use milvus://HOST:PORT/COLLECTION for a Milvus server, or "
             "milvus-lite://PATH/FILE.db/COLLECTION for Milvus Lite (e.g. milvus-lite:///data/books.db/shelf)")
    scheme, sep, rest = str(uri).partition("://")
    if not sep or scheme not in SCHEMES:
        raise InputError(f"{uri!r} is not a store URI", hint=usage)
    if scheme == "milvus-lite":
        path, dot, tail = rest.partition(".db")
        if not dot or not path or (tail and not tail.startswith("/")):
            raise InputError(f"{uri!r} names no .db file", hint=usage)
        collection = tail.strip("/")
        return MilvusTarget(path + ".db", _collection(collection, uri, usage), uri)
    parts = urlsplit(f"http://{rest}")
    if not parts.hostname:
        raise InputError(f"{uri!r} names no host", hint=usage)
    try:
        port = parts.port or 19530
    except ValueError:
        raise InputError(f"{uri!r} has an invalid port", hint=usage) from None
    collection = parts.path.strip("/")
    token = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}" if parts.username else ""
    proto = "https" if scheme == "milvus+https" else "http"
    shown = f"{scheme}://{parts.hostname}:{port}/{collection}"  # never the password
    return MilvusTarget(f"{proto}://{parts.hostname}:{port}", _collection(collection, uri, usage), shown, token)


def _collection(name: str, uri: str, usage: str) -> str:
    if not name:
        raise InputError(f"{uri!r} names no collection", hint=usage)
    if not _NAME.match(name) or "__" in name:
        raise InputError(f"{name!r} is not a usable collection name",
                         hint="use letters, digits and single underscores, starting with a letter (at most 200)")
    return name


def _quote(text: str) -> str:
    """A Milvus filter string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace(
        "\r", "\\r").replace("\t", "\\t") + '"'


def filter_expr(where: Where) -> str:
    """The Milvus filter expression for a `Where` ("" for everything)."""
    parts = []
    if where.chapter is not None:
        parts.append(f"chapter == {int(where.chapter)}")
    if where.doc_id is not None:
        parts.append(f"doc_id == {_quote(where.doc_id)}")
    return " and ".join(parts)


class _Connection:
    """A pymilvus client whose every failure is a `StoreUnavailable` naming the store."""

    def __init__(self, target: MilvusTarget, timeout: float):
        self.target, self.timeout = target, timeout
        self.client = self.call("connect", self._connect)

    def _connect(self):
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise InputError("the Milvus store needs pymilvus and Milvus Lite",
                             hint="pip install 'docqa[milvus]'") from None
        # pymilvus logs every failed RPC with its traceback on the user's stderr before the
        # exception reaches `call`, which says it in one line. Set after the import: pymilvus
        # configures its loggers when it is first imported.
        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
        if self.target.lite:
            return _open_lite(MilvusClient, self.target, self.timeout)
        return MilvusClient(uri=self.target.uri, token=self.target.token, timeout=self.timeout)

    def call(self, what: str, fn: Callable, *args, **kwargs):
        from docqa.errors import DocqaError

        try:
            return fn(*args, **kwargs)
        except DocqaError:
            raise
        except Exception as exc:  # noqa: BLE001 - pymilvus raises MilvusException, grpc errors and more
            reason = " ".join(str(getattr(exc, "message", None) or exc).split())[:300]
            hint = ("the Milvus Lite database may be damaged: move it aside and migrate the index into a new .db path"
                    if self.target.lite else "check that Milvus is running and reachable at that address, then retry")
            raise StoreUnavailable(f"the Milvus store {self.target.label} failed to {what} ({reason})", hint=hint) from exc

    def __getattr__(self, name: str):
        method = getattr(self.client, name)

        def wrapped(*args, **kwargs):
            kwargs.setdefault("timeout", self.timeout)
            try:
                return self.call(f"run {name}", method, *args, **kwargs)
            except StoreUnavailable as exc:
                # A restarted server may come back with the collection released: load it, once.
                if not (args and _not_loaded(exc.__cause__)):
                    raise
            self.call("load the collection", self.client.load_collection, args[0], timeout=self.timeout)
            return self.call(f"run {name}", method, *args, **kwargs)

        return wrapped


LITE_ENTRIES = {"LOCK", "collections", "databases", "aliases.json", "database_properties.json", ".database-staging"}
"""What Milvus Lite writes in its `.db` folder: a folder holding anything else is not one of its databases."""


class _FirstError(logging.Handler):
    """Keeps the exception Milvus Lite logs (with its traceback, on the user's stderr) instead."""

    def __init__(self):
        super().__init__()
        self.exc: BaseException | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.exc is None and record.exc_info:
            self.exc = record.exc_info[1]


def _open_lite(client_class, target: MilvusTarget, timeout: float):
    """Open a Milvus Lite database, or say in one line why not.

    Milvus Lite keeps a `.db` as a folder and would create its files inside any folder it is
    given, beside a user's own, so a folder holding anything else is refused; its failures to
    start (a file in the way, the folder held by another process, damage) are logged by it as
    tracebacks and then surface as a connection failure: they are caught here and named."""
    from pathlib import Path

    path = Path(target.uri).resolve()
    if not path.parent.is_dir():
        raise StoreUnavailable(f"cannot open the Milvus Lite file {target.uri}: the folder {path.parent} does not exist",
                               hint="create the folder or give another path")
    if path.exists() and not path.is_dir():
        raise StoreUnavailable(f"{target.uri} is a file, not a Milvus Lite database (Milvus Lite keeps a .db as a folder)",
                               hint="give a new .db path, e.g. milvus-lite:///data/books.db/shelf")
    if path.is_dir():
        foreign = sorted(e.name for e in path.iterdir() if e.name not in LITE_ENTRIES)
        if foreign:
            raise InputError(f"{target.uri} is a folder with other files in it ({', '.join(foreign[:3])}"
                             f"{', …' if len(foreign) > 3 else ''}), not a Milvus Lite database",
                             hint="give a new .db path: docqa never writes into a folder it did not make")
    caught = _FirstError()
    lite_log = logging.getLogger("milvus_lite")  # pymilvus's own log is silenced in `_connect`
    propagate, lite_log.propagate = lite_log.propagate, False
    lite_log.addHandler(caught)
    try:
        return client_class(uri=target.uri, token=target.token, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - pymilvus reports only that the local server did not start
        cause = caught.exc or exc
        if type(cause).__name__ == "DataDirLockedError":
            raise StoreUnavailable(f"the Milvus Lite database {target.uri} is open in another process",
                                   hint="stop the other docqa (serve, migrate or build) using it, then retry"
                                   ) from cause
        reason = " ".join(str(cause).split())[:200]
        raise StoreUnavailable(f"the Milvus Lite database {target.uri} could not be opened ({type(cause).__name__}: "
                               f"{reason})", hint="if it is damaged, move it aside and migrate the index into a new "
                               ".db path") from cause
    finally:
        lite_log.removeHandler(caught)
        lite_log.propagate = propagate


def _not_loaded(exc: BaseException | None) -> bool:
    text = str(getattr(exc, "message", "") or exc).lower()
    return getattr(exc, "code", None) == 101 or "not loaded" in text or "released" in text


def _parts(text: str) -> list[str]:
    return [text[i:i + PART_CHARS] for i in range(0, len(text), PART_CHARS)] or [""]


class _Catalogue:
    """docqa's catalogue collection: key -> JSON value, long values in numbered parts."""

    def __init__(self, conn: _Connection, name: str):
        self.conn, self.name = conn, name

    def exists(self) -> bool:
        return bool(self.conn.has_collection(self.name))

    def is_docqa(self) -> bool:
        fields = {f["name"] for f in self.conn.describe_collection(self.name).get("fields", [])}
        if fields != {"key", "value", "pad"}:
            return False
        try:
            marker = self.get(MARKER_KEY)
        except (ValueError, KeyError, TypeError):  # not our rows: someone else's collection
            return False
        return isinstance(marker, dict) and marker.get("made_by") == "docqa"

    def create(self) -> None:
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=512)
        schema.add_field("value", DataType.VARCHAR, max_length=VARCHAR_MAX)
        schema.add_field("pad", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
        index = self.conn.client.prepare_index_params()
        index.add_index("pad", index_type="FLAT", metric_type="IP")
        self.conn.create_collection(self.name, schema=schema, index_params=index)
        self.conn.load_collection(self.name)

    def put(self, key: str, value: Any) -> None:
        parts = _parts(json.dumps(value, ensure_ascii=False))
        rows = [{"key": key, "value": json.dumps({"parts": len(parts)}), "pad": [1.0, 0.0]}]
        rows += [{"key": f"{key}#{i}", "value": p, "pad": [1.0, 0.0]} for i, p in enumerate(parts)]
        for i in range(0, len(rows), 200):
            self.conn.upsert(self.name, rows[i:i + 200])

    def get(self, key: str) -> Any:
        head = self.conn.query(self.name, filter=f"key == {_quote(key)}", output_fields=["value"])
        if not head:
            raise ValueError(f"no {key!r} in the catalogue")
        n = int(json.loads(head[0]["value"])["parts"])
        keys = [f"{key}#{i}" for i in range(n)]
        got: dict[str, str] = {}
        for i in range(0, n, 200):
            chunk = keys[i:i + 200]
            expr = f"key in [{', '.join(_quote(k) for k in chunk)}]"
            got.update({r["key"]: r["value"] for r in self.conn.query(self.name, filter=expr,
                                                                       output_fields=["key", "value"])})
        if len(got) != n:
            raise ValueError(f"{key!r} has {len(got)} of its {n} parts")
        return json.loads("".join(got[k] for k in keys))

    def delete_prefix(self, prefix: str) -> None:
        self.conn.delete(self.name, filter=f"key like {_quote(prefix.replace('%', '') + '%')}")


def _ranges(n: int, size: int = BATCH) -> Iterator[tuple[int, int]]:
    for lo in range(0, n, size):
        yield lo, min(n, lo + size)


class MilvusStore:
    """An index held in Milvus, opened and checked; searches run in Milvus.

    Passages, documents, the sentence table and the hubness values are read once at open (the
    searcher needs them by row); vectors and keyword weights stay in Milvus and each search is a
    Milvus query.
    """

    def __init__(self, conn: _Connection, target: MilvusTarget, generation: str, info: dict[str, Any],
                 manifest: dict[str, Any], passages: list[Passage], documents: list[Document],
                 sentences: SentenceTable, hub: dict[str, np.ndarray], shift: np.ndarray,
                 vocab: dict[str, list[int]], terms: list[str]):
        self.conn, self.target, self.generation, self.info = conn, target, generation, info
        self.manifest = manifest
        self.ranking = RankingSettings.from_dict(manifest["ranking"])
        self.passages = passages
        self.documents = documents
        self.sentences = sentences
        self._hub, self._shift = hub, shift
        self._vocab = vocab
        self._passage_collection = info["passages"]
        self._search_params = info.get("search_params", {})
        from docqa.index.store.tokenize import Tokenizer, cuts_simplified

        self._tokenizer = Tokenizer(terms, simplified=cuts_simplified(manifest))

    @property
    def model_name(self) -> str:
        return self.manifest["model"]["name"]

    @property
    def label(self) -> str:
        return self.target.label

    def tokenize(self, text: str) -> list[str]:
        return self._tokenizer(text)

    def vocabulary(self) -> Sequence[str]:
        return list(self._vocab)

    def query_vector(self, qvec: np.ndarray, lang: str) -> np.ndarray:
        if lang == "zh":
            return qvec
        qvec = qvec + self._shift
        return (qvec / np.linalg.norm(qvec)).astype(np.float32)

    def hubness(self, lang: str) -> np.ndarray:
        return self._hub["zh" if lang == "zh" else "en"]

    def check(self) -> None:
        """Raise `StoreUnavailable` unless Milvus answers for this store's passages."""
        self.conn.query(self._passage_collection, filter="row == 0", output_fields=["row"], timeout=5.0)

    def _search(self, field: str, data: list, limit: int, expr: str, params: dict) -> tuple[np.ndarray, np.ndarray]:
        limit = max(1, min(limit, MAX_TOPK))
        res = self.conn.search(self._passage_collection, data=data, anns_field=field, limit=limit, filter=expr,
                               output_fields=["row"], search_params=params)
        hits = res[0] if res else []
        rows = np.array([int(h["entity"]["row"] if "entity" in h and "row" in h["entity"] else h["id"])
                         for h in hits], dtype=np.int64)
        scores = np.array([float(h["distance"]) for h in hits], dtype=np.float32)
        return rows, scores

    def dense_search(self, qvec: np.ndarray, n: int, where: Where, penalty: np.ndarray) -> DenseLeg:
        """The same pool and hubness re-sort as `DenseVectors.search`, with the filter in Milvus."""
        want = n
        n = min(len(self.passages), self.ranking.dense_overfetch * n)
        params = {"metric_type": "IP", "params": dict(self._search_params)}
        if "ef" in params["params"]:
            params["params"]["ef"] = max(params["params"]["ef"], n)
        rows, scores = self._search("vector", [np.asarray(qvec, np.float32).tolist()], n, filter_expr(where),
                                    params)
        scores = scores - penalty[rows]
        order = np.argsort(-scores, kind="stable")[:want]
        return DenseLeg(rows[order], scores[order])

    def _fetch(self, rows: np.ndarray, field: str) -> list:
        """One field of the given rows, by primary key, in the order asked."""
        got = self.conn.get(self._passage_collection, ids=[int(r) for r in rows], output_fields=["row", field])
        by_row = {int(r["row"]): r[field] for r in got}
        missing = [int(r) for r in rows if int(r) not in by_row]
        if missing:
            raise StoreUnavailable(f"the Milvus store {self.label} has no rows {missing[:5]}",
                                   hint="the collection changed under the server: restart it, or rebuild")
        return [by_row[int(r)] for r in rows]

    def dense_scores(self, qvec: np.ndarray, rows: np.ndarray) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros(0, np.float32)
        return np.asarray(self._fetch(rows, "vector"), dtype=np.float32) @ qvec

    def _query_terms(self, tokens: list[str]) -> dict[int, float]:
        ids = [self._vocab[t][0] for t in tokens if t in self._vocab]
        return {int(i): float(c) for i, c in Counter(ids).items()}

    def keyword_search(self, tokens: list[str], n: int, where: Where) -> KeywordLeg:
        """The `n` best rows by BM25 (an inner product with docqa's weights); no per-row score
        array: fusion asks `keyword_scores` for the rows it needs."""
        query = self._query_terms(tokens)
        coverage = len(query) / max(len(set(tokens)), 1)
        empty = KeywordLeg(np.zeros(0, np.int64), np.zeros(0, np.float32), None, 0.0)
        if not query:
            return empty
        rows, scores = self._search("terms", [query], n, filter_expr(where), {"metric_type": "IP"})
        keep = scores > 0
        rows, scores = rows[keep], scores[keep]
        if not len(rows):
            return empty
        order = np.argsort(-scores, kind="stable")
        return KeywordLeg(rows[order], scores[order], None, coverage)

    def keyword_scores(self, tokens: list[str], rows: np.ndarray) -> np.ndarray:
        """The rows' keyword vectors fetched by primary key and multiplied here: the same inner
        product as a search, at a third of Milvus Lite's search cost."""
        query = self._query_terms(tokens)
        if not query or len(rows) == 0:
            return np.zeros(len(rows), np.float32)
        vectors = self._fetch(rows, "terms")
        return np.array([sum(w * float(v.get(t, v.get(str(t), 0.0))) for t, w in query.items()) for v in vectors],
                        dtype=np.float32)

    def document_frequency(self, token: str) -> int:
        entry = self._vocab.get(token)
        return 0 if entry is None else int(entry[1])


def open_store(target: MilvusTarget | str, *, model_name: str | None = None, timeout: float = 30.0) -> MilvusStore:
    """Open the current generation of the docqa index in `target`, after checking it is docqa's,
    of a format this docqa reads, built with `model_name` (when given) and complete."""
    from docqa.index.store.directory import IndexLoadError, document_from_dict

    target = parse_store_uri(target) if isinstance(target, str) else target
    rebuild = f"rebuild it with `docqa build PATH --store {target.label}` or `docqa migrate --to {target.label}`"
    conn = _Connection(target, timeout)
    cat = _Catalogue(conn, target.collection)
    if not cat.exists():
        raise IndexLoadError(f"no docqa index in the Milvus store {target.label} (no collection "
                             f"{target.collection!r})", hint=f"build one with `docqa build PATH --store {target.label}`")
    conn.load_collection(target.collection)
    if not cat.is_docqa():
        raise IndexLoadError(f"the collection {target.collection!r} in {target.label} is not a docqa index; "
                             "docqa leaves it untouched", hint="name another collection in the store URI")
    try:
        current = cat.get(CURRENT_KEY)
        gen = current["generation"]
        info = cat.get(f"{gen}/info")
        manifest = cat.get(f"{gen}/manifest")
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexLoadError(f"the docqa index in {target.label} is incomplete ({exc})", hint=rebuild) from exc
    if info.get("store_format") != STORE_FORMAT:
        raise IndexLoadError(f"the docqa index in {target.label} has store format {info.get('store_format')!r}, "
                             f"this docqa reads format {STORE_FORMAT}", hint=rebuild)
    built_with = manifest["model"]["name"]
    if model_name is not None and model_name != built_with:
        raise IndexLoadError(
            f"the index in {target.label} was built with model {built_with!r}, not {model_name!r}: "
            f"rebuild it with `docqa build PATH --store {target.label} --model {model_name}` or use --model {built_with}")
    try:
        documents = [document_from_dict(d) for d in cat.get(f"{gen}/documents")]
        terms = cat.get(f"{gen}/terms")
        vocab = cat.get(f"{gen}/vocab")
        shift = np.asarray(cat.get(f"{gen}/shift"), dtype=np.float32)
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexLoadError(f"the docqa index in {target.label} is incomplete ({exc})", hint=rebuild) from exc
    for name in (info["passages"], info["sentences"]):
        conn.load_collection(name)
    n, dim = manifest["counts"]["passages"], manifest["model"]["dimension"]
    passages: list[Passage | None] = [None] * n
    hub = {"zh": np.zeros(n, np.float32), "en": np.zeros(n, np.float32)}
    for lo, hi in _ranges(n, 5_000):
        for r in conn.query(info["passages"], filter=f"row >= {lo} and row < {hi}",
                            output_fields=["row", "passage", "hub_zh", "hub_en"]):
            i = int(r["row"])
            passages[i] = Passage.from_dict(json.loads(r["passage"]))
            hub["zh"][i], hub["en"][i] = r["hub_zh"], r["hub_en"]
    count = manifest["counts"].get("sentences", 0)
    context = bool(info.get("sentence_context"))
    srow, sstart, send = (np.zeros(count, np.int32) for _ in range(3))
    svec = np.zeros((count, dim), np.float32)
    scontext = np.zeros((count, dim), np.float32) if context else None
    fields = ["id", "row", "start", "end", "vector", *(["context"] if context else [])]
    seen = 0
    for lo, hi in _ranges(count, 5_000):
        for r in conn.query(info["sentences"], filter=f"id >= {lo} and id < {hi}", output_fields=fields):
            i = int(r["id"])
            srow[i], sstart[i], send[i] = r["row"], r["start"], r["end"]
            svec[i] = r["vector"]
            if scontext is not None:
                scontext[i] = r["context"]
            seen += 1
    problems = []
    missing = sum(p is None for p in passages)
    if missing:
        problems.append(f"{missing} of {n} passages missing")
    if seen != count:
        problems.append(f"{seen} sentences, manifest says {count}")
    if len(shift) != dim:
        problems.append(f"language shift of dimension {len(shift)}, model dimension {dim}")
    sentences = SentenceTable(srow, sstart, send, svec, scontext)
    problems += sentences.problems(n, count)
    if problems:
        raise IndexLoadError(f"the docqa index in {target.label} is inconsistent ({'; '.join(problems)})", hint=rebuild)
    return MilvusStore(conn, target, gen, info, manifest, passages, documents, sentences, hub, shift, vocab, terms)


def _passage_schema(dim: int):
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("passage_id", DataType.VARCHAR, max_length=1024)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=1024)
    schema.add_field("chapter", DataType.INT64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("terms", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("hub_zh", DataType.FLOAT)
    schema.add_field("hub_en", DataType.FLOAT)
    schema.add_field("passage", DataType.VARCHAR, max_length=VARCHAR_MAX)
    return schema


def _sentence_schema(dim: int, context: bool):
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("row", DataType.INT64)
    schema.add_field("start", DataType.INT64)
    schema.add_field("end", DataType.INT64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    if context:  # the sentence read under its title and headings (`SentenceTable.context`)
        schema.add_field("context", DataType.FLOAT_VECTOR, dim=dim)
    return schema


def vector_index(kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Milvus index parameters and search parameters for the dense vectors: FLAT is exact
    (the directory store's "flat"); HNSW the same graph settings as its "hnsw"."""
    if kind == "FLAT":
        return {"index_type": "FLAT", "metric_type": "IP", "params": {}}, {}
    if kind == "HNSW":
        return {"index_type": "HNSW", "metric_type": "IP", "params": {"M": 32, "efConstruction": 80}}, {"ef": 128}
    if kind == "IVF_FLAT":
        return {"index_type": "IVF_FLAT", "metric_type": "IP", "params": {"nlist": 1024}}, {"nprobe": 32}
    raise InputError(f"unknown Milvus vector index {kind!r}", hint=f"use one of {', '.join(VECTOR_INDEXES)}")


@dataclass
class IndexParts:
    """What a docqa index is made of, whatever held it: the input of `save_store`."""

    manifest: dict[str, Any]
    passages: Sequence[Passage]
    documents: Sequence[Document]
    vectors: np.ndarray
    keyword_rows: Any  # scipy CSR matrix: row = passage, column = term id, value = BM25 weight
    vocab: dict[str, list[int]]  # term -> [id, document frequency]
    terms: list[str]
    sentences: SentenceTable
    hub_zh: np.ndarray
    hub_en: np.ndarray
    shift: np.ndarray
    hub_means: dict[str, np.ndarray] | None = None  # the mean generic question per language, when kept


def parts_of_directory(store) -> IndexParts:
    """The parts of a loaded `DirectoryStore`, read back from its files (nothing is re-embedded)."""
    import scipy.sparse as sp

    bm25 = store.keyword.bm25
    n = len(store.passages)
    s = bm25.scores
    by_term = sp.csc_matrix((s["data"], s["indices"], s["indptr"]), shape=(n, len(s["indptr"]) - 1))
    by_term.eliminate_zeros()
    df = np.diff(by_term.indptr)
    vocab = {t: [int(i), int(df[i])] for t, i in bm25.vocab_dict.items() if i < len(df)}  # "" has no column
    return IndexParts(
        manifest=store.manifest, passages=store.passages, documents=store.documents,
        vectors=store.dense.index.reconstruct_n(0, store.dense.size).astype(np.float32),
        keyword_rows=by_term.tocsr(), vocab=vocab, terms=list(store.keyword.tokenizer.terms),
        sentences=store.sentences, hub_zh=store.hub.zh, hub_en=store.hub.en, shift=store.hub.shift,
        hub_means=None if store.hub.en_mean is None else {"en": store.hub.en_mean, "zh": store.hub.zh_mean})


def _owned(conn: _Connection, cat: _Catalogue, target: MilvusTarget) -> bool:
    """True when the catalogue exists and is docqa's, False when it does not exist; refuses a
    collection of that name that someone else made."""
    from docqa.index.store.directory import IndexBuildError

    if not cat.exists():
        return False
    conn.load_collection(target.collection)
    if not cat.is_docqa():
        raise IndexBuildError(f"the collection {target.collection!r} in {target.label} exists and is not a "
                              "docqa index; docqa leaves it untouched", hint="name another collection in the URI")
    return True


def check_writable(target: MilvusTarget | str, *, timeout: float = 30.0) -> None:
    """Refuse at once (before any embedding) a store that cannot be reached or a collection that
    is not docqa's."""
    target = parse_store_uri(target) if isinstance(target, str) else target
    conn = _Connection(target, timeout)
    _owned(conn, _Catalogue(conn, target.collection), target)


def build_store(corpus, target: MilvusTarget | str, embedder, *, chunker: dict[str, Any], faiss_kind: str = "flat",
                ranking: RankingSettings | None = None, progress: bool = True,
                say: Callable[[str], None] | None = None, timeout: float = 60.0) -> dict[str, Any]:
    """Build the index of `corpus` into a Milvus store: the directory build (so both stores hold
    the same parts, computed once by the same code) in a temporary folder, then `save_store`."""
    import tempfile
    from pathlib import Path

    from docqa.index.store.directory import build_index, load_index

    with tempfile.TemporaryDirectory(prefix="docqa-store-build-") as tmp:
        staged = Path(tmp) / "index"
        build_index(corpus, staged, embedder, chunker=chunker, faiss_kind=faiss_kind, ranking=ranking,
                    progress=progress, say=say)
        return save_store(parts_of_directory(load_index(staged)), target, timeout=timeout, say=say)


def save_store(parts: IndexParts, target: MilvusTarget | str, *, vector_kind: str | None = None,
               timeout: float = 60.0, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Write `parts` into `target` as a new generation, switch to it, and drop the generation
    before the previous one. A collection that is not docqa's is never touched."""
    from docqa.index.store.directory import IndexBuildError
    from docqa.index.store.directory import document_outline

    say = say or (lambda _m: None)
    target = parse_store_uri(target) if isinstance(target, str) else target
    t0 = time.perf_counter()
    kind = vector_kind or ("HNSW" if parts.manifest.get("faiss", {}).get("kind") == "hnsw" else "FLAT")
    index_params, search_params = vector_index(kind)
    conn = _Connection(target, timeout)
    cat = _Catalogue(conn, target.collection)
    if not _owned(conn, cat, target):
        cat.create()
        cat.put(MARKER_KEY, {"made_by": "docqa", "store_format": STORE_FORMAT})
    try:
        history = cat.get("generations")
    except ValueError:
        history = []
    gen = f"g{time.time_ns():x}"
    names = {"passages": f"{target.collection}__{gen}_passages", "sentences": f"{target.collection}__{gen}_sentences"}
    for name in names.values():
        if conn.has_collection(name):
            raise IndexBuildError(f"{target.label} already holds a collection {name!r}", hint="retry the build")
    history = [*history, {"generation": gen, **names}]
    cat.put("generations", history)  # listed before they exist, so a killed build leaves nothing unowned
    dim = int(parts.manifest["model"]["dimension"])
    n = len(parts.passages)
    say(f"writing {n} passages to {target.label}")
    index = conn.client.prepare_index_params()
    index.add_index("vector", **index_params)
    index.add_index("terms", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    conn.create_collection(names["passages"], schema=_passage_schema(dim), index_params=index)
    csr = parts.keyword_rows
    for lo, hi in _ranges(n):
        rows = []
        for i in range(lo, hi):
            p = parts.passages[i]
            a, b = csr.indptr[i], csr.indptr[i + 1]
            terms = {int(t): float(w) for t, w in zip(csr.indices[a:b], csr.data[a:b]) if w > 0} or {RESERVED_TERM: 1.0}
            body = json.dumps(p.to_dict(), ensure_ascii=False)
            if len(body.encode("utf-8")) > VARCHAR_MAX:
                raise IndexBuildError(f"passage {p.passage_id} is too long for a Milvus text field "
                                      f"({len(body.encode('utf-8'))} bytes, at most {VARCHAR_MAX})",
                                      hint="build with a smaller chunk size")
            rows.append({"row": i, "passage_id": p.passage_id, "doc_id": p.doc_id,
                         "chapter": -1 if p.chapter is None else int(p.chapter),
                         "vector": parts.vectors[i].tolist(), "terms": terms, "hub_zh": float(parts.hub_zh[i]),
                         "hub_en": float(parts.hub_en[i]), "passage": body})
        conn.insert(names["passages"], rows)
    st = parts.sentences
    say(f"writing {len(st)} sentences")
    context = st.context is not None
    index = conn.client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="IP")
    if context:
        index.add_index("context", index_type="FLAT", metric_type="IP")
    conn.create_collection(names["sentences"], schema=_sentence_schema(dim, context), index_params=index)
    for lo, hi in _ranges(len(st)):
        conn.insert(names["sentences"], [{"id": j, "row": int(st.row[j]), "start": int(st.start[j]),
                                          "end": int(st.end[j]), "vector": st.vectors[j].tolist(),
                                          **({"context": st.context[j].tolist()} if context else {})}
                                         for j in range(lo, hi)])
    for name in names.values():
        conn.flush(name)
    manifest = {**parts.manifest, "store": {"kind": "milvus", "vector_index": kind, "generation": gen}}
    cat.put(f"{gen}/manifest", manifest)
    cat.put(f"{gen}/documents", [document_outline(d) for d in parts.documents])
    cat.put(f"{gen}/terms", parts.terms)
    cat.put(f"{gen}/vocab", parts.vocab)
    cat.put(f"{gen}/shift", [float(x) for x in parts.shift])
    cat.put(f"{gen}/hub_means", None if parts.hub_means is None else {k: [float(x) for x in v]
                                                                      for k, v in parts.hub_means.items()})
    cat.put(f"{gen}/info", {"store_format": STORE_FORMAT, **names, "search_params": search_params,
                            "sentence_context": context})
    conn.flush(target.collection)
    cat.put(CURRENT_KEY, {"generation": gen})  # the switch: one row
    conn.flush(target.collection)
    keep = history[-2:]
    for old in history[:-2]:
        for name in (old["passages"], old["sentences"]):
            if conn.has_collection(name):
                conn.drop_collection(name)
        cat.delete_prefix(f"{old['generation']}/")
    cat.put("generations", keep)
    conn.flush(target.collection)
    say(f"index ready in {target.label} ({n} passages, {time.perf_counter() - t0:.1f}s)")
    return manifest


def migrate(index_dir, target: MilvusTarget | str, *, vector_kind: str | None = None, timeout: float = 60.0,
            say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Copy the directory index at `index_dir` into a Milvus store, without re-embedding."""
    from pathlib import Path

    from docqa.index.store.directory import load_index

    target = parse_store_uri(target) if isinstance(target, str) else target
    store = load_index(Path(index_dir))
    return save_store(parts_of_directory(store), target, vector_kind=vector_kind, timeout=timeout, say=say)
