"""The progress bar a build draws on a terminal."""
from __future__ import annotations

import sys


def progress_bar(total: int, *, enabled: bool, desc: str):
    """A tqdm bar with an ETA on a terminal; nothing when stderr is not one or `enabled` is off."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="text", file=sys.stderr, dynamic_ncols=True, leave=False,
                disable=True if not enabled else None, smoothing=0.1)
