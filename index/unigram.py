"""The default model's tokenizer for questions, in a fifth of the memory of `tokenizers`.

`tokenizers` builds a trie of the 250k-piece vocabulary that keeps about 290 MB resident and
takes a second to parse; a server answering questions needs neither. This is the same Unigram
segmentation as e5.c's `tok_content` (and the tokenizer.json written for the model folder): the
engine's per-code-point normalisation map, runs of spaces squeezed, a leading metaspace, spaces
as metaspaces, Viterbi over the pieces, and one <unk> per character that no piece covers. The
pieces live in a plain dict (about 55 MB, against 290 MB), loaded from an .npz written once per
model folder.
tests/index/test_unigram.py checks it gives the ids `tokenizers` gives on real text.
"""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

METASPACE = "\u2581"
_SPACES = re.compile(" {2,}")


class UnigramTokenizer:
    def __init__(self, pieces: Sequence[str], scores: np.ndarray, norm_map: dict[str, str], *, bos: int,
                 eos: int, pad: int, unk: int, max_tokens: int = 512):
        ids: dict[str, int] = {}
        for i, p in enumerate(pieces):
            if p and i != unk:
                ids.setdefault(p, i)  # equal pieces: e5.c's hash lookup finds the first
        self._ids = ids
        self._scores = np.asarray(scores, np.float64).tolist()
        self._longest = max(len(p) for p in ids)
        self._unk_score = float(np.min(scores)) - 10.0
        self._norm = str.maketrans(norm_map) if norm_map else None
        self.bos, self.eos, self.pad_id, self.unk = bos, eos, pad, unk
        self.max_tokens = max_tokens

    # --- stored form -------------------------------------------------------------------
    @staticmethod
    def save(path: Path, pieces: Sequence[str], scores: np.ndarray, norm_map: dict[str, str], *, bos: int,
             eos: int, pad: int, unk: int) -> None:
        if any("\0" in p for p in pieces):
            raise ValueError("a piece contains NUL, which the stored form uses as separator")
        with open(path, "wb") as f:
            np.savez(f, pieces=np.frombuffer("\0".join(pieces).encode("utf-8"), np.uint8),
                     scores=np.asarray(scores, np.float32),
                     norm_map=np.frombuffer(json.dumps(norm_map).encode("utf-8"), np.uint8),
                     specials=np.array([bos, eos, pad, unk], np.int64))

    @classmethod
    def load(cls, path: Path, max_tokens: int = 512) -> "UnigramTokenizer":
        with np.load(path) as z:
            pieces = z["pieces"].tobytes().decode("utf-8").split("\0")
            norm_map = json.loads(z["norm_map"].tobytes().decode("utf-8"))
            bos, eos, pad, unk = (int(x) for x in z["specials"])
            return cls(pieces, z["scores"], norm_map, bos=bos, eos=eos, pad=pad, unk=unk, max_tokens=max_tokens)

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
        ids, scores, longest, unk_score = self._ids, self._scores, self._longest, self._unk_score
        best = [float("-inf")] * (n + 1)
        best[0] = 0.0
        piece = [0] * (n + 1)
        start = [0] * (n + 1)
        for i in range(n):
            here = best[i]
            for e in range(i + 1, min(n, i + longest) + 1):
                idx = ids.get(s[i:e])
                if idx is not None:
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

    def batch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Ids padded to the longest text, and the attention mask."""
        rows = [self.encode(t) for t in texts]
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), self.pad_id, np.int64)
        mask = np.zeros((len(rows), width), np.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = r
            mask[i, :len(r)] = 1
        return ids, mask
