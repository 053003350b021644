"""The dedup benchmark's ground truth: real pages from ../shared/data, copies with word-level edits planted at known
Jaccard, and the exact Jaccard of every pair (sparse matrix product), independent of any LSH."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from warcio.archiveiterator import ArchiveIterator

from dedup.text import shingle_set

REPO = Path(__file__).resolve().parent.parent
_CANDIDATES = [REPO.parent / "shared" / "data", REPO.parent.parent / "shared" / "data"]  # a clone, a worktree
SHARED = Path(os.environ.get("SYNCODE_SHARED_DATA") or next((c for c in _CANDIDATES if c.is_dir()), _CANDIDATES[0]))
WARC_SETS = ("debian-docs/*.warc.gz", "trafilatura-eval/*.warc.gz", "article-benchmark/*.warc.gz")
TARGETS = (0.5, 0.6, 0.7, 0.75, 0.78, 0.82, 0.85, 0.9, 0.95)


def require_shared() -> None:
    """The benchmark reads the shared data set; without it, it says so and exits 0."""
    if not (SHARED / "warc").is_dir():
        print(f"shared data not found at {SHARED} (set SYNCODE_SHARED_DATA); nothing to measure")
        print("RESULT skipped=1")
        sys.exit(0)


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
        elif len(out) > 10:
            del out[pos]
    return out


def plant_copy(text: str, target: float, seed: int) -> tuple[str, float]:
    """A copy with random word substitutions, insertions and deletions whose 5-gram Jaccard with `text` is as
    close to `target` as the edit count allows; returns the copy and its exact Jaccard."""
    tokens = text.split()
    base = shingle_set(text, 5)
    lo, hi = 0, len(tokens)
    best = (text, 1.0)
    while lo <= hi:
        k = (lo + hi) // 2
        copy = " ".join(_edit(tokens, k, random.Random(seed)))
        s = shingle_set(copy, 5)
        inter = len(np.intersect1d(base, s, assume_unique=True))
        j = inter / (len(base) + len(s) - inter)
        if abs(j - target) < abs(best[1] - target):
            best = (copy, j)
        if j > target:
            lo = k + 1
        else:
            hi = k - 1
    return best


def build_corpus(texts: list[str], n_families: int, copies: int, seed: int = 5) -> list[tuple[str, str]]:
    """(id, text): every real page, plus `copies` planted copies at target Jaccards for `n_families` of them."""
    rng = random.Random(seed)
    docs = [(f"p{i:05d}", t) for i, t in enumerate(texts)]
    for fam, i in enumerate(rng.sample(range(len(texts)), n_families)):
        for c in range(copies):
            copy, _ = plant_copy(texts[i], rng.choice(TARGETS), seed=fam * 100 + c)
            docs.append((f"p{i:05d}-c{c}", copy))
    return docs


def true_pairs(docs: list[tuple[str, str]], threshold: float) -> tuple[dict[tuple[str, str], float], int]:
    """Every pair with exact 5-gram Jaccard >= threshold, and the ideal number of removals (sum of component
    sizes minus one over the graph of those pairs)."""
    sets = [shingle_set(t, 5) for _, t in docs]
    vocab = np.unique(np.concatenate(sets))
    rows = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
    cols = np.searchsorted(vocab, np.concatenate(sets))
    m = sparse.csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(len(sets), len(vocab)))
    inter = sparse.triu(m @ m.T, k=1).tocoo()
    sizes = np.array([len(s) for s in sets])
    jac = inter.data / (sizes[inter.row] + sizes[inter.col] - inter.data)
    keep = jac >= threshold
    ids = [d for d, _ in docs]
    pairs = {(min(ids[a], ids[b]), max(ids[a], ids[b])): float(j)
             for a, b, j in zip(inter.row[keep], inter.col[keep], jac[keep], strict=True)}
    graph = sparse.coo_matrix((np.ones(keep.sum()), (inter.row[keep], inter.col[keep])), shape=(len(docs),) * 2)
    n_comp, labels = connected_components(graph, directed=False)
    comp_sizes = np.bincount(labels)
    return pairs, int((comp_sizes[comp_sizes > 1] - 1).sum())


def doc_metrics(removed: set[str], kept: set[str], truth: dict[tuple[str, str], float],
                ideal_removals: int) -> tuple[float, float]:
    """Precision: share of removed documents that are a true duplicate of a kept one. Recall: those documents
    over the ideal number of removals."""
    partners: dict[str, set[str]] = {}
    for a, b in truth:
        partners.setdefault(a, set()).add(b)
        partners.setdefault(b, set()).add(a)
    good = sum(1 for d in removed if partners.get(d, set()) & kept)
    return (good / len(removed) if removed else 1.0), (good / ideal_removals if ideal_removals else 1.0)


def pair_metrics(found: set[tuple[str, str]], truth: dict[tuple[str, str], float]) -> tuple[float, float]:
    hits = len(found & set(truth))
    return (hits / len(found) if found else 1.0), (hits / len(truth) if truth else 1.0)
