"""The index as a directory: its parts' files and a manifest, built aside and renamed into place.

Row position is the id everywhere: FAISS row i = BM25 document i = line i of passages.jsonl.
The manifest records what the index was built from, its ranking settings and a checksum of every
file in it, so a load refuses an index that is for another model, another format, or damaged,
instead of giving wrong answers. `DirectoryStore` is the first implementation of
`docqa.index.store.protocol.IndexStore`; each part (dense vectors, keyword index, sentence table,
hubness) builds, saves, loads and searches itself, and this module orchestrates them.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from docqa.errors import IndexStateError, InputError
from docqa.index.store import calibration
from docqa.index.store.protocol import Where
from docqa.index.store.dense import FAISS_KINDS, DenseVectors
from docqa.index.store.hubness import Hubness
from docqa.index.store.keyword import KeywordIndex
from docqa.index.ranking import FILLED_WHEN_MISSING, DenseLeg, KeywordLeg, RankingSettings
from docqa.index.store.sentences import SentenceTable
from docqa.ingest.model import Chapter, Corpus, Document, FrontMatter, Passage, Section, Subsection
from docqa.ingest.text import normalize

if TYPE_CHECKING:
    from docqa.index.embedding.embedder import Progress

__all__ = ["FORMAT_VERSION", "DirectoryStore", "LoadedIndex", "build_index", "load_index", "read_manifest",
           "is_current", "owned_state", "check_replaceable", "MARKER", "BUILDING_MARKER", "PREVIOUS_MARKER",
           "is_ours", "recover", "sweep", "restore_previous", "check_inputs_outside", "no_index_error",
           "IndexLoadError", "IndexBuildError"]

FORMAT_VERSION = 3  # 3: ranking settings in the manifest
MANIFEST = "manifest.json"
PASSAGES = "passages.jsonl"
DOCUMENTS = "documents.json"
VECTORS = DenseVectors.FILE
SENTENCES = SentenceTable.FILE
BM25_DIR = KeywordIndex.DIR
TERMS = KeywordIndex.TERMS
HUBNESS = Hubness.FILE
PASSAGE_CONTEXT = "title+headings"


class IndexLoadError(IndexStateError):
    """An index that cannot be used as it is; the message names the problem and says to rebuild."""


class IndexBuildError(IndexStateError):
    """A build that could not finish; any previous index is left as it was."""


MARKER = ".docqa-index"
"""An empty file in every index, so an index whose manifest was lost is still known to be docqa's."""

BUILDING_MARKER = ".docqa-building"
PREVIOUS_MARKER = ".docqa-previous"
"""Files docqa writes into a folder it makes beside an index (`.NAME.building-*` while a change is
written, `.NAME.previous` while it is swapped in), holding that folder's inode number. Only a
folder whose marker names its own inode is ever removed or renamed over: a user's folder of
the same name has no marker, and a copy of docqa's (`cp -a`) has another inode."""


def _inode(folder: Path) -> str:
    return str(os.stat(folder).st_ino)


def _mark(folder: Path, marker: str) -> None:
    with open(Path(folder) / marker, "w", encoding="ascii") as f:
        f.write(_inode(folder))
        f.flush()
        os.fsync(f.fileno())


def is_ours(folder: Path, marker: str) -> bool:
    """Whether `folder` is one docqa made for its own use (`marker` inside naming its inode)."""
    folder = Path(folder)
    try:
        if folder.is_symlink() or not folder.is_dir():
            return False
        with open(folder / marker, "rb") as f:
            return f.read(64).decode("ascii", "replace").strip() == _inode(folder)
    except OSError:
        return False


def owned_state(index_dir: Path) -> str:
    """What is at `index_dir`, as far as replacing it is concerned.

    "missing" and "empty" may be built into; "index" (a manifest or the marker) may be replaced;
    "file" and "foreign" (anything else) belong to the user and are never touched.
    """
    index_dir = Path(index_dir)
    if not index_dir.exists() and not index_dir.is_symlink():
        return "missing"
    if index_dir.is_symlink() or not index_dir.is_dir():
        return "file"
    if (index_dir / MARKER).is_file() or _looks_like_manifest(index_dir / MANIFEST):
        return "index"
    try:
        next(index_dir.iterdir())
    except StopIteration:
        return "empty"
    return "foreign"


def _looks_like_manifest(path: Path) -> bool:
    try:
        if not path.is_file() or path.stat().st_size > 1 << 20:
            return False
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and "format_version" in data and "model" in data


def not_an_index_error(index_dir: Path, *, command: str = "build") -> IndexStateError:
    """The refusal for a path that holds something other than a docqa index; the hint names the
    command the user ran (`build` or `add`) with a new or empty folder."""
    index_dir = Path(index_dir)
    todo = f"give --index a new or empty folder: `docqa {command} PATH --index NEW_DIR`"
    if owned_state(index_dir) == "file":
        what = "a link" if index_dir.is_symlink() else "a file"
        return IndexLoadError(f"{index_dir} is {what}, not a docqa index", hint=todo)
    try:
        count = sum(1 for _ in index_dir.iterdir())
    except OSError as exc:
        return IndexLoadError(f"{index_dir} cannot be read ({exc.strerror})", hint="check its permissions")
    noun = "entry" if count == 1 else "entries"
    whose = f"its {MANIFEST} is not docqa's; " if (index_dir / MANIFEST).exists() else ""
    return IndexLoadError(f"{index_dir} is not a docqa index ({whose}it holds {count} {noun}); "
                          "docqa leaves it untouched", hint=todo)


def no_index_error(index_dir: Path, hint: str) -> IndexLoadError:
    """"no index at …", naming a `.NAME.previous` beside it that docqa cannot prove is its own
    (a user's backup, or one left by an older docqa): the user decides whether it is the index."""
    index_dir = Path(index_dir)
    backup = _backup_path(index_dir)
    if (backup.exists() or backup.is_symlink()) and not is_ours(backup, PREVIOUS_MARKER):
        return IndexLoadError(f"no index at {index_dir} ({backup.name} beside it is not known to be docqa's)",
                              hint=f"if {backup.name} holds your index, rename it to {index_dir.name}; "
                                   f"else {hint}")
    return IndexLoadError(f"no index at {index_dir}", hint=hint)


def check_inputs_outside(index_dir: Path, paths: Sequence[Path], *, command: str = "add") -> None:
    """Refuse inputs that are the index, lie inside it, or hold it where a folder walk would read
    it: the index's own files (passages.jsonl …) would be indexed as books."""
    try:
        index = Path(index_dir).resolve()
    except OSError:
        return
    for p in paths:
        try:
            given = Path(p).resolve()
        except OSError:
            continue
        if given == index or index in given.parents:
            raise InputError(f"{p} is inside the index {index_dir}: docqa would index its own files",
                             hint=f"give `docqa {command}` the book files or folders themselves, outside {index_dir}")
        if given in index.parents and not any(part.startswith(".") for part in index.relative_to(given).parts):
            raise InputError(f"{p} holds the index {index_dir}: docqa would index the index's own files",
                             hint="keep the index outside the folders you give (--index elsewhere), "
                                  "or name the files to add")


def check_replaceable(index_dir: Path, *, command: str = "build") -> None:
    """Refuse to build into a path that holds anything but a docqa index (or nothing)."""
    state = owned_state(index_dir)
    if state in ("file", "foreign"):
        raise not_an_index_error(index_dir, command=command)
    if state == "missing":
        for parent in Path(index_dir).parents:
            if parent.exists() or parent.is_symlink():
                if not parent.is_dir():
                    raise IndexBuildError(f"cannot make the index folder {index_dir}: {parent} is a file, not a folder",
                                          hint="give --index a path whose parents are folders")
                break


def _say_default(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def corpus_checksums(corpus: Corpus) -> list[dict[str, str]]:
    # (source, checksum) pairs: one per file, even when a library holds two files of one name.
    seen = {(doc.source, doc.checksum) for doc in corpus.documents}
    return [{"source": s, "sha256": c} for s, c in sorted(seen)]


def indexed_text(p: Passage) -> str:
    """What the index sees of a passage: its text under its document title and headings.

    A passage often speaks of its topic as 它 or 该…; the title and headings put the topic's
    name back, for the keyword leg and the vectors alike.
    """
    context = " / ".join(dict.fromkeys(x for x in (p.title, *p.heading_path) if x))
    return f"{context}\n{p.text}" if context else p.text


def _write_jsonl(path: Path, rows: Sequence[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def document_outline(doc: Document) -> dict:
    """The document as read, its extracted text included: for a PDF, EPUB or DOCX that text
    exists nowhere else, and passages' `start`/`end` index into it."""
    return asdict(doc)


def document_from_dict(d: dict) -> Document:
    """A `Document` back from what `document_outline` saved."""
    chapters = [
        Chapter(**{**c, "sections": [Section(**{**s, "subsections": [Subsection(**u) for u in s["subsections"]]})
                                     for s in c["sections"]]})
        for c in d["chapters"]
    ]
    loose = [Section(**{**s, "subsections": [Subsection(**u) for u in s["subsections"]]}) for s in d["loose_sections"]]
    return Document(**{**d, "chapters": chapters, "loose_sections": loose,
                       "front_matter": [FrontMatter(**f) for f in d["front_matter"]]})


def build_index(
    corpus: Corpus,
    index_dir: Path,
    embedder,
    *,
    chunker: dict[str, Any],
    faiss_kind: str = "flat",
    ranking: RankingSettings | None = None,
    progress: Progress = True,
    say: Callable[[str], None] | None = _say_default,
) -> dict[str, Any]:
    """Build every part of the index in a temporary sibling directory, then swap it in.

    A build that fails or is killed leaves the previous index untouched; builds of the same
    directory are serialised by a lock file next to it. A write that fails (a full disk, a
    path through a file) is an `IndexBuildError` naming the folder.
    """
    try:
        return _build_index(corpus, index_dir, embedder, chunker=chunker, faiss_kind=faiss_kind,
                            ranking=ranking, progress=progress, say=say)
    except OSError as exc:
        raise build_write_error(exc, Path(index_dir)) from exc


def build_write_error(exc: OSError, index_dir: Path) -> IndexBuildError:
    """The one-line refusal for an operating-system error while writing an index."""
    where = index_dir.parent
    try:
        nearly_full = shutil.disk_usage(where).free < 1 << 20
    except OSError:
        nearly_full = False
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) or (exc.errno is None and nearly_full):
        return IndexBuildError(f"no space left on the disk holding {where} while building the index {index_dir.name}",
                               hint="free some space there (or build elsewhere with --index) and build again; "
                                    "the previous index, if any, is unchanged")
    target = exc.filename or where
    return IndexBuildError(f"cannot write the index {index_dir} ({exc.strerror or exc}: {target})",
                           hint="give --index a folder path you can write to (every parent must be a folder)")


def _build_index(corpus: Corpus, index_dir: Path, embedder, *, chunker: dict[str, Any], faiss_kind: str,
                 ranking: RankingSettings | None, progress: Progress,
                 say: Callable[[str], None] | None) -> dict[str, Any]:
    from filelock import FileLock

    say = say or (lambda _m: None)
    ranking = ranking or RankingSettings()
    if faiss_kind not in FAISS_KINDS:
        raise InputError(f"unknown FAISS index kind {faiss_kind!r}", hint=f"use one of {', '.join(FAISS_KINDS)}")
    if not corpus.passages:
        raise IndexBuildError("the corpus has no passages to index", hint="check that the input files contain text")
    index_dir = Path(index_dir)
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with FileLock(str(lock_path(index_dir))):
        recover(index_dir)
        check_replaceable(index_dir)
        passages = corpus.passages
        ranking = replace(ranking, context_vectors=context_kind(embedder, ranking.context_vectors))
        vectors, sentences = embed_passages(passages, embedder, progress=progress, say=say,
                                            context=ranking.context_weight > 0, kind=ranking.context_vectors,
                                            heading_weight=ranking.heading_weight)
        hub = Hubness.build(vectors, embedder)
        model = {"name": embedder.model_name, "dimension": embedder.dim, "prompts": embedder.prompts}
        built_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        manifest = write_index(index_dir, documents=corpus.documents, passages=passages, vectors=vectors,
                               sentences=sentences, hub=hub, model=model, root=corpus.root, chunker=chunker,
                               faiss_kind=faiss_kind, ranking=ranking,
                               added={d.doc_id: built_at for d in corpus.documents}, t0=t0, say=say)
    say(f"index ready: {index_dir} ({len(passages)} passages, {time.perf_counter() - t0:.1f}s)")
    return manifest


def context_kind(embedder, wanted: str) -> str:
    """The kind of context vectors `embedder` can make: pooling needs the passage's token states,
    which only the bundled model's own encoder exposes; others embed them."""
    return wanted if wanted != "pooled" or hasattr(embedder, "encode_passages_and_sentences") else "embedded"


def embed_passages(passages: Sequence[Passage], embedder, *, progress: Progress,
                   say: Callable[[str], None], context: bool = True,
                   kind: str = "embedded", heading_weight: float = 1.0) -> tuple[np.ndarray, SentenceTable]:
    """The passages' vectors and their sentence table (rows 0..len(passages)-1); with `context`,
    each sentence's context vector too (`RankingSettings.context_weight`), of `kind`
    (`RankingSettings.context_vectors`; the caller has checked the embedder can, `context_kind`),
    "headings" ones mixing in their heading path's vector at `heading_weight`."""
    pooled = context and kind == "pooled"
    headings = context and kind == "headings"
    embedded = context and not pooled and not headings
    how = ("(alone and under their headings) " if embedded else "(alone and in their passages) " if pooled
           else "(and their headings) " if headings else "")
    say(f"embedding {len(passages)} passages and {SentenceTable.distinct(passages)} sentences "
        f"{how}with {embedder.model_name}")
    indexed = [indexed_text(p) for p in passages]
    both = getattr(embedder, "encode_passages_and_sentences", None)
    if both is not None:  # one call: passages and sentences share batches and one progress bar
        row, start, end, texts = SentenceTable.spans(passages)
        grouped: list[list[str]] = [[] for _ in passages]
        for r, t in zip(row, texts):
            grouped[r].append(normalize(t))
        if embedded:  # each passage's sentences, then the same under its headings
            for r, t in zip(row, SentenceTable.context_texts(passages, row, texts)):
                grouped[r].append(t)
        vectors, groups = both([normalize(t) for t in indexed], grouped, progress=progress, pooled=pooled)
        halves = [np.split(g, 2) if embedded or pooled else (g, g[:0]) for g in groups]
        plain = np.concatenate([vectors[:0], *(h[0] for h in halves)]).astype(np.float32)
        read = np.concatenate([vectors[:0], *(h[1] for h in halves)]).astype(np.float32) if embedded or pooled else None
        sentences = SentenceTable(row, start, end, plain, read)
    else:
        if pooled:
            raise ValueError(f"{embedder.model_name} cannot pool context vectors: build them embedded")
        vectors = embedder.encode_passages([normalize(t) for t in indexed], progress=progress)
        sentences = SentenceTable.build(passages, embedder, progress=progress, context=embedded)
    if headings:
        sentences.context = SentenceTable.under_headings(passages, sentences.row, sentences.vectors, embedder,
                                                         heading_weight)
    return vectors, sentences


def write_index(index_dir: Path, *, documents: Sequence[Document], passages: Sequence[Passage],
                vectors: np.ndarray, sentences: SentenceTable, hub: Hubness, model: dict[str, Any], root: str,
                chunker: dict[str, Any], faiss_kind: str, ranking: RankingSettings, added: dict[str, str],
                t0: float, say: Callable[[str], None]) -> dict[str, Any]:
    """Write an index of these parts in a temporary sibling folder and swap it in (the caller
    holds the build lock). The keyword index is built here, from every passage, so its
    statistics are those of exactly these documents. `added`: each document's time of adding."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{index_dir.name}.building-", dir=index_dir.parent))
    try:
        _mark(tmp, BUILDING_MARKER)
        say(f"tokenizing {len(passages)} passages")
        indexed = [indexed_text(p) for p in passages]
        headings = [h for p in passages for h in p.heading_path] + [d.title for d in documents]
        keyword = KeywordIndex.build(indexed, term_sources=[p.text for p in passages], headings=headings)
        keyword.save(tmp)
        DenseVectors.build(vectors, faiss_kind).save(tmp)
        hub.save(tmp)
        sentences.save(tmp)
        _write_jsonl(tmp / PASSAGES, [p.to_dict() for p in passages])
        (tmp / DOCUMENTS).write_text(json.dumps([document_outline(d) for d in documents],
                                                ensure_ascii=False), encoding="utf-8")
        manifest = {
            "format_version": FORMAT_VERSION,
            "model": model,
            "corpus": {"root": root, "files": corpus_checksums(Corpus(root, list(documents), []))},
            "chunker": chunker,
            "passage_context": PASSAGE_CONTEXT,
            "tokenizer": keyword.settings(),
            "faiss": {"kind": faiss_kind, "metric": "inner_product"},
            "ranking": ranking.to_dict(),
            "counts": {"documents": len(documents), "passages": len(passages), "sentences": len(sentences)},
            "calibration": calibration.levels(vectors, sentences.vectors, sentences.row),
            "added": {d.doc_id: added[d.doc_id] for d in documents},
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(time.perf_counter() - t0, 3),
        }
        manifest["files"] = {
            str(p.relative_to(tmp)): {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
            for p in sorted(tmp.rglob("*")) if p.is_file() and p.name != BUILDING_MARKER
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        (tmp / MARKER).write_bytes(b"")
        _fsync_tree(tmp)
        _swap_in(tmp, index_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def lock_path(index_dir: Path) -> Path:
    """The lock file that serialises every change to `index_dir`."""
    return index_dir.with_name(f".{index_dir.name}.lock")


def _backup_path(index_dir: Path) -> Path:
    return index_dir.with_name(f".{index_dir.name}.previous")


def _fsync_tree(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())


def _swap_in(new: Path, target: Path) -> None:
    backup = _backup_path(target)
    _clear_backup(target)
    state = owned_state(target)
    if state in ("file", "foreign"):
        raise not_an_index_error(target)
    if state == "empty":
        target.rmdir()
    elif state == "index":
        move_aside(target)
    os.rename(new, target)
    try:
        (target / BUILDING_MARKER).unlink()
    except OSError:
        pass
    if is_ours(backup, PREVIOUS_MARKER):
        shutil.rmtree(backup, ignore_errors=True)


def move_aside(target: Path) -> None:
    """The first rename of a swap: the index becomes `.NAME.previous`, marked as docqa's."""
    _mark(target, PREVIOUS_MARKER)
    os.rename(target, _backup_path(target))


def _clear_backup(index_dir: Path) -> None:
    """Make room for the previous index: drop docqa's own leftover; refuse, in one line, when
    the name is taken by a folder docqa did not make (it is never deleted or replaced)."""
    backup = _backup_path(index_dir)
    if not backup.exists() and not backup.is_symlink():
        return
    if is_ours(backup, PREVIOUS_MARKER):
        shutil.rmtree(backup)
        return
    raise IndexBuildError(f"{backup} is in the way: docqa keeps the index's previous version under that name while "
                          "it changes the index, and that folder is not docqa's own",
                          hint=f"rename it (for example to {index_dir.name}-backup) and run the command again; "
                               "docqa has not touched it")


def restore_previous(index_dir: Path, *, wait: float = 5.0) -> None:
    """Put back the index a killed change had moved aside (`.NAME.previous` of docqa's own, with
    nothing in its place). Under the index's lock, so a live change between its two renames is
    never undone: a held lock is waited for up to `wait` seconds, then the index is left as it is."""
    from filelock import FileLock, Timeout

    index_dir = Path(index_dir)
    if not _restorable(index_dir):
        return
    try:
        with FileLock(str(lock_path(index_dir)), timeout=wait):
            _restore_previous(index_dir)
    except (Timeout, OSError):
        return


def _restorable(index_dir: Path) -> bool:
    return is_ours(_backup_path(index_dir), PREVIOUS_MARKER) and owned_state(index_dir) in ("missing", "empty")


def _restore_previous(index_dir: Path) -> None:
    """(Under the lock.)"""
    if _restorable(index_dir):
        if index_dir.is_dir():
            index_dir.rmdir()
        os.rename(_backup_path(index_dir), index_dir)
        try:
            (index_dir / PREVIOUS_MARKER).unlink()
        except OSError:
            pass


def recover(index_dir: Path, *, writing: bool = True) -> None:
    """Finish what a killed change left (call under the build lock): put the previous index
    back, drop docqa's own half-built folders and stale previous one. Folders of those names
    without docqa's marker are left alone; `writing`: a change follows, so a user's folder on the
    name a swap needs is refused now, before any work."""
    index_dir = Path(index_dir)
    _restore_previous(index_dir)
    backup = _backup_path(index_dir)
    if is_ours(backup, PREVIOUS_MARKER) and owned_state(index_dir) == "index":
        shutil.rmtree(backup, ignore_errors=True)
    for stale in index_dir.parent.glob(f".{index_dir.name}.building-*"):
        if is_ours(stale, BUILDING_MARKER):
            shutil.rmtree(stale, ignore_errors=True)
    if writing:
        _clear_backup(index_dir)


def sweep(index_dir: Path) -> None:
    """`recover` at a server's start, when no change holds the lock (else that change's own
    half-built folder is live and is left to it)."""
    from filelock import FileLock, Timeout

    index_dir = Path(index_dir)
    if not index_dir.parent.is_dir():
        return
    try:
        with FileLock(str(lock_path(index_dir)), timeout=0):
            recover(index_dir, writing=False)
    except (Timeout, OSError):
        return


def read_manifest(index_dir: Path) -> dict[str, Any]:
    path = Path(index_dir) / MANIFEST
    state = owned_state(index_dir)
    if state != "index":
        if state in ("missing", "empty"):
            raise no_index_error(index_dir, f"build one with `docqa build PATH --index {index_dir}`")
        raise not_an_index_error(index_dir)
    if not path.is_file():
        raise IndexLoadError(f"{index_dir} is a damaged docqa index ({MANIFEST} is missing)",
                             hint=f"rebuild it with `docqa build PATH --index {index_dir}`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # ValueError covers JSON and Unicode errors
        raise IndexLoadError(f"{path} is damaged ({exc}): rebuild the index with `docqa build --index {index_dir}`") from exc
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise IndexLoadError(
            f"{index_dir} has index format {found!r}, this docqa reads format {FORMAT_VERSION}: "
            f"rebuild it with `docqa build --index {index_dir}`"
        )
    problem = _manifest_problem(manifest)
    if problem:
        raise IndexLoadError(f"{path} is incomplete ({problem}): rebuild the index with `docqa build --index {index_dir}`")
    return manifest


def _manifest_problem(m: dict[str, Any]) -> str | None:
    """What a manifest lacks, so a hand-edited or partial one is refused, not half-trusted."""
    model, counts, files = m.get("model"), m.get("counts"), m.get("files")
    if not isinstance(model, dict) or not isinstance(model.get("name"), str) or not isinstance(model.get("dimension"), int):
        return "no model name and dimension"
    if not isinstance(counts, dict) or not isinstance(counts.get("passages"), int):
        return "no passage count"
    if not isinstance(files, dict):
        return "no file list"
    for name in (PASSAGES, DOCUMENTS, *DenseVectors.FILES, *SentenceTable.FILES, *Hubness.FILES):
        if name not in files:
            return f"{name} is not listed"
    missing = KeywordIndex.listed(list(files))
    if missing:
        return missing
    for name, meta in files.items():
        if not isinstance(meta, dict) or not isinstance(meta.get("bytes"), int) or not isinstance(meta.get("sha256"), str):
            return f"{name} has no size and checksum"
    if not isinstance(m.get("tokenizer"), dict) or not isinstance(m.get("chunker"), dict):
        return "no tokenizer or chunker settings"
    ranking = m.get("ranking")
    if not isinstance(ranking, dict):
        return "no ranking settings"
    try:
        RankingSettings.from_dict(ranking)
    except (InputError, TypeError) as exc:
        return f"ranking settings unusable ({exc})"
    return None


def verify_files(index_dir: Path, manifest: dict[str, Any]) -> None:
    rebuild = f"rebuild it with `docqa build --index {index_dir}`"
    for name, meta in manifest["files"].items():
        path = Path(index_dir) / name
        if not path.is_file():
            raise IndexLoadError(f"index file {name} is missing from {index_dir}: {rebuild}")
        size = path.stat().st_size
        if size != meta["bytes"]:
            raise IndexLoadError(f"index file {name} in {index_dir} has {size} bytes, the manifest says "
                                 f"{meta['bytes']} (truncated or changed): {rebuild}")
        if sha256_file(path) != meta["sha256"]:
            raise IndexLoadError(f"index file {name} in {index_dir} does not match its checksum (corrupted): {rebuild}")


class DirectoryStore:
    """An index directory, loaded and checked: the FAISS + bm25s implementation of `IndexStore`."""

    def __init__(self, path: Path, manifest: dict[str, Any], passages: list[Passage], documents: list[Document],
                 dense: DenseVectors, keyword: KeywordIndex, sentences: SentenceTable, hub: Hubness):
        self.path = path
        self.manifest = manifest
        self.ranking = RankingSettings.from_dict(manifest["ranking"])
        self.passages = passages
        self.documents = documents
        self.dense = dense
        self.keyword = keyword
        self.sentences = sentences
        self.hub = hub
        self._doc_ids = np.array([p.doc_id for p in passages], dtype=object)
        self._chapters = np.array([-1 if p.chapter is None else p.chapter for p in passages])

    @property
    def model_name(self) -> str:
        return self.manifest["model"]["name"]

    def tokenize(self, text: str) -> list[str]:
        return self.keyword.tokenize(text)

    def query_vector(self, qvec: np.ndarray, lang: str) -> np.ndarray:
        return self.hub.query_vector(qvec, lang)

    def hubness(self, lang: str) -> np.ndarray:
        return self.hub.of(lang)

    def mask(self, where: Where) -> np.ndarray | None:
        if where.everything:
            return None
        mask = np.ones(len(self.passages), dtype=bool)
        if where.chapter is not None:
            mask &= self._chapters == where.chapter
        if where.doc_id is not None:
            mask &= self._doc_ids == where.doc_id
        return mask

    def dense_search(self, qvec: np.ndarray, n: int, where: Where, penalty: np.ndarray) -> DenseLeg:
        rows, scores = self.dense.search(qvec, n, self.mask(where), penalty, self.ranking.dense_overfetch)
        return DenseLeg(rows, scores)

    def dense_scores(self, qvec: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return self.dense.scores(qvec, rows)

    def keyword_search(self, tokens: list[str], n: int, where: Where) -> KeywordLeg:
        return self.keyword.search(tokens, n, self.mask(where))

    def keyword_scores(self, tokens: list[str], rows: np.ndarray) -> np.ndarray:
        return self.keyword.scores_of(tokens, rows)

    def document_frequency(self, token: str) -> int:
        return self.keyword.document_frequency(token)

    def vocabulary(self) -> Sequence[str]:
        return list(self.keyword.bm25.vocab_dict)

    def check(self) -> None:
        """Everything is in memory: nothing can go away."""


LoadedIndex = DirectoryStore
"""The name this class had before the index was split into parts."""


def load_index(index_dir: Path, *, model_name: str | None = None) -> DirectoryStore:
    """Open an index after checking its manifest, its files and each part's row counts."""
    index_dir = Path(index_dir)
    restore_previous(index_dir)
    manifest = read_manifest(index_dir)
    built_with = manifest["model"]["name"]
    if model_name is not None and model_name != built_with:
        raise IndexLoadError(
            f"the index at {index_dir} was built with model {built_with!r}, not {model_name!r}: "
            f"rebuild it with `docqa build --index {index_dir} --model {model_name}` or use --model {built_with}"
        )
    verify_files(index_dir, manifest)
    rebuild = f"rebuild it with `docqa build --index {index_dir}`"
    try:
        with open(index_dir / PASSAGES, encoding="utf-8") as f:
            passages = [Passage.from_dict(json.loads(line)) for line in f]
        documents = [document_from_dict(d) for d in json.loads((index_dir / DOCUMENTS).read_text(encoding="utf-8"))]
        dense = DenseVectors.load(index_dir)
        keyword = KeywordIndex.load(index_dir)
        sentences = SentenceTable.load(index_dir)
        hub = Hubness.load(index_dir)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same refusal
        raise IndexLoadError(f"the index at {index_dir} cannot be read ({type(exc).__name__}: {exc}): {rebuild}") from exc
    counts = manifest["counts"]
    n, dim = len(passages), manifest["model"]["dimension"]
    problems = [] if n == counts["passages"] else [f"{n} passages, manifest says {counts['passages']}"]
    problems += dense.problems(n, dim) + keyword.problems(n) + sentences.problems(n, counts.get("sentences"))
    problems += hub.problems(n, dim)
    if problems:
        raise IndexLoadError(f"the index at {index_dir} is inconsistent ({'; '.join(problems)}): {rebuild}")
    from docqa.index.store.tokenize import cuts_simplified

    keyword.tokenizer.simplified = cuts_simplified(manifest)
    return DirectoryStore(index_dir, manifest, passages, documents, dense, keyword, sentences, hub)


def is_current(index_dir: Path, *, model_name: str, chunker: dict[str, Any], files: list[dict[str, str]]) -> bool:
    """Whether an existing index was built from these inputs, so it need not be rebuilt (a
    previous index that a killed build had moved aside is put back first). An index saved
    without one of today's ranking settings predates it and lacks what it needs (the sentence
    context vectors of `context_weight`), so it is rebuilt too."""
    restore_previous(Path(index_dir))
    try:
        m = read_manifest(index_dir)
    except IndexLoadError:
        return False
    from docqa.index.store.tokenize import TOKENIZER_VERSION

    return (m["model"]["name"] == model_name and m["chunker"] == chunker and m["corpus"]["files"] == files
            and m.get("passage_context") == PASSAGE_CONTEXT and m["tokenizer"].get("version") == TOKENIZER_VERSION
            and set(m.get("ranking") or {}) | set(FILLED_WHEN_MISSING) >= set(asdict(RankingSettings())))
