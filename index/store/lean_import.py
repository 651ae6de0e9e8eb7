"""Import a library without the optional dependency it would load and docqa never uses.

Two of the keyword leg's libraries import, at their own import, something heavy they only fall
back on: jieba imports `pkg_resources` (0.5-0.8 s) to find its dictionary file, which docqa's
indexes replace with their own frozen table (`docqa.index.store.tokenize.FrozenDictionary`), and when
it is needed jieba opens it by path instead; bm25s imports `scipy.sparse` (about 0.9 s, through
numpy.f2py) for a sparse-matrix backend that docqa does not choose (its default, "numpy", is
what docqa builds and scores with), and `tqdm` for progress bars docqa always turns off (tqdm's
import asks importlib.metadata for its own version, which scans every installed package). Both
libraries catch the ImportError and carry on. Together that is 1.5-2 s of a server's start at
load 3 (AMD EPYC AVX2, 2 shared cores, `python -X importtime`), 3 s at load 11.

A dependency already imported stays in use; one hidden here is importable again right after.
"""
from __future__ import annotations

import importlib
import sys
import threading
from types import ModuleType

_lock = threading.Lock()


def import_without(name: str, *hidden: str) -> ModuleType:
    """`import name`, with each module in `hidden` not yet imported made unimportable for the
    duration (a None in `sys.modules` makes `import` raise ImportError)."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    with _lock:
        blocked = [h for h in hidden if h not in sys.modules]
        for h in blocked:
            sys.modules[h] = None  # type: ignore[assignment]
        try:
            return importlib.import_module(name)
        finally:
            for h in blocked:
                if sys.modules.get(h, 0) is None:
                    del sys.modules[h]


def jieba() -> ModuleType:
    """jieba, which then reads its dictionary files by path rather than through pkg_resources."""
    return import_without("jieba", "pkg_resources")


def bm25s() -> ModuleType:
    """bm25s without scipy (docqa uses its numpy backend) and without tqdm (docqa passes
    show_progress=False to every call; bm25s then iterates without a bar)."""
    return import_without("bm25s", "scipy", "scipy.sparse", "tqdm", "tqdm.auto")
