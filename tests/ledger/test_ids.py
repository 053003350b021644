"""The one id hash keeps the values every earlier run wrote: ids, cache keys, shards and samples must not move."""

from __future__ import annotations

import hashlib

from ledger.ids import bucket_of, stable_id, unit_hash


def _blake(text: str, size: int = 8) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=size).digest()


def test_stable_id_is_blake2b_of_the_joined_parts():
    assert stable_id("<urn:uuid:1>", "https://example.org/") == _blake("<urn:uuid:1>\x1fhttps://example.org/").hex()
    assert stable_id("k", size=16) == _blake("k", 16).hex()
    assert len(stable_id("k", size=16)) == 32


def test_unit_hash_is_the_digest_as_a_fraction():
    value = unit_hash("balance-v1", "seed-1")
    assert value == int.from_bytes(_blake("balance-v1\x1fseed-1"), "big") / 2**64
    assert 0.0 <= value < 1.0
    assert unit_hash("seed-1") == int(_blake("seed-1").hex(), 16) / 2**64


def test_bucket_of_is_the_digest_modulo_the_count():
    assert bucket_of("seed-1", 7) == int.from_bytes(_blake("seed-1"), "big") % 7
    assert {bucket_of(f"s{i}", 4) for i in range(200)} == {0, 1, 2, 3}


def test_a_lone_surrogate_hashes_instead_of_raising():
    assert len(stable_id("bad \udcff byte")) == 16
