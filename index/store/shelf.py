"""An index as a library: add documents to it, remove them, list them.

Adding reads and embeds only the new documents; the documents already there keep their passage
vectors, sentence vectors, hubness and passages, copied row for row. The keyword index is
rebuilt from every passage, because its statistics (IDF, average length) and the tokenizer's
corpus terms belong to the whole shelf: that costs tokenizing, not embedding, and leaves the
index exactly as a fresh build of the same documents would. Every change writes a new index
aside and swaps it in under the index's build lock, like a build, so a failed or killed change
leaves the index as it was, and never touches a folder that is not docqa's.

Ids are stable: a document keeps its id across later adds and removes. A file whose content is
already in the library (same checksum) is not added twice; a new document whose id is taken
gets the first free `id-2`, `id-3`, … and the change reports it.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from docqa.errors import IndexStateError, InputError, NotFoundError
from docqa.ingest.isolated import ReadCancelled
from docqa.ingest.model import Document, Passage

if TYPE_CHECKING:
    from docqa.index.embedding.embedder import Progress

__all__ = ["LibraryDocument", "LibraryChange", "ChangeStopped", "add_documents", "remove_documents",
           "list_documents", "describe", "document_format"]


class ChangeStopped(ReadCancelled):
    """A change stopped before it touched the index, because its `should_stop` said so (a cancel,
    a time budget); the index is as it was. A `ReadCancelled`, which a stop while the files are
    read raises itself, so one `except ReadCancelled` catches every stop."""


def _checker(should_stop: Callable[[], bool] | None) -> Callable[[str], None]:
    """A check between a change's stages: raises ChangeStopped once `should_stop()` is true."""
    def check(stage: str) -> None:
        if should_stop is not None and should_stop():
            raise ChangeStopped(f"the change was stopped {stage}; the index is unchanged")
    return check


def _stopping_progress(progress: "Progress", check: Callable[[str], None]) -> "Progress":
    """The embedding's progress callback, checking for a stop after every batch."""
    if not callable(progress):
        return progress

    def report(done: int, total: int) -> None:
        progress(done, total)
        check(f"while embedding ({done} of {total} texts)")
    return report


@dataclass
class LibraryDocument:
    """One document of a library as `docqa list` and GET /documents show it."""

    doc_id: str
    title: str
    source: str
    format: str
    pages: int | None
    passages: int
    added_at: str | None
    checksum: str
    author: str | None = None  # as the file's properties name it (EPUB, DOCX, ODT, PDF), else None


@dataclass
class LibraryChange:
    """What an add or a remove did. `already`: documents given again, found by checksum (nothing
    was added for them); `renamed`: id wanted -> id given, for ids that were taken."""

    index: str
    added: list[LibraryDocument] = field(default_factory=list)
    already: list[LibraryDocument] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)
    removed: list[LibraryDocument] = field(default_factory=list)
    documents: int = 0
    passages: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


def document_format(doc: Document) -> str:
    """"pdf", "epub", "docx", "odt", "html", "jsonl", "txt", "md" …: what the document was read from."""
    if doc.line is not None:
        return "jsonl"
    declared = doc.metadata.get("format") if isinstance(doc.metadata, dict) else None
    if isinstance(declared, str) and declared:
        return declared
    suffix = Path(doc.source).suffix.lower().lstrip(".")
    return {"markdown": "md"}.get(suffix, suffix) or "txt"


def describe(documents: Sequence[Document], passages: Sequence[Passage],
             manifest: dict[str, Any]) -> list[LibraryDocument]:
    """The library's documents, in index order, from what an index holds."""
    counts = Counter(p.doc_id for p in passages)
    added = manifest.get("added") or {}
    out = []
    for d in documents:
        pages = d.metadata.get("page_count") if isinstance(d.metadata, dict) and d.line is None else None
        author = d.metadata.get("author") if isinstance(d.metadata, dict) else None
        out.append(LibraryDocument(doc_id=d.doc_id, title=d.title, source=d.source, format=document_format(d),
                                   pages=pages if isinstance(pages, int) else None, passages=counts[d.doc_id],
                                   added_at=added.get(d.doc_id, manifest.get("built_at")), checksum=d.checksum,
                                   author=author if isinstance(author, str) and author else None))
    return out


def list_documents(index_dir: Path) -> list[LibraryDocument]:
    """The documents of the index at `index_dir` (reads its manifest, documents and passages;
    no model, no vectors)."""
    from docqa.index.store.directory import (DOCUMENTS, PASSAGES, IndexLoadError, document_from_dict, no_index_error,
                                   owned_state, read_manifest, restore_previous)

    index_dir = Path(index_dir)
    restore_previous(index_dir)
    if owned_state(index_dir) in ("missing", "empty"):
        raise no_index_error(index_dir, f"create a library with `docqa add PATH… --index {index_dir}`")
    manifest = read_manifest(index_dir)
    try:
        documents = [document_from_dict(d) for d in json.loads((index_dir / DOCUMENTS).read_text(encoding="utf-8"))]
        with open(index_dir / PASSAGES, encoding="utf-8") as f:
            passages = [Passage.from_dict(json.loads(line)) for line in f]
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same refusal
        raise IndexLoadError(f"the index at {index_dir} cannot be read ({type(exc).__name__}: {exc})",
                             hint=f"rebuild it with `docqa build PATH --index {index_dir}`") from exc
    return describe(documents, passages, manifest)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _free_id(wanted: str, taken: set[str]) -> str:
    if wanted not in taken:
        return wanted
    n = 2
    while f"{wanted}-{n}" in taken:
        n += 1
    return f"{wanted}-{n}"


def add_documents(index_dir: Path, paths: Sequence[str | Path], *, embedder=None,
                  load_embedder: Callable[[str], Any] | None = None, model_name: str | None = None,
                  max_file_bytes: int | None = None, progress: Progress = False,
                  say: Callable[[str], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> LibraryChange:
    """Add the documents read from `paths` to the index at `index_dir` (a missing or empty folder
    becomes a new index of them).

    The model is `embedder`, or `load_embedder(name)` called only when something must be embedded
    (with the index's model name, or `model_name` for a new index; given for an existing index, it
    must be the index's). Every file is read before the index is touched, so an unreadable one
    refuses the whole add. Files are read in a child process with a memory and time budget
    (`docqa.ingest.isolated`). `should_stop()` is polled while they are read (the reading child is
    killed and `ReadCancelled` raised) and asked between stages and after every embedding batch
    (`ChangeStopped`, a `ReadCancelled`): either way before the index is touched (a cancel, a time
    budget).
    """
    from filelock import FileLock

    from docqa.index.store.hubness import Hubness
    from docqa.index.ranking import RankingSettings
    from docqa.index.store.directory import (PASSAGE_CONTEXT, build_write_error, check_inputs_outside, check_replaceable,
                                   context_kind, embed_passages, load_index, lock_path, owned_state, recover,
                                   write_index)
    from docqa.ingest.chunk import chunk_document, chunker_settings
    from docqa.ingest.isolated import read_documents_isolated
    from docqa.ingest.read import DEFAULT_MAX_FILE_BYTES, default_root
    from docqa.ingest.structure import structure_document

    say = say or (lambda _m: None)
    t0 = time.perf_counter()
    index_dir = Path(index_dir)
    check_replaceable(index_dir, command="add")
    if not paths:
        raise InputError("no files to add", hint="give one or more files or folders")
    check_inputs_outside(index_dir, [Path(p) for p in paths], command="add")
    check = _checker(should_stop)
    progress = _stopping_progress(progress, check)
    incoming = read_documents_isolated([Path(p) for p in paths], should_stop=should_stop,
                                       max_file_bytes=DEFAULT_MAX_FILE_BYTES if max_file_bytes is None else max_file_bytes)
    check("after reading")
    change = LibraryChange(index=str(index_dir))
    try:
        index_dir.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(lock_path(index_dir))):
            check("while waiting for the index's lock")
            recover(index_dir)
            check_replaceable(index_dir, command="add")
            if owned_state(index_dir) in ("missing", "empty"):
                store = None
                chunker, faiss_kind, ranking = chunker_settings(), "flat", RankingSettings()
                manifest: dict[str, Any] = {}
                documents: list[Document] = []
                passages: list[Passage] = []
            else:
                store = load_index(index_dir)
                manifest = store.manifest
                chunker, faiss_kind, ranking = manifest["chunker"], _faiss_kind(manifest), store.ranking
                _check_compatible(index_dir, manifest, chunker_settings(), PASSAGE_CONTEXT)
                documents, passages = list(store.documents), list(store.passages)
            wanted_model = manifest["model"]["name"] if store is not None else model_name
            if store is not None and model_name is not None and model_name != wanted_model:
                raise IndexStateError(f"the index at {index_dir} was built with model {wanted_model!r}, "
                                      f"not {model_name!r}", hint=f"add with --model {wanted_model} (or no --model)")

            held = {(d.checksum, d.line): d for d in documents}
            listed = {d.doc_id: d for d in describe(documents, passages, manifest)}
            taken = {d.doc_id for d in documents}
            fresh: list[Document] = []
            for doc in incoming:
                same = held.get((doc.checksum, doc.line))
                if same is not None:
                    if same.doc_id in listed:
                        change.already.append(listed[same.doc_id])
                    say(f"{doc.source} is already in the library as {same.doc_id!r}: not added again")
                    continue
                given = _free_id(doc.doc_id, taken)
                if given != doc.doc_id:
                    say(f"{doc.source}: the id {doc.doc_id!r} is taken; added as {given!r}")
                    change.renamed[doc.doc_id] = given
                    doc.doc_id = given
                taken.add(given)
                held[(doc.checksum, doc.line)] = doc
                fresh.append(doc)
            if not fresh:
                change.documents, change.passages = len(documents), len(passages)
                change.seconds = round(time.perf_counter() - t0, 3)
                return change

            fresh = [structure_document(d) for d in fresh]
            new_passages = [p for d in fresh for p in chunk_document(d, chunker["target_chars"],
                                                                      chunker["overlap_sentences"])]
            if not new_passages:
                raise InputError("the files to add hold no text to index", hint="check that they contain text")
            check("before embedding")
            if embedder is None:
                if load_embedder is None:
                    raise InputError("adding documents needs the embedding model", hint="pass embedder=")
                embedder = load_embedder(wanted_model)
            if store is not None and embedder.model_name != wanted_model:
                raise IndexStateError(f"the index at {index_dir} was built with model {wanted_model!r}, "
                                      f"not {embedder.model_name!r}",
                                      hint=f"add with --model {wanted_model}")
            # New sentences get context vectors when the shelf's have them (or, new, when its settings ask).
            context = store.sentences.context is not None if store is not None else ranking.context_weight > 0
            if store is None:
                ranking = replace(ranking, context_vectors=context_kind(embedder, ranking.context_vectors))
            vectors, sentences = embed_passages(new_passages, embedder, progress=progress, say=say, context=context,
                                                kind=ranking.context_vectors, heading_weight=ranking.heading_weight)
            if store is not None:
                hub = store.hub.extended(vectors)
                if hub is None:  # an index from before the hubness means were kept
                    fresh_hub = Hubness.build(vectors, embedder)
                    hub = Hubness(np.concatenate([store.hub.en, fresh_hub.en]),
                                  np.concatenate([store.hub.zh, fresh_hub.zh]), store.hub.shift)
                old_vectors = store.dense.index.reconstruct_n(0, store.dense.size)
                vectors = np.concatenate([old_vectors, vectors]).astype(np.float32)
                sentences = _concat_sentences(store.sentences, sentences, len(passages))
                model = manifest["model"]
                root = manifest["corpus"]["root"]
            else:
                hub = Hubness.build(vectors, embedder)
                model = {"name": embedder.model_name, "dimension": embedder.dim, "prompts": embedder.prompts}
                root = str(default_root([Path(p) for p in paths]))
            now = _now()
            added = {d.doc_id: a.added_at or now for d, a in zip(documents, describe(documents, passages, manifest))}
            added.update({d.doc_id: now for d in fresh})
            documents += fresh
            passages += new_passages
            check("before writing the index")
            new_manifest = write_index(index_dir, documents=documents, passages=passages, vectors=vectors,
                                       sentences=sentences, hub=hub, model=model, root=root, chunker=chunker,
                                       faiss_kind=faiss_kind, ranking=ranking, added=added, t0=t0, say=say)
    except OSError as exc:
        raise build_write_error(exc, index_dir) from exc
    fresh_ids = {d.doc_id for d in fresh}
    change.added = [d for d in describe(documents, passages, new_manifest) if d.doc_id in fresh_ids]
    change.documents, change.passages = len(documents), len(passages)
    change.seconds = round(time.perf_counter() - t0, 3)
    say(f"added {len(fresh)} document(s) to {index_dir} ({len(new_passages)} passages, {change.seconds:.1f}s)")
    return change


def remove_documents(index_dir: Path, doc_ids: Sequence[str], *, say: Callable[[str], None] | None = None,
                     should_stop: Callable[[], bool] | None = None) -> LibraryChange:
    """Remove documents by id. Needs no model: every kept row is copied, and the keyword index
    is rebuilt from the passages that remain. An unknown id refuses the whole change;
    `should_stop` as in `add_documents`."""
    from filelock import FileLock

    from docqa.index.store.directory import (build_write_error, load_index, lock_path, no_index_error, owned_state, recover,
                                   restore_previous, write_index)

    say = say or (lambda _m: None)
    t0 = time.perf_counter()
    index_dir = Path(index_dir)
    if not doc_ids:
        raise InputError("no document ids to remove", hint=f"`docqa list --index {index_dir}` shows them")
    restore_previous(index_dir)
    if owned_state(index_dir) == "missing":
        raise no_index_error(index_dir, f"create one with `docqa add PATH --index {index_dir}`")
    change = LibraryChange(index=str(index_dir))
    try:
        with FileLock(str(lock_path(index_dir))):
            check = _checker(should_stop)
            check("while waiting for the index's lock")
            recover(index_dir)
            store = load_index(index_dir)
            manifest = store.manifest
            listed = {d.doc_id: d for d in describe(store.documents, store.passages, manifest)}
            unknown = [i for i in dict.fromkeys(doc_ids) if i not in listed]
            if unknown:
                known = ", ".join(list(listed)[:20]) + (" …" if len(listed) > 20 else "")
                raise NotFoundError(f"no document {', '.join(map(repr, unknown))} in {index_dir}",
                                    hint=f"known ids: {known}")
            gone = set(doc_ids)
            if gone >= set(listed):
                raise InputError(f"removing {', '.join(sorted(gone))} would leave {index_dir} empty",
                                 hint="a library keeps at least one document; delete the folder to drop it all")
            keep = np.array([p.doc_id not in gone for p in store.passages], dtype=bool)
            rows = np.flatnonzero(keep)
            vectors = store.dense.index.reconstruct_n(0, store.dense.size)[rows]
            sentences = _select_sentences(store.sentences, keep)
            hub = store.hub.select(rows)
            documents = [d for d in store.documents if d.doc_id not in gone]
            passages = [p for p, k in zip(store.passages, keep) if k]
            added = {d.doc_id: listed[d.doc_id].added_at or _now() for d in documents}
            check("before writing the index")
            write_index(index_dir, documents=documents, passages=passages, vectors=vectors, sentences=sentences,
                        hub=hub, model=manifest["model"], root=manifest["corpus"]["root"],
                        chunker=manifest["chunker"], faiss_kind=_faiss_kind(manifest), ranking=store.ranking,
                        added=added, t0=t0, say=say)
    except OSError as exc:
        raise build_write_error(exc, index_dir) from exc
    change.removed = [listed[i] for i in dict.fromkeys(doc_ids)]
    change.documents, change.passages = len(documents), len(passages)
    change.seconds = round(time.perf_counter() - t0, 3)
    say(f"removed {len(change.removed)} document(s) from {index_dir} ({len(passages)} passages remain)")
    return change


def _faiss_kind(manifest: dict[str, Any]) -> str:
    faiss = manifest.get("faiss")
    return faiss.get("kind", "flat") if isinstance(faiss, dict) else "flat"


def _check_compatible(index_dir: Path, manifest: dict[str, Any], chunker: dict[str, Any], context: str) -> None:
    """New passages must be cut and framed the way the index's were, or the shelf mixes two kinds."""
    from docqa.index.store.directory import IndexLoadError

    if manifest["chunker"].get("version") != chunker["version"] or manifest.get("passage_context") != context:
        raise IndexLoadError(f"the index at {index_dir} was cut into passages by another docqa version",
                             hint=f"rebuild it with `docqa build PATH… --index {index_dir}`, then add to it")


def _select_sentences(table, keep: np.ndarray):
    """The sentence rows of kept passages, renumbered to the kept passages' new rows."""
    from docqa.index.store.sentences import SentenceTable

    renumber = np.cumsum(keep) - 1
    sel = keep[table.row] if len(table) else np.zeros(0, dtype=bool)
    return SentenceTable(renumber[table.row[sel]].astype(np.int32), table.start[sel], table.end[sel],
                         table.vectors[sel], None if table.context is None else table.context[sel])


def _concat_sentences(old, new, offset: int):
    from docqa.index.store.sentences import SentenceTable

    return SentenceTable(np.concatenate([old.row, new.row + offset]).astype(np.int32),
                         np.concatenate([old.start, new.start]).astype(np.int32),
                         np.concatenate([old.end, new.end]).astype(np.int32),
                         np.concatenate([old.vectors, new.vectors]).astype(np.float32),
                         None if old.context is None or new.context is None
                         else np.concatenate([old.context, new.context]).astype(np.float32))
