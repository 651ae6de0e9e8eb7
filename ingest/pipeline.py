"""Files in, `Corpus` out: read everything, find each document's structure, cut passages."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from docqa.ingest.chunk import (DEFAULT_OVERLAP_SENTENCES, DEFAULT_TARGET_CHARS, chunk_document,
                          chunker_settings)
from docqa.ingest.model import Corpus
from docqa.ingest.read import DEFAULT_MAX_FILE_BYTES, default_root, read_documents
from docqa.ingest.structure import structure_document
from docqa.ingest.versions import tell_versions

CHUNKER_SETTINGS = chunker_settings()


def load_corpus(paths: list[Path], *, target_chars: int = DEFAULT_TARGET_CHARS,
                overlap_sentences: int = DEFAULT_OVERLAP_SENTENCES, root: Path | None = None,
                max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
                on_file: Callable[[str], None] | None = None) -> Corpus:
    """Read `paths` (files or folders); sources are relative to `root` (default: the folder
    given, or a single file's own folder). Raises `IngestError` before returning anything.
    A file longer than `max_file_bytes` is refused (a guard against reading a huge or endless
    file into memory; settings expose it as DOCQA_MAX_FILE_BYTES). `on_file(source)`: called as
    each file starts. `docqa.ingest.isolated.load_corpus_isolated` runs this in a child process
    with a memory and time budget."""
    paths = [Path(p) for p in paths]
    root = Path(root).resolve() if root is not None else default_root(paths)
    documents = [structure_document(d) for d in read_documents(paths, root, max_file_bytes=max_file_bytes, on_file=on_file)]
    tell_versions(documents)
    passages = [p for d in documents for p in chunk_document(d, target_chars, overlap_sentences)]
    return Corpus(root=str(root), documents=documents, passages=passages)
