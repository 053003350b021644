"""Text normalisation and hashed word n-grams shared by exact dedup, MinHash and decontamination."""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import xxhash

_WORD_RE = re.compile(r"\w+")
_SPACE_RE = re.compile(r"\s+")
# Odd 64-bit multipliers for combining word hashes into an n-gram hash (uint64 arithmetic wraps, as intended).
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
                 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x94D049BB133111EB, 0xBF58476D1CE4E5B9,
                 0x27D4EB2F165667C5, 0x85EBCA77C2B2AE63, 0x61C8864680B583EB, 0xA0761D6478BD642F],
                dtype=np.uint64)
MAX_NGRAM = len(_MIX)


def normalise(text: str) -> str:
    """NFKC, lower case, whitespace collapsed: copies that differ only in layout or case hash alike."""
    return _SPACE_RE.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def words(text: str) -> list[str]:
    """Word tokens of the normalised text (code identifiers and numbers included, punctuation dropped)."""
    return _WORD_RE.findall(unicodedata.normalize("NFKC", text).lower())


def text_hash(text: str) -> str:
    """A 128-bit hash of the normalised text, the key of exact dedup."""
    return xxhash.xxh3_128_hexdigest(normalise(text).encode("utf-8"))


def word_hashes(tokens: list[str]) -> np.ndarray:
    """One 64-bit xxh3 hash per word."""
    return np.fromiter(map(xxhash.xxh3_64_intdigest, tokens), dtype=np.uint64, count=len(tokens))


def ngram_hashes(tokens: list[str], n: int) -> np.ndarray:
    """64-bit hashes of every word n-gram, in text order; a text shorter than n words is one n-gram."""
    if not 1 <= n <= MAX_NGRAM:
        raise ValueError(f"n-gram size must be between 1 and {MAX_NGRAM}, got {n}")
    if not tokens:
        return np.empty(0, dtype=np.uint64)
    wh = word_hashes(tokens)
    if len(wh) < n:
        return (wh * _MIX[: len(wh)]).sum(dtype=np.uint64, keepdims=True)
    count = len(wh) - n + 1
    out = np.zeros(count, dtype=np.uint64)
    for i in range(n):
        out += wh[i:i + count] * _MIX[i]
    return out


def shingle_set(text: str, n: int) -> np.ndarray:
    """The sorted, unique hashed word n-grams of a text: the set that Jaccard similarity is defined on."""
    return np.unique(ngram_hashes(words(text), n))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted unique hash arrays."""
    if len(a) == 0 and len(b) == 0:
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)
