"""Real page texts and planted near duplicates for the dedup tests."""

from __future__ import annotations

import json
import random

from tests.conftest import DATA

PAGES = DATA / "dedup" / "python-tutorial-pages.jsonl"


def pages() -> list[dict]:
    return [json.loads(line) for line in PAGES.read_text().splitlines() if line.strip()]


def edit_words(text: str, n_edits: int, seed: int) -> str:
    """Replace `n_edits` random words (spread over the text) with new tokens: a copy at a lower, known Jaccard."""
    rng = random.Random(seed)
    tokens = text.split()
    for pos in rng.sample(range(len(tokens)), n_edits):
        tokens[pos] = f"edit{rng.randrange(10**9)}"
    return " ".join(tokens)
