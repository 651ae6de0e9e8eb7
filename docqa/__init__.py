"""docqa: ask questions of Chinese books and get cited passages and short answers.

    import docqa
    s = docqa.open_index()                      # the bundled book (built once into the cache)
    print(s.ask("中国的外汇储备有多少？").text)

`docqa.search(question)` and `docqa.ask(question)` do the same with a searcher kept open.

Names load on first use, so `import docqa` stays light (no torch until a model is needed).
"""
from __future__ import annotations

from importlib import import_module
from pathlib import Path
from pkgutil import extend_path
from typing import Any

# In a source checkout the subpackages (index/, ingest/, service/, corpus/) live beside this
# folder, and they come first: a checkout's edits are what runs even when another copy of docqa
# is installed. An installed docqa holds them inside.
__path__ = extend_path(__path__, __name__)
_checkout = Path(__file__).resolve().parent.parent
if (_checkout / "pyproject.toml").is_file() and (_checkout / "index" / "__init__.py").is_file():
    __path__.insert(1, str(_checkout))

__all__ = [
    "open_index", "build_index", "search", "ask", "add_documents", "remove_documents", "list_documents",
    "LibraryDocument", "LibraryChange",
    "Searcher", "Answer", "Hit", "Passage", "Document", "RankingSettings",
    "DocqaError", "InputError", "NotFoundError", "IndexStateError", "ModelError", "BusyError",
]

_WHERE = {
    "open_index": "docqa.api", "build_index": "docqa.api", "search": "docqa.api", "ask": "docqa.api",
    "add_documents": "docqa.api", "remove_documents": "docqa.api", "list_documents": "docqa.api",
    "LibraryDocument": "docqa.index.store.shelf", "LibraryChange": "docqa.index.store.shelf",
    "Searcher": "docqa.index.search.searcher", "Answer": "docqa.index.results", "Hit": "docqa.index.results",
    "Passage": "docqa.ingest.model", "Document": "docqa.ingest.model", "RankingSettings": "docqa.index.ranking",
    "DocqaError": "docqa.errors", "InputError": "docqa.errors", "NotFoundError": "docqa.errors",
    "IndexStateError": "docqa.errors", "ModelError": "docqa.errors", "BusyError": "docqa.errors",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'docqa' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
