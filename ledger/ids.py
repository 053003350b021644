"""The one id hash: blake2b over `\\x1f`-joined parts, for record ids, cache keys, shards and stable sampling."""

from __future__ import annotations

import hashlib


def _digest(parts: tuple[str, ...], size: int) -> bytes:
    # surrogatepass: a lone surrogate (text decoded with surrogateescape) hashes instead of raising
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8", errors="surrogatepass"), digest_size=size).digest()


def stable_id(*parts: str, size: int = 8) -> str:
    """A short, stable hex id from identifying fields, so reruns, caches and shard assignment agree."""
    return _digest(parts, size).hex()


def unit_hash(*parts: str) -> float:
    """A stable number in [0, 1) from identifying fields, for deterministic sampling and splits."""
    return int.from_bytes(_digest(parts, 8), "big") / 2**64


def bucket_of(key: str, buckets: int) -> int:
    """Which of `buckets` a key falls in, by the same hash: a row's output shard."""
    return int.from_bytes(_digest((key,), 8), "big") % buckets
