"""Character n-gram counts against a fitted vocabulary, in numpy (the routing model's hot loop).

scikit-learn's "char" analyzer makes one Python string per n-gram, and a dict lookup per string then finds
its column: for a message of 400 characters, 1,600 strings and lookups (a fifth of an intake batch's time
with real texts). Here each character becomes a small id (its position among the characters the vocabulary
uses), an n-gram becomes its ids packed into one int64, and a hash table in two numpy arrays maps the packed
codes to columns, all positions at once. The counts are exactly the analyzer's (tests/dispatch check it on the
shipped messages).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

# scikit-learn's char analyzer lowercases, then folds runs of whitespace into one space.
_SPACES = re.compile(r"\s\s+")
_MULT = np.int64(-7046029254386353131)  # 0x9E3779B97F4A7C15 as int64: multiplicative hashing
_EMPTY = -1


class CharGrams:
    """Counts of a text's lo…hi character n-grams by vocabulary column."""

    def __init__(self, vocabulary: Mapping[str, int], ngram_range: tuple[int, int]) -> None:
        self.lo, self.hi = ngram_range
        terms = list(vocabulary)
        chars = sorted({ch for t in terms for ch in t})
        self.bits = max(1, len(chars).bit_length())  # ids 1…len(chars); 0: a character no term has
        if self.bits * self.hi > 62:
            raise ValueError("too many distinct characters to pack an n-gram into 64 bits")
        self.ids = np.zeros(0x110000, dtype=np.int64)
        self.ids[np.fromiter(map(ord, chars), dtype=np.int64, count=len(chars))] = np.arange(1, len(chars) + 1)
        codes = self._pack_terms(terms)
        cols = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(terms))
        self.mask = (1 << max(4, (2 * len(terms)).bit_length())) - 1  # load factor at most one half
        self.keys = np.full(self.mask + 1, _EMPTY, dtype=np.int64)
        self.cols = np.zeros(self.mask + 1, dtype=np.int64)
        self._insert(codes, cols)

    def _pack_terms(self, terms: list[str]) -> np.ndarray:
        lengths = np.fromiter(map(len, terms), dtype=np.int64, count=len(terms))
        ids = self._char_ids("".join(terms))
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        codes = np.zeros(len(terms), dtype=np.int64)
        for k in range(int(lengths.max(initial=0))):
            has = np.flatnonzero(lengths > k)
            codes[has] = (codes[has] << self.bits) | ids[starts[has] + k]
        return codes

    def _char_ids(self, text: str) -> np.ndarray:
        return self.ids[np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)]

    def _slot(self, codes: np.ndarray) -> np.ndarray:
        return ((codes * _MULT) >> 20) & self.mask

    def _insert(self, codes: np.ndarray, cols: np.ndarray) -> None:
        """Open addressing with linear probing; every round places, per free slot, one code waiting for it."""
        slot = self._slot(codes)
        pending = np.arange(len(codes))
        while len(pending):
            s = slot[pending]
            free = self.keys[s] == _EMPTY
            taken, first = np.unique(s[free], return_index=True)
            winners = pending[free][first]
            self.keys[taken], self.cols[taken] = codes[winners], cols[winners]
            placed = np.zeros(len(codes), dtype=bool)
            placed[winners] = True
            pending = pending[~placed[pending]]
            slot[pending] = (slot[pending] + 1) & self.mask

    def _lookup(self, codes: np.ndarray) -> np.ndarray:
        """The column of each code, or −1."""
        out = np.full(len(codes), -1, dtype=np.int64)
        slot = self._slot(codes)
        todo = np.arange(len(codes))
        while len(todo):
            keys = self.keys[slot[todo]]
            hit = keys == codes[todo]
            out[todo[hit]] = self.cols[slot[todo[hit]]]
            todo = todo[~hit & (keys != _EMPTY)]
            slot[todo] = (slot[todo] + 1) & self.mask
        return out

    def count(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(columns ascending, counts as float64) of the text's n-grams that the vocabulary has."""
        ids = self._char_ids(_SPACES.sub(" ", text.lower()))
        parts: list[np.ndarray] = []
        code, known = ids, ids != 0
        for n in range(1, self.hi + 1):
            if n > 1:
                if len(ids) < n:
                    break
                code = (code[:-1] << self.bits) | ids[n - 1 :]
                known = known[:-1] & (ids[n - 1 :] != 0)
            if n >= self.lo:
                parts.append(code[known])
        found = self._lookup(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
        cols, counts = np.unique(found[found >= 0], return_counts=True)
        return cols, counts.astype(np.float64)
