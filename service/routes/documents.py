"""The library over HTTP: GET /documents, POST /documents (multipart upload), DELETE
/documents/{doc_id}, GET and DELETE /documents/jobs/{job_id}.

An upload is checked before it is queued (size 413, type 415, zip bomb 413, the same file
again 200 with the document); the add itself runs in the background (202 with a job to poll),
and so does a remove. Past DOCQA_MAX_WAITING_JOBS waiting changes: 429 with Retry-After; off the
loopback without DOCQA_API_KEY: 403.
"""
from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, File, Request, Response, UploadFile

from docqa.service.dependencies import SearcherDep, SettingsDep, ShelfDep
from docqa.service.library import Library, safe_filename
from docqa.service.schemas import DocumentListOut, JobOut, UploadOut

router = APIRouter(prefix="/documents", tags=["library"])


def get_library(request: Request) -> Library:
    return request.app.state.docqa_library


LibraryDep = Annotated[Library, Depends(get_library)]


def _listed(s) -> list[Any]:
    from dataclasses import asdict

    from docqa.index.store.shelf import describe

    if s is None:  # an empty shelf
        return []
    return [asdict(d) for d in describe(s.documents, s.passages, s.store.manifest)]


@router.get("", response_model=DocumentListOut)
async def documents(s: ShelfDep, library: LibraryDep) -> dict[str, Any]:
    """The library's documents in index order, and whether this server may change them."""
    reason = library.writable_reason()
    return {"documents": _listed(s), "writable": reason is None, "read_only_reason": reason}


@router.post("", response_model=UploadOut, status_code=202,
             responses={200: {"model": UploadOut, "description": "the same file is already in the library"}})
async def upload(file: Annotated[UploadFile, File(description="a book in any format docqa reads")],
                 response: Response, s: ShelfDep, library: LibraryDep, settings: SettingsDep) -> dict[str, Any]:
    """Add a book. 202 with a job to poll at GET /documents/jobs/{job_id}; 200 when the same file
    (by checksum) is already there; 413 too large (or a zip bomb); 415 not a kind docqa reads."""
    library.require_writable()
    name = safe_filename(file.filename)
    limit = min(settings.max_file_bytes, settings.max_upload_bytes)
    path, checksum = await anyio.to_thread.run_sync(library.save_upload, file.file, name, limit)
    try:
        await anyio.to_thread.run_sync(_check_type, path, name)
        same = next((d for d in _listed(s) if d["checksum"] == checksum), None)
        if same is not None:
            response.status_code = 200
            library.discard(path.parent)
            return {"status": "exists", "document": same}
        job = library.add(path, name)
    except BaseException:
        library.discard(path.parent)
        raise
    return {"status": "queued", "job": vars(job)}


def _check_type(path, name: str) -> None:
    """415 unless docqa reads this kind of file; 413 for a ZIP container that unpacks too far."""
    from docqa.ingest.formats import ARCHIVE_KINDS, READABLE, kind_of
    from docqa.ingest.formats.archive import check_archive
    from docqa.ingest.model import UnsupportedFormatError
    from docqa.ingest.read import SUPPORTED

    kind = kind_of(path, name)
    if kind is None and path.suffix.lower() not in SUPPORTED:
        raise UnsupportedFormatError(f"{name}: not a kind of file docqa reads",
                                     hint=f"upload a {READABLE} file")
    if kind in ARCHIVE_KINDS:
        check_archive(path, name)


@router.get("/jobs/{job_id}", response_model=JobOut)
async def job(job_id: str, library: LibraryDep) -> dict[str, Any]:
    """A background change: its status, stage, progress (0..1) and, when it failed, why."""
    return vars(library.job(job_id))


@router.delete("/jobs/{job_id}", response_model=JobOut)
async def cancel(job_id: str, library: LibraryDep) -> dict[str, Any]:
    """Cancel a change: a queued one never runs; a running one stops at its next check (its
    reading, between stages, after an embedding batch), the index unchanged. 409 once it has ended."""
    library.require_key()
    return vars(library.cancel(job_id))


@router.delete("/{doc_id:path}", response_model=UploadOut, status_code=202)
async def remove(doc_id: str, s: SearcherDep, library: LibraryDep) -> dict[str, Any]:
    """Remove a document: 202 at once with a job to poll at GET /documents/jobs/{job_id}; the
    book is gone once the job is done (404 at once when there is no such document)."""
    from docqa.service.lookup import document

    library.require_writable()
    document(s.documents, doc_id)  # 404 at once, naming the documents there are
    job, _ = library.remove(doc_id)
    return {"status": "queued", "job": vars(job)}
