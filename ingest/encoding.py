"""Decode a Chinese text file's bytes, or refuse: never index a wrong guess.

UTF-8 is unambiguous, so it is tried first. The legacy encodings are not: almost any Big5
byte pair is also a valid GB18030 one, so a Traditional-Chinese Big5 book decodes "cleanly"
as GB18030 gibberish. So every legacy encoding that decodes the bytes strictly is a
candidate, and each candidate text is scored by the share of its Han characters that are
common ones (GB2312 level 1 for Simplified, Big5 frequently-used for Traditional). The
right decoding scores near 1; a wrong one lands on rare characters, kana and private-use
code points (about 0.2-0.35 on real text). A winner must score well and clearly beat the
others, otherwise the file is refused, naming it.
"""
from __future__ import annotations

from functools import lru_cache

from docqa.ingest.model import IngestError

# Families of encodings: within one, the first that decodes the bytes is used (plain Big5
# before its supersets, which map a few characters differently).
LEGACY_FAMILIES = (("gb18030",), ("big5", "cp950", "big5hkscs"))
DEFAULT_MIN_SCORE = 0.6  # share of common Han characters a decoding needs
DEFAULT_MARGIN = 0.2  # how far it must be ahead of the next decoding
_SAMPLE_CHARS = 200_000  # scoring a prefix this long is as telling as the whole file
_NAMES = {"utf-8": "UTF-8", "gb18030": "GB18030/GBK", "big5": "Big5", "cp950": "Big5 (cp950)",
          "big5hkscs": "Big5-HKSCS"}


@lru_cache(maxsize=1)
def common_han() -> frozenset[str]:
    """GB2312 level-1 and Big5 frequently-used characters, read from the codecs themselves."""
    chars: set[str] = set()
    for encoding, leads, trails in (
        ("gb2312", range(0xB0, 0xD8), range(0xA1, 0xFF)),
        ("big5", range(0xA4, 0xC7), [*range(0x40, 0x7F), *range(0xA1, 0xFF)]),
    ):
        for a in leads:
            for b in trails:
                try:
                    chars.add(bytes((a, b)).decode(encoding))
                except UnicodeDecodeError:
                    pass
    return frozenset(chars)


def han_score(text: str) -> tuple[float, int]:
    """(share of common characters, how many were counted) among the non-ASCII, non-punctuation
    characters of the first `_SAMPLE_CHARS` of `text`."""
    common = common_han()
    counted = hits = 0
    for ch in text[:_SAMPLE_CHARS]:
        o = ord(ch)
        if o < 0x80 or 0x2000 <= o <= 0x206F or 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF or o == 0xFEFF:
            continue
        counted += 1
        hits += ch in common
    return (hits / counted if counted else 0.0), counted


def decode(data: bytes, source: str, *, min_score: float = DEFAULT_MIN_SCORE,
           margin: float = DEFAULT_MARGIN) -> tuple[str, str]:
    """(text, encoding name) for a file's bytes; raise `IngestError` naming `source` when no
    decoding is certain. UTF-8 (a BOM dropped), else the best-scoring legacy Chinese encoding,
    else charset-normalizer when it is sure (a BOM, or a long clean text)."""
    errors: list[tuple[int, str]] = []
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as e:
        errors.append((e.start, "utf-8"))
    candidates: dict[str, str] = {}
    for family in LEGACY_FAMILIES:
        for encoding in family:
            try:
                candidates[encoding] = data.decode(encoding)
                break
            except UnicodeDecodeError as e:
                errors.append((e.start, encoding))
    scored = sorted(((*han_score(t), enc) for enc, t in candidates.items()), reverse=True)
    if scored:
        best, counted, encoding = scored[0]
        runner_up = scored[1][0] if len(scored) > 1 else 0.0
        if counted == 0 and encoding == "gb18030":
            return candidates[encoding], encoding  # no Han text at all: GB18030 is as good as any
        if counted and best >= min_score and best - runner_up >= margin:
            return candidates[encoding], encoding
    guessed = _guess_encoding(data)
    if guessed is not None and guessed[0] not in candidates.values():
        return guessed  # another encoding (UTF-16, Shift-JIS ...), not a decoding scored above
    if scored:
        tried = ", ".join(f"{_NAMES[e]} {s:.0%} common characters" for s, _, e in scored)
        raise IngestError(
            f"{source}: cannot tell the file's encoding for sure ({tried}; needs {min_score:.0%} "
            f"and a lead of {margin:.0%})",
            hint="convert the file to UTF-8, e.g. `iconv -f BIG5 -t UTF-8` or `iconv -f GB18030 -t UTF-8`, "
                 "and read it again")
    offset, encoding = max(errors)
    raise IngestError(
        f"{source}: cannot decode the file: byte 0x{data[offset]:02x} at byte offset {offset} is not valid "
        f"{_NAMES[encoding]} (tried UTF-8, GB18030/GBK, Big5 and Big5-HKSCS); convert the file to UTF-8, "
        "e.g. `iconv -f <its encoding> -t UTF-8`, and read it again")


def _guess_encoding(data: bytes) -> tuple[str, str] | None:
    """charset-normalizer, trusted only with a byte order mark or a long, clean, coherent text."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - it is a declared dependency
        return None
    best = from_bytes(data).best()
    if best is None:
        return None
    reliable = best.bom or (len(data) >= 200 and best.chaos <= 0.05 and best.coherence >= 0.5)
    if not reliable:
        return None
    try:
        text = data.decode(best.encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    return text.lstrip("\ufeff"), best.encoding
