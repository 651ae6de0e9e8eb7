"""The default model's tokenizer for questions, in a thirtieth of the memory of `tokenizers`.

`tokenizers` builds a trie of the 250k-piece vocabulary that keeps about 290 MB resident and
takes a second to parse; a server answering questions needs neither. This is the same Unigram
segmentation as e5.c's `tok_content` (and the tokenizer.json written for the model folder): the
engine's per-code-point normalisation map, runs of spaces squeezed, a leading metaspace, spaces
as metaspaces, Viterbi over the pieces, and one <unk> per character that no piece covers. The
vocabulary and its hash table are arrays in an .npz written once per model folder: about 10 MB
resident, loaded in milliseconds.
tests/index/test_unigram.py checks it gives the ids `tokenizers` gives on real text.
"""
from __future__ import annotations

import json
import re
import zlib
from array import array
from collections.abc import Sequence
from pathlib import Path

import numpy as np

METASPACE = "\u2581"
_SPACES = re.compile(" {2,}")


class UnigramTokenizer:
    """Pieces as one UTF-8 byte string, found through an open-addressing table keyed by CRC-32
    (as e5.c keys its table by FNV-1a): about 10 MB and no Python object per piece, where a
    dict of the 250k strings holds about 60 MB."""

    def __init__(self, blob: bytes, offsets: np.ndarray, scores: np.ndarray, table: np.ndarray,
                 norm_map: dict[str, str], *, bos: int, eos: int, pad: int, unk: int, max_tokens: int = 512):
        self._blob = blob
        self._offsets = array("q", np.asarray(offsets, np.int64).tobytes())
        self._scores = array("d", np.asarray(scores, np.float64).tobytes())
        self._table = array("i", np.asarray(table, np.int32).tobytes())
        self._mask = len(self._table) - 1
        lengths = np.diff(np.asarray(offsets, np.int64))
        self._longest = int(lengths.max())  # in bytes, as e5.c's max_piece_bytes
        self._unk_score = float(np.min(scores)) - 10.0
        self._norm = str.maketrans(norm_map) if norm_map else None
        self.bos, self.eos, self.pad_id, self.unk = bos, eos, pad, unk
        self.max_tokens = max_tokens

    @classmethod
    def from_pieces(cls, pieces: Sequence[str], scores: np.ndarray, norm_map: dict[str, str], *, bos: int,
                    eos: int, pad: int, unk: int, max_tokens: int = 512) -> "UnigramTokenizer":
        encoded = [p.encode("utf-8") for p in pieces]
        offsets = np.zeros(len(pieces) + 1, np.int64)
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
        size = 1 << max(1, (2 * len(pieces) - 1).bit_length())
        table = np.full(size, -1, np.int32)
        mask = size - 1
        for i, b in enumerate(encoded):
            if not b or i == unk:
                continue
            slot = zlib.crc32(b) & mask
            while table[slot] >= 0 and encoded[table[slot]] != b:  # an equal piece already in: keep the first
                slot = (slot + 1) & mask
            if table[slot] < 0:
                table[slot] = i
        return cls(b"".join(encoded), offsets, scores, table, norm_map, bos=bos, eos=eos, pad=pad, unk=unk,
                   max_tokens=max_tokens)

    # --- stored form -------------------------------------------------------------------
    def save(self, path: Path) -> None:
        norm = {chr(k): v for k, v in (self._norm or {}).items()}
        with open(path, "wb") as f:
            np.savez(f, blob=np.frombuffer(self._blob, np.uint8), offsets=np.asarray(self._offsets, np.int64),
                     scores=np.asarray(self._scores, np.float32), table=np.asarray(self._table, np.int32),
                     norm_map=np.frombuffer(json.dumps(norm).encode("utf-8"), np.uint8),
                     specials=np.array([self.bos, self.eos, self.pad_id, self.unk], np.int64))

    @classmethod
    def load(cls, path: Path, max_tokens: int = 512) -> "UnigramTokenizer":
        with np.load(path) as z:
            norm_map = json.loads(z["norm_map"].tobytes().decode("utf-8"))
            bos, eos, pad, unk = (int(x) for x in z["specials"])
            return cls(z["blob"].tobytes(), z["offsets"], z["scores"], z["table"], norm_map, bos=bos, eos=eos,
                       pad=pad, unk=unk, max_tokens=max_tokens)

    def piece_id(self, piece: bytes) -> int:
        """The id of the vocabulary piece with these UTF-8 bytes (the first of equal ones), or -1."""
        table, offsets, blob, mask = self._table, self._offsets, self._blob, self._mask
        slot = zlib.crc32(piece) & mask
        while True:
            idx = table[slot]
            if idx < 0 or blob[offsets[idx]:offsets[idx + 1]] == piece:
                return idx
            slot = (slot + 1) & mask

    # --- segmentation ------------------------------------------------------------------
    def normalize(self, text: str) -> str:
        if self._norm is not None:
            text = text.translate(self._norm)
        text = _SPACES.sub(" ", text)
        if not text.startswith(" "):
            text = " " + text
        return text.replace(" ", METASPACE)

    def content_ids(self, text: str) -> list[int]:
        """Piece ids of `text` without <s> and </s>."""
        s = self.normalize(text)
        n = len(s)
        data = s.encode("utf-8")
        starts = [0] * (n + 1)  # byte offset of each character
        pos = 0
        for k, ch in enumerate(s):
            starts[k] = pos
            pos += len(ch.encode("utf-8")) if ch > "\x7f" else 1
        starts[n] = pos
        lookup, scores, longest, unk_score = self.piece_id, self._scores, self._longest, self._unk_score
        best = [float("-inf")] * (n + 1)
        best[0] = 0.0
        piece = [0] * (n + 1)
        start = [0] * (n + 1)
        for i in range(n):
            here = best[i]
            a = starts[i]
            for e in range(i + 1, n + 1):
                if starts[e] - a > longest:
                    break
                idx = lookup(data[a:starts[e]])
                if idx >= 0:
                    score = here + scores[idx]
                    if score > best[e]:
                        best[e], piece[e], start[e] = score, idx, i
            score = here + unk_score
            if score > best[i + 1]:
                best[i + 1], piece[i + 1], start[i + 1] = score, self.unk, i
        out = []
        e = n
        while e > 0:
            out.append(piece[e])
            e = start[e]
        out.reverse()
        return out

    def encode(self, text: str) -> list[int]:
        """<s> piece ids </s>, truncated to `max_tokens` as sentence-transformers truncates."""
        return [self.bos, *self.content_ids(text)[: self.max_tokens - 2], self.eos]

    def pad(self, rows: Sequence[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Ids padded to the longest row, and the attention mask."""
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), self.pad_id, np.int64)
        mask = np.zeros((len(rows), width), np.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = r
            mask[i, :len(r)] = 1
        return ids, mask
