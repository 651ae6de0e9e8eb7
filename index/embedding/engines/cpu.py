"""What the CPU and the install offer the engines: native bf16, cores, optional runtimes."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path


def cpu_has_bf16() -> bool:
    """Native bf16 arithmetic; without it torch emulates bf16 and is slower than float32."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def installed(*modules: str) -> bool:
    """Whether every module can be imported, found without importing it."""
    return all(importlib.util.find_spec(m) is not None for m in modules)
