"""The dedup benchmark's ground truth: real pages from ../shared/data, copies with word-level edits planted at known
edit rates, and the truth that the planting gives (which copy is a duplicate of which original), independent of
any shingling or LSH."""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path
from typing import NamedTuple

from warcio.archiveiterator import ArchiveIterator

REPO = Path(__file__).resolve().parent.parent
_CANDIDATES = [REPO.parent / "shared" / "data", REPO.parent.parent / "shared" / "data"]  # a clone, a worktree
SHARED = Path(os.environ.get("SYNCODE_SHARED_DATA") or next((c for c in _CANDIDATES if c.is_dir()), _CANDIDATES[0]))
WARC_SETS = ("debian-docs/*.warc.gz", "trafilatura-eval/*.warc.gz", "article-benchmark/*.warc.gz")
DUPLICATE_MAX_RATE = 0.02  # see planted_kind
DISTINCT_MIN_RATE = 0.05
PLANT_RATES = (0.003, 0.006, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.08, 0.15)
FIXTURE = REPO / "tests" / "data" / "dedup" / "python-tutorial-pages.jsonl"


def require_shared() -> None:
    """The benchmark reads the shared data set; without it, it says so and exits 0."""
    if not (SHARED / "warc").is_dir():
        print(f"shared data not found at {SHARED} (set SYNCODE_SHARED_DATA); nothing to measure")
        print("RESULT skipped=1")
        sys.exit(0)


def fixture_pages() -> list[str]:
    """The smoke corpus: the 8 bundled Python tutorial pages (tests/data/dedup, with their provenance)."""
    return [json.loads(line)["text"] for line in FIXTURE.read_text().splitlines() if line.strip()]


def real_pages(min_words: int = 80, max_words: int = 3000) -> list[str]:
    """Main text (resiliparse) of every HTML page in the shared WARCs with at least `min_words` words, cut to
    `max_words`; exact repeats of a text are left out so that every near duplicate is one we can explain."""
    from resiliparse.extract.html2text import extract_plain_text

    from transforms.read_warc import declared_charset, decode_html

    texts, seen = [], set()
    for pattern in WARC_SETS:
        for path in sorted((SHARED / "warc").glob(pattern)):
            with path.open("rb") as fh:
                for record in ArchiveIterator(fh):
                    if record.rec_type != "response":
                        continue
                    payload = record.content_stream().read()
                    html = decode_html(payload, declared_charset("", payload[:4096]))[0]
                    words = extract_plain_text(html, main_content=True).split()
                    text = " ".join(words[:max_words])
                    if len(words) >= min_words and text not in seen:
                        seen.add(text)
                        texts.append(text)
    return texts


def _edit(tokens: list[str], k: int, rng: random.Random) -> list[str]:
    out = list(tokens)
    for _ in range(k):
        pos = rng.randrange(len(out))
        kind = rng.random()
        if kind < 0.5:
            out[pos] = f"w{rng.randrange(10**8)}"
        elif kind < 0.75:
            out.insert(pos, f"w{rng.randrange(10**8)}")
        else:
            del out[pos]
    return out


def plant_copy(text: str, rate: float, seed: int) -> tuple[str, float]:
    """A copy with round(rate x words) (at least one) random word substitutions, insertions and deletions; returns
    the copy and its realised edit rate (edits over the original's words). No shingle is looked at."""
    tokens = text.split()
    k = max(1, round(rate * len(tokens)))
    return " ".join(_edit(tokens, k, random.Random(seed))), k / len(tokens)


class Planted(NamedTuple):
    """What the planting knows of one copy: its original and its realised edit rate, hence its class."""

    original: str
    rate: float
    kind: str  # "duplicate", "boundary" or "distinct": see planted_kind


def planted_kind(rate: float) -> str:
    """The truth at threshold 0.8, from the edit rate alone. An edit touches at most 5 of the word 5-grams and adds at
    most 5, so a copy with edit rate r has Jaccard >= (1 - 5r) / (1 + 5r) wherever the edits fall: >= 0.818 for
    r <= DUPLICATE_MAX_RATE, a duplicate that must be found. Edits at random positions leave about (1 - r)^5 of the
    5-grams, Jaccard ~ 0.63 at r = DISTINCT_MIN_RATE, far below 0.8: a distinct document that must be kept. Rates in
    between sit near the threshold; they are planted, reported, and scored neither way."""
    if rate <= DUPLICATE_MAX_RATE:
        return "duplicate"
    return "distinct" if rate >= DISTINCT_MIN_RATE else "boundary"


def build_corpus(texts: list[str], n_families: int, copies: int,
                 seed: int = 5) -> tuple[list[tuple[str, str]], dict[str, Planted]]:
    """(id, text) of every real page plus `copies` planted copies, at edit rates drawn from PLANT_RATES, of
    `n_families` of them; and what the planting knows of each copy, by id."""
    rng = random.Random(seed)
    docs = [(f"p{i:05d}", t) for i, t in enumerate(texts)]
    planted: dict[str, Planted] = {}
    for fam, i in enumerate(rng.sample(range(len(texts)), n_families)):
        for c in range(copies):
            copy, rate = plant_copy(texts[i], rng.choice(PLANT_RATES), seed=fam * 100 + c)
            docs.append((f"p{i:05d}-c{c}", copy))
            planted[f"p{i:05d}-c{c}"] = Planted(f"p{i:05d}", rate, planted_kind(rate))
    return docs, planted


def doc_metrics(removed: set[str], planted: dict[str, Planted]) -> dict[str, float]:
    """Scored on the planted families only (an original and its copies). A family's duplicate group is its original
    and its duplicate copies: of them, all but one should go, and every distinct copy should stay. Precision: share
    of the removed family documents that belong to a duplicate group (boundary copies left out). Recall: removals
    inside each group, at most its copies, over the duplicate copies planted."""
    groups: dict[str, set[str]] = {}
    distinct, boundary = set(), set()
    for cid, p in planted.items():
        group = groups.setdefault(p.original, {p.original})
        if p.kind == "duplicate":
            group.add(cid)
        else:
            (distinct if p.kind == "distinct" else boundary).add(cid)
    in_groups = sum(len(removed & g) for g in groups.values())
    found = sum(min(len(removed & g), len(g) - 1) for g in groups.values())
    wrong = len(removed & distinct)
    expected = sum(len(g) - 1 for g in groups.values())
    return {"precision": in_groups / (in_groups + wrong) if in_groups + wrong else 1.0,
            "recall": found / expected if expected else 1.0,
            "distinct_removed": wrong, "distinct": len(distinct), "duplicates": expected,
            "boundary_removed": len(removed & boundary), "boundary": len(boundary),
            "unjudged_removed": len(removed - set(planted) - set(groups))}


def pair_recall(found: set[tuple[str, str]], planted: dict[str, Planted], kind: str) -> float:
    """Share of the (original, copy) pairs of this kind that are among the found pairs."""
    pairs = [tuple(sorted((p.original, cid))) for cid, p in planted.items() if p.kind == kind]
    return sum(1 for pair in pairs if pair in found) / len(pairs) if pairs else 1.0
