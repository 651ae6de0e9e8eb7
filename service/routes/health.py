"""Liveness and readiness, public even when an API key is required."""
from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import APIRouter

from docqa.service.dependencies import SearcherDep
from docqa.service.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut)
async def healthz() -> dict[str, Any]:
    """Liveness: answers as soon as the process serves, even while the index loads."""
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadyOut)
async def readyz(s: SearcherDep) -> dict[str, Any]:
    """Readiness: 503 until the index and model are loaded, or with the reason loading failed,
    or while the store behind the index (a Milvus server) does not answer."""
    await anyio.to_thread.run_sync(s.store.check)
    return {"status": "ready", "model": s.model_name, "documents": len(s.documents), "passages": len(s.passages)}
