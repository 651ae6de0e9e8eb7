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
import stat
from collections.abc import Callable
from pathlib import Path

from docqa.ingest.encoding import decode
from docqa.ingest.formats import (FORMAT_SUFFIXES, JSONL_SUFFIXES, READABLE, TEXT_SUFFIXES, is_book_file,
                                  kind_of, read_formatted)
from docqa.ingest.model import Document, IngestError, TooLargeError, UnsupportedFormatError
from docqa.ingest.structure import guess_title

SUPPORTED = TEXT_SUFFIXES + JSONL_SUFFIXES + FORMAT_SUFFIXES
_SHAPE = 'each line must be one object like {"id": ..., "title": ..., "text": ...}'


def default_root(paths: list[Path]) -> Path:
    """The folder sources are named relative to: the folder given, or a file's own folder."""
    bases = [p if p.is_dir() else p.parent for p in (Path(p).resolve() for p in paths)]
    if not bases:
        raise IngestError(f"no corpus path given: pass a file or folder of {READABLE} files")
    return Path(os.path.commonpath([str(b) for b in bases]))


DEFAULT_MAX_FILE_BYTES = 200_000_000
MAX_FILE_SETTING = "DOCQA_MAX_FILE_BYTES"


def list_files(paths: list[Path]) -> list[Path]:
    """The files to read: given files as they are, folders searched (iteratively, so any
    depth works) in sorted order. A subfolder that cannot be listed is an error, not a skip."""
    files: list[Path] = []
    for path in map(Path, paths):
        try:
            info = path.stat()
        except FileNotFoundError:
            raise IngestError(f"{path}: no such file or folder; check the path and try again") from None
        except OSError as e:
            raise IngestError(f"{path}: cannot open ({e.strerror})",
                              hint="check the path and its permissions") from None
        if stat.S_ISDIR(info.st_mode):
            found = sorted(_walk(path), key=lambda p: p.relative_to(path).as_posix())
            if not found:
                raise IngestError(f"{path}: no readable files in this folder ({READABLE}); add some or pass a file")
            files.extend(found)
        elif path.suffix.lower() in SUPPORTED:
            files.append(path)  # a FIFO or device named like a book is refused when read
        elif not stat.S_ISREG(info.st_mode):
            raise _not_regular(path, str(path), info.st_mode)
        elif is_book_file(path):
            files.append(path)
        else:
            raise UnsupportedFormatError(
                f"{path}: unsupported file type {path.suffix or '(none)'!r}; "
                f"give a {READABLE} file (text in UTF-8, GB18030/GBK or Big5)")
    unique: dict[Path, Path] = {}
    for f in files:
        unique.setdefault(f.resolve(), f)
    return list(unique.values())


def _walk(top: Path) -> list[Path]:
    """Supported, non-hidden entries under `top`, depth-first with an explicit stack (no
    recursion limit); folder links are followed once each, so a link loop ends."""
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            info = folder.stat()
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as e:
            raise IngestError(f"{folder}: cannot list this folder ({e.strerror})",
                              hint="fix its permissions, or move it out of the corpus folder") from None
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                stack.append(Path(entry.path))
            elif Path(entry.name).suffix.lower() in SUPPORTED:
                found.append(Path(entry.path))
            elif _is_regular(entry) and is_book_file(Path(entry.path)):  # sniffing opens: regular files only
                found.append(Path(entry.path))
    return found


def read_documents(paths: list[Path], root: Path | None = None, *,
                   max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
                   on_file: Callable[[str], None] | None = None) -> list[Document]:
    """Read every file under `paths`; raise `IngestError` before returning if any is bad.

    Only regular files are read (a FIFO or device named like a text file is refused, not
    waited on), each at most `max_file_bytes` long. `on_file(source)` is called as each file
    starts (so a reader run in another process can say which file it was on when it died)."""
    root = Path(root).resolve() if root is not None else default_root(paths)
    documents: list[Document] = []
    for path in list_files(paths):
        source = Path(os.path.relpath(path.resolve(), root)).as_posix()
        if on_file is not None:
            on_file(source)
        check_file(path, source, max_file_bytes)  # before anything opens it to sniff its format
        kind = kind_of(path, source)
        if kind is not None:
            doc = read_formatted(path, source, kind, progress=True)
            doc.doc_id = slug(source)
            documents.append(doc)
        elif path.suffix.lower() in JSONL_SUFFIXES:
            documents.extend(read_jsonl(path, source, read_bytes(path, source, max_file_bytes)))
        else:
            documents.append(read_text(path, source, read_bytes(path, source, max_file_bytes)))
    _unique_ids(documents)
    return documents


def read_text(path: Path, source: str, data: bytes | None = None) -> Document:
    data = read_bytes(path, source) if data is None else data
    text, encoding = decode(data, source)
    if not text.strip():
        raise IngestError(f"{source}: the file is empty (or only whitespace); remove it or add text")
    stem = Path(source).stem
    return Document(
        doc_id=slug(source), title=guess_title(text) or stem, source=source, text=text,
        checksum=hashlib.sha256(data).hexdigest(), metadata={"encoding": encoding},
    )


def read_jsonl(path: Path, source: str, data: bytes | None = None) -> list[Document]:
    """One document per line: {"id", "title", "text", ...}; other keys become metadata."""
    data = read_bytes(path, source) if data is None else data
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
        record = _parse_line(line, where)
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
        try:
            json.dumps(record, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as e:
            raise IngestError(f"{where}: a string holds the lone surrogate \\u{ord(e.object[e.start]):04x}, "
                              "which is not a character", hint="fix or remove that escape in the line") from None
        documents.append(Document(doc_id=doc_id, title=title, source=source, text=body,
                                  checksum=checksum, metadata=metadata, line=number))
    return documents


def _parse_line(line: str, where: str):
    try:
        return json.loads(line)
    except json.JSONDecodeError as e:
        raise IngestError(f"{where}: invalid JSON ({e.msg} at column {e.colno}); fix the line: {_SHAPE}") from None
    except RecursionError:
        raise IngestError(f"{where}: the JSON is nested too deeply to read",
                          hint=f"flatten the line: {_SHAPE}") from None
    except ValueError as e:  # e.g. an integer longer than Python converts (4300 digits)
        raise IngestError(f"{where}: invalid JSON ({e})", hint=f"fix the line: {_SHAPE}") from None


def read_bytes(path: Path, source: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> bytes:
    """The file's bytes if it is a regular file of at most `max_bytes`; never blocks on a FIFO
    or reads a device forever."""
    with _open_regular(path, source, max_bytes) as f:
        try:
            data = f.read(max_bytes + 1)
        except OSError as e:
            raise IngestError(f"{source}: cannot read the file ({e.strerror}); check the disk and its permissions") from None
    if len(data) > max_bytes:
        raise too_big_error(source, len(data), max_bytes)
    return data


def check_file(path: Path, source: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> None:
    """Refuse, without reading it, anything but a regular file of at most `max_bytes`."""
    with _open_regular(path, source, max_bytes):
        pass


def _open_regular(path: Path, source: str, max_bytes: int):
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO opens at once
    except OSError as e:
        raise IngestError(f"{source}: cannot read the file ({e.strerror}); check its permissions") from None
    f = os.fdopen(fd, "rb")
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        f.close()
        raise _not_regular(path, source, info.st_mode)
    if info.st_size > max_bytes:
        f.close()
        raise too_big_error(source, info.st_size, max_bytes)
    return f


_KINDS = {stat.S_IFIFO: "named pipe (FIFO)", stat.S_IFCHR: "character device", stat.S_IFBLK: "block device",
          stat.S_IFSOCK: "socket", stat.S_IFDIR: "folder"}


def _not_regular(path: Path, source: str, mode: int) -> IngestError:
    kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
    name = f"{path} (a link to {os.path.realpath(path)})" if Path(path).is_symlink() else source
    return IngestError(f"{name}: is a {kind}, not a regular file",
                       hint="give text files only (copy the data into a .txt file)")


def _is_regular(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()  # follows links; False for FIFOs, devices and sockets
    except OSError:
        return False


def too_big_error(source: str, size: int, limit: int) -> IngestError:
    """The one-line refusal of a file over the size limit (a read, or an upload before it is read)."""
    return TooLargeError(f"{source}: the file is {size:,} bytes, over the {limit:,}-byte limit for one file",
                       hint=f"split it into smaller files, or raise the limit: set {MAX_FILE_SETTING} "
                            "(or pass max_file_bytes= to load_corpus)")


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


