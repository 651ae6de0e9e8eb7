"""Turn files on disk into `Document`s, refusing anything that cannot be read exactly.

Every file is read and checked before anything is returned, so a bad file never leaves a
half-read corpus behind. `Document.text` is the decoded file with the UTF-8 byte order mark
removed and nothing else changed (line endings stay), so offsets cite the file as it is.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from docqa.ingest.formats import FORMAT_SUFFIXES, is_book_file, kind_of, read_formatted
from docqa.ingest.model import Document, IngestError
from docqa.ingest.structure import split_lines
from docqa.ingest.text import SENTENCE_END

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
JSONL_SUFFIXES = (".jsonl",)
SUPPORTED = TEXT_SUFFIXES + JSONL_SUFFIXES + FORMAT_SUFFIXES
_TITLE_MAX = 50
_SHAPE = 'each line must be one object like {"id": ..., "title": ..., "text": ...}'


def default_root(paths: list[Path]) -> Path:
    """The folder sources are named relative to: the folder given, or a file's own folder."""
    bases = [p if p.is_dir() else p.parent for p in (Path(p).resolve() for p in paths)]
    if not bases:
        raise IngestError("no corpus path given: pass a file or folder of .txt, .md or .jsonl files")
    return Path(os.path.commonpath([str(b) for b in bases]))


def list_files(paths: list[Path]) -> list[Path]:
    """The files to read: given files as they are, folders searched recursively in sorted order."""
    files: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise IngestError(f"{path}: no such file or folder; check the path and try again")
        if path.is_dir():
            found = sorted(
                (p for p in path.rglob("*") if p.is_file() and (p.suffix.lower() in SUPPORTED or is_book_file(p))
                 and not any(part.startswith(".") for part in p.relative_to(path).parts)),
                key=lambda p: p.relative_to(path).as_posix(),
            )
            if not found:
                raise IngestError(f"{path}: no .txt, .md or .jsonl files in this folder; add some or pass a file")
            files.extend(found)
        elif path.suffix.lower() in SUPPORTED or is_book_file(path):
            files.append(path)
        else:
            raise IngestError(
                f"{path}: unsupported file type {path.suffix or '(none)'!r}; "
                "give a .txt, .md or .jsonl file (UTF-8 or GBK)")
    unique: dict[Path, Path] = {}
    for f in files:
        unique.setdefault(f.resolve(), f)
    return list(unique.values())


def read_documents(paths: list[Path], root: Path | None = None) -> list[Document]:
    """Read every file under `paths`; raise `IngestError` before returning if any is bad."""
    root = Path(root).resolve() if root is not None else default_root(paths)
    documents: list[Document] = []
    for path in list_files(paths):
        source = Path(os.path.relpath(path.resolve(), root)).as_posix()
        kind = kind_of(path, source)
        if kind is not None:
            doc = read_formatted(path, source, kind, progress=True)
            doc.doc_id = slug(source)
            documents.append(doc)
        elif path.suffix.lower() in JSONL_SUFFIXES:
            documents.extend(read_jsonl(path, source))
        else:
            documents.append(read_text(path, source))
    _unique_ids(documents)
    return documents


def read_text(path: Path, source: str) -> Document:
    data = _read_bytes(path, source)
    text, encoding = decode(data, source)
    if not text.strip():
        raise IngestError(f"{source}: the file is empty (or only whitespace); remove it or add text")
    stem = Path(source).stem
    return Document(
        doc_id=slug(source), title=guess_title(text) or stem, source=source, text=text,
        checksum=hashlib.sha256(data).hexdigest(), metadata={"encoding": encoding},
    )


def read_jsonl(path: Path, source: str) -> list[Document]:
    """One document per line: {"id", "title", "text", ...}; other keys become metadata."""
    data = _read_bytes(path, source)
    text, _ = decode(data, source)
    if not text.strip():
        raise IngestError(f"{source}: the file is empty (or only whitespace); remove it or add documents")
    checksum = hashlib.sha256(data).hexdigest()
    documents: list[Document] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{source}, line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise IngestError(f"{where}: invalid JSON ({e.msg} at column {e.colno}); fix the line: {_SHAPE}") from None
        if not isinstance(record, dict):
            raise IngestError(f"{where}: expected a JSON object, got {type(record).__name__}; {_SHAPE}")
        body = record.get("text")
        if not isinstance(body, str) or not body.strip():
            raise IngestError(f"{where}: missing or empty \"text\"; give each document its text as a string")
        for key in ("id", "title"):
            if key in record and record[key] is not None and not isinstance(record[key], str):
                kind = type(record[key]).__name__
                raise IngestError(f"{where}: \"{key}\" must be a string, got {kind}; quote it")
        doc_id = (record.get("id") or "").strip() or f"{slug(source)}-{number}"
        if doc_id in seen:
            raise IngestError(f"{where}: duplicate id {doc_id!r} (first used on line {seen[doc_id]}); "
                              "give every document its own id")
        seen[doc_id] = number
        title = (record.get("title") or "").strip() or guess_title(body) or doc_id
        metadata = {k: v for k, v in record.items() if k not in ("id", "title", "text")}
        documents.append(Document(doc_id=doc_id, title=title, source=source, text=body,
                                  checksum=checksum, metadata=metadata, line=number))
    return documents


def decode(data: bytes, source: str) -> tuple[str, str]:
    """Strict UTF-8 (BOM dropped), then strict GB18030 (covers GBK/GB2312), then a confident guess."""
    errors: list[tuple[int, str]] = []
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding), encoding.replace("-sig", "")
        except UnicodeDecodeError as e:
            errors.append((e.start, encoding))
    guessed = _guess_encoding(data)
    if guessed is not None:
        return guessed
    offset, encoding = max(errors)
    name = "UTF-8" if encoding.startswith("utf") else "GB18030/GBK"
    raise IngestError(
        f"{source}: cannot decode the file: byte 0x{data[offset]:02x} at byte offset {offset} is not valid "
        f"{name} (tried UTF-8 and GB18030/GBK); convert the file to UTF-8, "
        "e.g. `iconv -f <its encoding> -t UTF-8`, and read it again")


def _guess_encoding(data: bytes) -> tuple[str, str] | None:
    """charset-normalizer, trusted only with a byte order mark or a long, clean, coherent text."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - it is a declared dependency
        return None
    best = from_bytes(data).best()
    if best is None:
        return None
    reliable = best.bom or (len(data) >= 200 and best.chaos <= 0.05 and best.coherence >= 0.5)
    if not reliable:
        return None
    try:
        text = data.decode(best.encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    return text.lstrip("\ufeff"), best.encoding


def _read_bytes(path: Path, source: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise IngestError(f"{source}: cannot read the file ({e.strerror}); check its permissions") from None


def slug(source: str) -> str:
    """A stable id from a relative path: "books/第一卷 上.txt" → "books-第一卷-上"."""
    stem = re.sub(r"\.[^./]+$", "", source)
    return re.sub(r"[\W_]+", "-", stem.lower()).strip("-") or "doc"


def _unique_ids(documents: list[Document]) -> None:
    """JSONL ids are the user's and must not clash; file slugs give way with a numeric suffix."""
    owners: dict[str, Document] = {}
    for doc in documents:
        if doc.line is None:
            continue
        if doc.doc_id in owners:
            other = owners[doc.doc_id]
            raise IngestError(f"{doc.source}, line {doc.line}: duplicate id {doc.doc_id!r} "
                              f"(also {other.source}, line {other.line}); give every document its own id")
        owners[doc.doc_id] = doc
    for doc in documents:
        if doc.line is not None:
            continue
        base, n = doc.doc_id, 1
        while doc.doc_id in owners:
            n += 1
            doc.doc_id = f"{base}-{n}"
        owners[doc.doc_id] = doc


def guess_title(text: str) -> str | None:
    """The first `# ` heading, else the first short line with letters before the body starts."""
    lines = split_lines(text)
    for line in lines:
        if line.md_level == 1 and line.kind in ("md", "text"):
            return line.content
    for line in lines:
        if line.kind == "blank":
            continue
        letters = re.findall(r"[^\W\d_]", line.content)
        if len(letters) < 2:
            continue  # rules, page numbers, decorations
        if line.kind != "text" or len(line.content) > _TITLE_MAX or line.content[-1] in SENTENCE_END + ".":
            return None  # the body or a heading came first: no title line
        return re.sub(r"\s+", " ", line.content)
    return None
