"""MinHash signatures (datasketch, bulk) and LSH banding: which documents become candidate near-duplicate pairs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

import numpy as np
import xxhash
from datasketch import LeanMinHash, MinHash

from dedup.text import ngram_hashes, words

SCHEME = "affine64"  # datasketch's 64-bit affine permutations, fed with our 64-bit shingle hashes


class LSHParams(NamedTuple):
    """How signatures are cut into bands: `bands` x `rows` hash values, out of `num_perm`."""

    num_perm: int
    bands: int
    rows: int

    def candidate_probability(self, similarity: float) -> float:
        """The chance that two documents of this Jaccard share at least one band."""
        return 1.0 - (1.0 - similarity ** self.rows) ** self.bands

    @property
    def threshold(self) -> float:
        """The Jaccard where the banding S-curve is steepest, about (1/b)^(1/r)."""
        return (1.0 / self.bands) ** (1.0 / self.rows)


def lsh_params(threshold: float, num_perm: int = 128, bands: int = 0, rows: int = 0,
               min_candidate_recall: float = 0.995) -> LSHParams:
    """Bands x rows set directly, or derived: the most rows per band that still make a pair AT the target
    Jaccard a candidate with probability >= min_candidate_recall, so banding sits below the target (recall)
    and the true-Jaccard check restores precision."""
    if bands and rows:
        if bands * rows > num_perm:
            raise ValueError(f"bands x rows = {bands * rows} exceeds num_perm = {num_perm}")
        return LSHParams(num_perm, bands, rows)
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    best = LSHParams(num_perm, num_perm, 1)
    for r in range(1, num_perm + 1):
        candidate = LSHParams(num_perm, num_perm // r, r)
        if candidate.bands and candidate.candidate_probability(threshold) >= min_candidate_recall:
            best = candidate
    return best


class SignatureMaker:
    """Shingles documents and signs them with datasketch's bulk generator; built once per worker in setup()."""

    def __init__(self, params: LSHParams, ngram: int = 5, seed: int = 1):
        self.params = params
        self.ngram = ngram
        self.seed = seed

    def shingles(self, text: str) -> np.ndarray:
        """Sorted unique 64-bit hashes of the word n-grams: exact Jaccard is computed on these."""
        return np.unique(ngram_hashes(words(text), self.ngram))

    def signatures(self, shingle_sets: Iterable[np.ndarray]) -> Iterator[LeanMinHash]:
        """One LeanMinHash per shingle set; the shingles are already 64-bit hashes, so the hash is the identity
        (`int`, a C builtin, since datasketch calls it once per shingle)."""
        batches = (s.tolist() for s in shingle_sets)
        for m in MinHash.generator(batches, num_perm=self.params.num_perm, seed=self.seed, hashfunc=int,
                                   scheme=SCHEME):
            yield LeanMinHash(m)

    def band_keys(self, signature: LeanMinHash) -> list[tuple[int, int]]:
        """(band, bucket) keys: documents sharing one are candidate duplicates."""
        r = self.params.rows
        values = np.ascontiguousarray(signature.hashvalues)
        return [(b, xxhash.xxh3_64_intdigest(values[b * r:(b + 1) * r].tobytes())) for b in range(self.params.bands)]


def bucket_pairs(members: Iterable[str], max_bucket_size: int) -> Iterator[tuple[str, str]]:
    """Candidate pairs (a < b) from one bucket: every pair while the bucket is small; in an oversized bucket each
    member pairs with the smallest id and its sorted neighbour, which keeps the bucket connected in O(n)."""
    ids = sorted(set(members))
    if len(ids) <= max_bucket_size:
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                yield a, b
        return
    first = ids[0]
    for i in range(1, len(ids)):
        yield first, ids[i]
        if i + 1 < len(ids):
            yield ids[i], ids[i + 1]
