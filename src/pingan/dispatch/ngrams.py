"""Character and word n-gram counts against a fitted vocabulary, for a whole batch of texts in numpy (the
routing model's hot loop).

scikit-learn's analyzers make one Python string per n-gram, and a dict lookup per string then finds its
column: for a message of 400 characters, 1,600 strings and lookups. Here each character (or word) becomes a
small id (its position among those the vocabulary uses), an n-gram becomes its ids packed into one int64, and
a hash table in two numpy arrays maps the packed codes to columns. All texts of a batch are read end to end,
separated by an id no n-gram contains, so that numpy's fixed cost per call is paid once per batch, not once
per text. The counts are exactly the analyzers' (tests/dispatch/test_ngrams.py checks them on the shipped
messages).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

# scikit-learn's char analyzer lowercases, then folds runs of whitespace into one space.
_SPACES = re.compile(r"\s\s+")
_MULT = np.int64(-7046029254386353131)  # 0x9E3779B97F4A7C15 as int64: multiplicative hashing
_EMPTY = -1

# Flat counts of many texts: (row, column, count, first) per entry, sorted by row, then column. `first` orders
# a row's entries as the analyzer meets them (n, then position of the first occurrence): the text's order.
Rows = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class CodeTable:
    """A hash table from packed n-gram codes (int64) to vocabulary columns: open addressing with linear
    probing, in two numpy arrays."""

    def __init__(self, codes: np.ndarray, cols: np.ndarray) -> None:
        self.span = int(cols.max(initial=-1)) + 1  # columns are below this
        self.mask = (1 << max(4, (2 * len(codes)).bit_length())) - 1  # load factor at most one half
        self.keys = np.full(self.mask + 1, _EMPTY, dtype=np.int64)
        self.cols = np.zeros(self.mask + 1, dtype=np.int64)
        slot = self._slot(codes)
        pending = np.arange(len(codes))
        # Every round places, per free slot, one code waiting for it.
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

    def _slot(self, codes: np.ndarray) -> np.ndarray:
        return ((codes * _MULT) >> 20) & self.mask

    def lookup(self, codes: np.ndarray) -> np.ndarray:
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


def _pack(ids: np.ndarray, starts: np.ndarray, lengths: np.ndarray, bits: int) -> np.ndarray:
    """Each term's ids (ids[start : start + length]) packed into one code, first id highest."""
    codes = np.zeros(len(starts), dtype=np.int64)
    for k in range(int(lengths.max(initial=0))):
        has = np.flatnonzero(lengths > k)
        codes[has] = (codes[has] << bits) | ids[starts[has] + k]
    return codes


def _count_rows(ids: np.ndarray, lengths: np.ndarray, bits: int, lo: int, hi: int, table: CodeTable) -> Rows:
    """Counts of the lo…hi-grams of every row; `ids`: the rows' ids end to end, each row followed by a 0 (an
    id no term has: n-grams never cross it), `lengths`: the rows' lengths without that 0."""
    row_of = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths + 1)
    codes: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    code, known = ids, ids != 0
    for n in range(1, hi + 1):
        if n > 1:
            if len(code) < 2:
                break
            code = (code[:-1] << bits) | ids[n - 1 :]
            known = known[:-1] & (ids[n - 1 :] != 0)
        if n >= lo:
            at = np.flatnonzero(known)
            codes.append(code[at])
            starts.append(at)
    if not codes:
        none = np.zeros(0, dtype=np.int64)
        return none, none, np.zeros(0), none
    found = table.lookup(np.concatenate(codes))
    rows = row_of[np.concatenate(starts)]
    hit = found >= 0
    span = table.span
    keys, first, counts = _runs(rows[hit] * span + found[hit])
    return keys // span, keys % span, counts, first


def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """np.unique(keys, return_index=True, return_counts=True), counts as float64. The keys come in (n,
    position) order, so a key's first index is where its text first has it. The index rides in the low bits
    of a plain sort: np.unique's stable sort for return_index took five times as long."""
    if not len(keys):
        return keys, keys, np.zeros(0)
    shift = len(keys).bit_length()
    if int(keys.max()).bit_length() + shift <= 62:
        packed = np.sort((keys << shift) | np.arange(len(keys)))
        ordered, index = packed >> shift, packed & ((1 << shift) - 1)
    else:
        index = np.argsort(keys, kind="stable")
        ordered = keys[index]
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    counts = np.diff(np.append(starts, len(ordered))).astype(np.float64)
    return ordered[starts], index[starts], counts


class CharGrams:
    """Counts of texts' lo…hi character n-grams by vocabulary column (scikit-learn's "char" analyzer)."""

    def __init__(self, vocabulary: Mapping[str, int], ngram_range: tuple[int, int]) -> None:
        self.lo, self.hi = ngram_range
        terms = list(vocabulary)
        chars = sorted({ch for t in terms for ch in t})
        self.bits = max(1, len(chars).bit_length())  # ids 1…len(chars); 0: a character no term has
        if self.bits * self.hi > 62:
            raise ValueError("too many distinct characters to pack an n-gram into 64 bits")
        self.ids = np.zeros(0x110000, dtype=np.int64)
        self.ids[np.fromiter(map(ord, chars), dtype=np.int64, count=len(chars))] = np.arange(1, len(chars) + 1)
        lengths = np.fromiter(map(len, terms), dtype=np.int64, count=len(terms))
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        codes = _pack(self._char_ids("".join(terms)), starts, lengths, self.bits)
        self.table = CodeTable(codes, np.fromiter(vocabulary.values(), dtype=np.int64, count=len(terms)))

    def _char_ids(self, text: str) -> np.ndarray:
        return self.ids[np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)]

    def count_rows(self, texts: Sequence[str]) -> Rows:
        """Counts of every text's n-grams that the vocabulary has, as flat (row, column, count) entries."""
        folded = [_SPACES.sub(" ", t.lower()) for t in texts]
        lengths = np.fromiter(map(len, folded), dtype=np.int64, count=len(folded))
        # "\0" has id 0 (no term has it), so n-grams stop at the end of each text.
        ids = self._char_ids("\0".join(folded) + "\0")
        return _count_rows(ids, lengths, self.bits, self.lo, self.hi, self.table)


class _Ids(dict[str, int]):
    def __missing__(self, key: str) -> int:
        return 0


class WordGrams:
    """Counts of token lists' lo…hi word n-grams by vocabulary column (scikit-learn's "word" analyzer over
    pre-tokenised words: an n-gram is its words joined by single spaces, and no word contains a space)."""

    def __init__(self, vocabulary: Mapping[str, int], ngram_range: tuple[int, int]) -> None:
        self.lo, self.hi = ngram_range
        parts = [t.split(" ") for t in vocabulary]
        self.ids = _Ids({w: i for i, w in enumerate(sorted({w for p in parts for w in p}), start=1)})
        self.bits = max(1, len(self.ids).bit_length())
        if self.bits * self.hi > 62:
            raise ValueError("too many distinct words to pack an n-gram into 64 bits")
        lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        ids = self._word_ids(itertools.chain.from_iterable(parts), int(lengths.sum()))
        codes = _pack(ids, starts, lengths, self.bits)
        self.table = CodeTable(codes, np.fromiter(vocabulary.values(), dtype=np.int64, count=len(parts)))

    def _word_ids(self, words: Iterable[str], count: int) -> np.ndarray:
        return np.fromiter(map(self.ids.__getitem__, words), dtype=np.int64, count=count)

    def count_rows(self, token_lists: Sequence[Sequence[str]]) -> Rows:
        """Counts of every token list's n-grams that the vocabulary has, as flat (row, column, count) entries."""
        lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
        # "" is no word (whitespace tokens are dropped), so it has id 0 and ends each row's n-grams.
        stream = itertools.chain.from_iterable(itertools.chain(t, ("",)) for t in token_lists)
        ids = self._word_ids(stream, int(lengths.sum()) + len(token_lists))
        return _count_rows(ids, lengths, self.bits, self.lo, self.hi, self.table)
