from __future__ import annotations

import pytest

from dedup.minhash import LSHParams, SignatureMaker, bucket_pairs, lsh_params
from dedup.text import jaccard
from tests.dedup.fixtures import edit_words, pages


def test_derived_banding_sits_below_the_target_for_recall():
    params = lsh_params(0.8)
    assert params == LSHParams(num_perm=128, bands=21, rows=6)
    assert params.threshold < 0.8
    assert params.candidate_probability(0.8) >= 0.995
    assert params.candidate_probability(0.2) < 0.01


def test_banding_can_be_set_directly_and_is_checked():
    assert lsh_params(0.8, num_perm=112, bands=14, rows=8) == LSHParams(112, 14, 8)
    with pytest.raises(ValueError, match="exceeds num_perm"):
        lsh_params(0.8, num_perm=64, bands=14, rows=8)
    with pytest.raises(ValueError, match="threshold"):
        lsh_params(1.5)


def test_signatures_estimate_jaccard_and_identical_texts_share_every_band():
    maker = SignatureMaker(lsh_params(0.8))
    text = pages()[1]["text"]
    near = edit_words(text, 6, seed=1)
    far = pages()[2]["text"]
    sets = [maker.shingles(t) for t in (text, near, far, text)]
    sigs = list(maker.signatures(sets))
    assert sigs[0].jaccard(sigs[1]) == pytest.approx(jaccard(sets[0], sets[1]), abs=0.12)
    assert sigs[0].jaccard(sigs[2]) < 0.1
    assert maker.band_keys(sigs[0]) == maker.band_keys(sigs[3])
    assert len(maker.band_keys(sigs[0])) == 21
    assert not set(maker.band_keys(sigs[0])) & set(maker.band_keys(sigs[2]))


def test_bucket_pairs_all_pairs_when_small_and_linear_when_oversized():
    assert sorted(bucket_pairs(["c", "a", "b", "a"], 8)) == [("a", "b"), ("a", "c"), ("b", "c")]
    ids = [f"{i:03d}" for i in range(100)]
    pairs = list(bucket_pairs(ids, 10))
    assert len(pairs) < 2 * len(ids)
    assert all(a < b for a, b in pairs)
    assert {b for _, b in pairs} == set(ids[1:])  # every member is linked, so the bucket stays one component
