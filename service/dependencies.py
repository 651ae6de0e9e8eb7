"""What routes ask for, typed: `SearcherDep`, `StateDep`, `SettingsDep`.

The searcher dependency answers 503 (with Retry-After while loading) until the index is open,
so no route checks readiness itself.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from docqa.service.settings import Settings
from docqa.service.state import ServiceState

if TYPE_CHECKING:
    from docqa.index.search.searcher import Searcher
else:  # FastAPI resolves the annotation at import; the index (and torch) load only when needed
    Searcher = object


def get_state(request: Request) -> ServiceState:
    return request.app.state.docqa


def get_settings(request: Request) -> Settings:
    return request.app.state.docqa.settings


def get_searcher(request: Request) -> "Searcher":
    return request.app.state.docqa.require()


def get_shelf(request: Request) -> "Searcher | None":
    """The searcher, or None while the server's new library is still empty."""
    return request.app.state.docqa.shelf()


StateDep = Annotated[ServiceState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SearcherDep = Annotated[Searcher, Depends(get_searcher)]
ShelfDep = Annotated["Searcher | None", Depends(get_shelf)]
