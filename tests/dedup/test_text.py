from __future__ import annotations

import numpy as np
import pytest

from dedup.text import jaccard, ngram_hashes, normalise, shingle_set, text_hash, words
from tests.dedup.fixtures import edit_words, pages


def test_exact_key_ignores_case_and_layout_but_not_punctuation():
    assert normalise("  Hello\n\tWORLD  ") == "hello world"
    assert text_hash("def f(x):\n    return x") == text_hash("DEF F(x):  return   x")
    assert text_hash("a + b") != text_hash("a - b")


def test_words_keep_code_identifiers_and_numbers():
    assert words("for i in range(10): total_sum += i") == ["for", "i", "in", "range", "10", "total_sum", "i"]


def test_ngram_counts_and_short_text_is_one_ngram():
    assert len(ngram_hashes(words("one two three four five six seven"), 5)) == 3
    assert len(ngram_hashes(["just", "two"], 5)) == 1
    assert len(ngram_hashes([], 5)) == 0
    with pytest.raises(ValueError, match="n-gram size"):
        ngram_hashes(["a"], 0)


def test_ngram_hash_depends_on_word_order():
    a, b = ngram_hashes(["a", "b", "c"], 3), ngram_hashes(["c", "b", "a"], 3)
    assert a[0] != b[0]


def test_jaccard_of_hashed_shingles_equals_jaccard_of_word_tuples():
    text = pages()[0]["text"]
    edited = edit_words(text, 12, seed=3)

    def grams(t):
        w = words(t)
        return {tuple(w[i:i + 5]) for i in range(len(w) - 4)}

    truth = len(grams(text) & grams(edited)) / len(grams(text) | grams(edited))
    assert 0.5 < truth < 0.95
    assert jaccard(shingle_set(text, 5), shingle_set(edited, 5)) == pytest.approx(truth)
    assert jaccard(shingle_set(text, 5), shingle_set(text, 5)) == 1.0
    assert jaccard(np.empty(0, np.uint64), np.empty(0, np.uint64)) == 1.0
