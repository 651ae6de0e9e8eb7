"""Liveness and readiness, public even when an API key is required."""
from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import APIRouter

from docqa.errors import IndexStateError
from docqa.service.dependencies import SettingsDep, ShelfDep, StateDep
from docqa.service.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut)
async def healthz(settings: SettingsDep) -> dict[str, Any]:
    """Liveness: answers as soon as the process serves, even while the index loads. `key_required`
    tells a page (which cannot ask without knowing) whether to offer an API-key field at all."""
    return {"status": "ok", "key_required": bool(settings.api_key)}


@router.get("/readyz", response_model=ReadyOut)
async def readyz(s: ShelfDep, state: StateDep) -> dict[str, Any]:
    """Readiness: 503 until the index and model are loaded, or with the reason loading failed,
    or while the store behind the index (a Milvus server) does not answer; "empty" when a new
    library has no book yet (ready for its first upload)."""
    if s is None:
        return {"status": "empty", "model": state.settings.model, "documents": 0, "passages": 0}
    try:
        await anyio.to_thread.run_sync(s.store.check)
    except IndexStateError as exc:
        state.store_failed(exc)
        raise
    return {"status": "ready", "model": s.model_name, "documents": len(s.documents), "passages": len(s.passages)}
