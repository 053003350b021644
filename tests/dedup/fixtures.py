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


def planted_corpus() -> list[dict]:
    """The pages with planted copies: near copies at several edit levels (clusters of 2-6), a chain whose ends are
    below the threshold, exact copies, a repeated id and an empty text; fixed seeds, so the corpus never changes."""
    docs = []
    for i, page in enumerate(pages()):
        docs.append({"id": page["id"], "text": page["text"], "score": 0.1 * i, "date": f"2024-01-{i + 1:02d}"})
        for k in range(i % 5 + 1):
            docs.append({"id": f"{page['id']}~{k}", "text": edit_words(page["text"], 10 + 6 * k, seed=100 * i + k),
                         "score": 0.05 * k, "date": f"2023-12-{k + 1:02d}"})
    chain = pages()[0]["text"]
    for k in range(1, 6):  # each link ~0.85 from the last, the ends far apart
        chain = edit_words(chain, 25, seed=900 + k)
        docs.append({"id": f"chain{k}", "text": chain, "score": 0.0, "date": ""})
    docs.append({"id": "exact-copy", "text": pages()[1]["text"], "score": 0.0, "date": ""})
    docs.append({"id": "empty", "text": "", "score": 0.0, "date": ""})
    return docs
