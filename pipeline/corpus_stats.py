"""Read-side statistics of a written corpus (histograms, samples, summary) shared by `inspect` and the dataset card."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

# The columns worth a histogram, when an output has them (later stages add some of these).
HISTOGRAM_COLUMNS = ("natural_language", "programming_language", "category", "subcategory", "difficulty", "tier",
                     "nl_lang", "code_language", "domain", "crawl_id")


def shard_files(root: str, shards: list[dict[str, Any]]) -> list[str]:
    return [f"{root.rstrip('/')}/{s['path']}" for s in shards]


def column_counts(paths: list[str], column: str) -> Counter:
    """Value counts of one column over all shards, reading only that column."""
    counts: Counter = Counter()
    for path in paths:
        with FileSystems.open(path) as fh:
            pf = pq.ParquetFile(fh)
            if column not in pf.schema_arrow.names:
                return Counter()
            values = pf.read(columns=[column]).column(column).to_pylist()
            counts.update(v if v not in (None, "") else "(none)" for v in values)
    return counts


def histograms(paths: list[str], top: int = 20) -> dict[str, list[tuple[Any, int]]]:
    """The most common values of each histogram column the output has."""
    if not paths:
        return {}
    with FileSystems.open(paths[0]) as fh:
        names = set(pq.ParquetFile(fh).schema_arrow.names)
    return {c: column_counts(paths, c).most_common(top) for c in HISTOGRAM_COLUMNS if c in names}


def sample_rows(paths: list[str], n: int = 3, seed: int = 0, max_chars: int = 600) -> list[dict[str, Any]]:
    """A few rows picked deterministically, long strings cut, for a quick look."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for path in paths:
        with FileSystems.open(path) as fh:
            rows.extend(pq.read_table(fh).slice(0, 50).to_pylist())
    picked = rng.sample(rows, min(n, len(rows)))
    return [{k: (v[:max_chars] + "…" if isinstance(v, str) and len(v) > max_chars else v) for k, v in r.items()}
            for r in picked]


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in row) + " |" for row in rows]
    return "\n".join(lines)
