"""The one tokenizer for the keyword leg: the same function indexes passages and reads queries.

jieba's search mode cuts long words into their parts as well, so "外汇储备" in a query meets
"外汇" and "储备" in a passage. The corpus's own terms (quoted terms, heading words) are added
to jieba's dictionary so they stay whole; they are saved in the index so a query is cut the
same way the passages were.
"""
from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np

from docqa.index.store import lean_import
from docqa.ingest.text import normalize

TOKENIZER_VERSION = 3
"""3: Traditional text is cut on its Simplified form (see `Tokenizer.__call__`); an index saved
by version 2 keeps cutting as it was built (`simplified=False`), so its queries still match."""

_STOP_ZH = set(
    "的 了 是 在 和 与 及 或 等 也 都 而 又 并 对 把 被 让 给 从 向 以 于 为 之 其 这 那 此 该 各 每 "
    "个 一个 这个 那个 这些 那些 一些 有 没有 就 才 还 将 已 已经 要 会 能 可以 可 如 如果 但 但是 "
    "因为 所以 因此 由于 则 即 并且 而且 以及 我们 你们 他们 它们 我 你 他 她 它 自己 本 "
    "什么 哪 哪个 哪些 哪里 哪儿 哪一年 几 多少 多大 谁 吗 呢 吧 啊 呀 么 怎么 怎样 如何 为什么 "
    "是否 是不是 请问 一下 主要 一共 分别 有关 关于 通过 进行 其中 之一".split()
)
_STOP_EN = set(
    "a an the of to in on at for by with from as is are was were be been being do does did "
    "what which who whom whose when where why how this that these those it its and or not "
    "there their they them he she his her i you we our your me my".split()
)
STOP_WORDS = frozenset(_STOP_ZH | _STOP_EN)

_QUOTED = re.compile(r"[“\"「『《]([^“”\"「」『』《》\n]{2,16})[”\"」』》]")
_HAS_WORD = re.compile(r"[\w]", re.UNICODE)
_HEADING_SPLIT = re.compile(r"[\s、，,。：:；;/（）()“”\"《》·—-]+")
_HEADING_NUMBER = re.compile(r"^(第[0-9一二三四五六七八九十百零〇两]+[章节篇部]|[一二三四五六七八九十]+、|[0-9]+[.、])")


def _is_token(tok: str) -> bool:
    if not tok or tok in STOP_WORDS:
        return False
    return bool(_HAS_WORD.search(tok)) and not all(unicodedata.category(c).startswith("P") for c in tok)


def corpus_terms(texts: Iterable[str], headings: Iterable[str] = ()) -> list[str]:
    """Terms to keep whole: quoted terms (“一带一路”) and the words of headings."""
    terms: Counter[str] = Counter()
    for text in texts:
        for m in _QUOTED.finditer(text):
            terms[normalize(m.group(1)).lower()] += 1
    for heading in headings:
        body = _HEADING_NUMBER.sub("", normalize(heading)).strip()
        for part in _HEADING_SPLIT.split(body):
            part = part.lstrip("的之与和及")
            if 2 <= len(part) <= 8:
                terms[part.lower()] += 1
    return sorted(t for t in terms if " " not in t and _is_token(t))


@lru_cache(maxsize=1)
def _base_dictionary() -> tuple[dict[str, int], int]:
    jieba = lean_import.jieba()
    jieba.setLogLevel(logging.WARNING)
    base = jieba.Tokenizer()
    base.initialize()
    return base.FREQ, base.total


@lru_cache(maxsize=1)
def _frozen_base() -> FrozenDictionary:
    """jieba's dictionary hashed once per process (about 0.5 CPU s), for every index built."""
    return FrozenDictionary.from_dict(_base_dictionary()[0])


def _key(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


class FrozenDictionary(Mapping):
    """A jieba word-frequency table as sorted 64-bit word hashes and their frequencies.

    jieba's own cache takes about 0.8 s to unmarshal (500k entries), most of a command-line
    question's time; these arrays load in milliseconds, and a question's cut needs only a few
    hundred look-ups. Writes (jieba's `add_word`) go to a small overlay. A hash collision between
    two of 500k words has a probability near 1e-8.
    """

    def __init__(self, keys: np.ndarray, freqs: np.ndarray):
        self._keys, self._freqs, self._overlay = keys, freqs, {}
        # bisect over memoryviews: a look-up without numpy scalars costs half of searchsorted's
        self._key_view = memoryview(np.ascontiguousarray(keys))
        self._freq_view = memoryview(np.ascontiguousarray(freqs))

    @classmethod
    def from_dict(cls, freq: Mapping[str, int]) -> "FrozenDictionary":
        keys = np.fromiter((_key(w) for w in freq), dtype=np.uint64, count=len(freq))
        freqs = np.fromiter(freq.values(), dtype=np.int64, count=len(freq))
        if len(freqs) and (freqs.min() < 0 or freqs.max() > np.iinfo(np.int32).max):
            raise ValueError("word frequencies out of int32 range")
        order = np.argsort(keys, kind="stable")
        return cls(keys[order], freqs[order])

    def merged(self, words: Mapping[str, int]) -> "FrozenDictionary":
        """A copy with `words` set (updated or inserted), its overlay folded in too."""
        words = {**self._overlay, **words}
        keys = np.fromiter((_key(w) for w in words), dtype=np.uint64, count=len(words))
        freqs = np.fromiter(words.values(), dtype=np.int64, count=len(words))
        keys, first = np.unique(keys[::-1], return_index=True)  # the last value of a repeated hash
        freqs = freqs[::-1][first]
        at = np.searchsorted(self._keys, keys)
        found = (at < len(self._keys)) & (self._keys[np.minimum(at, len(self._keys) - 1)] == keys)
        out_freqs = self._freqs.copy()
        out_freqs[at[found]] = freqs[found]
        return FrozenDictionary(np.insert(self._keys, at[~found], keys[~found]),
                                np.insert(out_freqs, at[~found], freqs[~found]))

    def get(self, word: str, default: int | None = None) -> int | None:  # type: ignore[override]
        """jieba asks with `get`, `in` and `[]` a few hundred times per question: one search each."""
        if self._overlay and word in self._overlay:
            return self._overlay[word]
        h = _key(word)
        keys = self._key_view
        i = bisect_left(keys, h)
        if i < len(keys) and keys[i] == h:
            return self._freq_view[i]
        return default

    def __getitem__(self, word: str) -> int:
        freq = self.get(word)
        if freq is None:
            raise KeyError(word)
        return freq

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.get(word) is not None

    def __setitem__(self, word: str, freq: int) -> None:
        self._overlay[word] = freq

    def __len__(self) -> int:
        return len(self._keys) + len(self._overlay)

    def __iter__(self) -> Iterator[str]:
        raise TypeError("a FrozenDictionary keeps word hashes, not words")

    def save(self, path: Path, total: int) -> None:
        if self._overlay:
            raise ValueError("freeze the dictionary after adding words, not before")
        with open(path, "wb") as f:
            np.savez(f, keys=self._keys, freqs=self._freqs.astype(np.int32), total=np.int64(total))

    @classmethod
    def load(cls, path: Path) -> tuple["FrozenDictionary", int]:
        with np.load(path) as table:
            return cls(table["keys"], table["freqs"]), int(table["total"])


def _t2s(text: str) -> str:
    from docqa.index.question import _converter

    return _converter("t2s.json").convert(text) if _HAN.search(text) else text


_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def cuts_simplified(manifest: dict) -> bool:
    """Whether an index's keyword vocabulary was cut on Simplified forms (tokenizer version 3 on)."""
    settings = manifest.get("tokenizer") if isinstance(manifest, dict) else None
    return isinstance(settings, dict) and int(settings.get("version") or 0) >= 3


class Tokenizer:
    """jieba, the corpus terms, NFKC folding and stop words, in one callable."""

    def __init__(self, terms: Iterable[str] = (), *, dictionary: tuple[FrozenDictionary, int] | None = None,
                 simplified: bool = True):
        """`dictionary`: the frozen table saved with an index (its terms already added), which
        spares loading jieba's own dictionary; cuts are the same. `simplified`: cut Traditional
        text on its Simplified form (False for an index built before, version 2)."""
        self._jieba = lean_import.jieba().Tokenizer()
        self.simplified = simplified
        self.terms = sorted(set(terms) | ({_t2s(t) for t in terms} if simplified else set()))
        if dictionary is not None:
            self._jieba.FREQ, self._jieba.total = dictionary
            self._jieba.initialized = True
            return
        # Each tokenizer gets its own copy of jieba's dictionary (loaded once per process), so
        # one corpus's terms never leak into another's.
        freq, total = _base_dictionary()
        self._jieba.FREQ, self._jieba.total, self._jieba.initialized = dict(freq), total, True
        for term in self.terms:
            self._jieba.add_word(term, freq=max(self._jieba.suggest_freq(term, tune=False), 1000))

    def save_dictionary(self, path: Path) -> None:
        """Write the dictionary (jieba's plus the corpus terms) as a `FrozenDictionary`."""
        freq = self._jieba.FREQ
        if isinstance(freq, FrozenDictionary):
            frozen = freq.merged({})
        else:  # jieba's dictionary plus what adding the terms changed: each term and its prefixes
            changed = {t[:i]: freq[t[:i]] for t in self.terms for i in range(1, len(t) + 1) if t[:i] in freq}
            frozen = _frozen_base().merged(changed)
        frozen.save(path, self._jieba.total)

    def settings(self) -> dict:
        return {"version": TOKENIZER_VERSION, "mode": "jieba-search", "terms": len(self.terms),
                "stop_words": len(STOP_WORDS)}

    def __call__(self, text: str) -> list[str]:
        """The text's words. jieba's dictionary and the stop words are Simplified: Traditional
        text is cut where its Simplified form (`opencc` t2s, character for character) is cut, and
        each word is returned in the text's own characters, so words still match the passages
        they came from. On DRCD dev (Traditional Wikipedia, tuning questions) this took the answer
        accuracy from .708 to .755 and the answerable questions refused from 18.8% to 14.5%
        (benchmarks/results/refusal-lodo.txt); a Simplified text is cut exactly as before."""
        text = normalize(text).lower()
        if self.simplified:
            simple = _t2s(text)
            if simple != text and len(simple) == len(text):
                return [text[s:e] for w, s, e in self._jieba.tokenize(simple, mode="search", HMM=True)
                        if _is_token(w.strip())]
        return [t for t in self._jieba.cut_for_search(text, HMM=True) if _is_token(t.strip())]
