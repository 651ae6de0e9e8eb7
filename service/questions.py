"""What a question must be before it reaches the model, checked once, the same for the CLI,
the HTTP API and every user turn of a chat."""
from __future__ import annotations

import unicodedata

from docqa.errors import InputError

MIN_K = 1
MAX_K = 50  # one range for `-k`, `k=` and the chat's `k`: enough to read a chapter's worth of passages
EXAMPLE = "“本书一共分为几章？”"


def is_blank(text: str) -> bool:
    """Whitespace and invisible format characters (zero-width space, joiners, BOM) say nothing."""
    return all(c.isspace() or unicodedata.category(c) in ("Cf", "Cc", "Zs", "Zl", "Zp") for c in text)


def check_question(text: str, max_chars: int, field: str = "question") -> str:
    """The question stripped of surrounding whitespace, or an InputError saying what to change."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{field} contains a lone UTF-16 surrogate (an escape such as \\ud800 without its pair)",
                         hint="send valid Unicode text") from None
    text = text.strip()
    if is_blank(text):
        raise InputError(f"{field} must not be blank", hint=f"send a question such as {EXAMPLE}")
    if len(text) > max_chars:
        raise InputError(f"{field} is {len(text)} characters; the limit is {max_chars} (DOCQA_MAX_QUESTION_CHARS)",
                         hint="shorten the question")
    return text


def check_k(k: int, field: str = "k") -> int:
    if not MIN_K <= k <= MAX_K:
        raise InputError(f"{field} must be from {MIN_K} to {MAX_K}, got {k}")
    return k
