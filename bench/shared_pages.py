"""Load real pages and ground truth from ../shared/data for the benchmarks (never used by the pipeline or tests)."""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

REPO = Path(__file__).resolve().parent.parent
_CANDIDATES = [REPO.parent / "shared" / "data", REPO.parent.parent / "shared" / "data"]  # a clone, a worktree
SHARED = Path(os.environ.get("SYNCODE_SHARED_DATA") or next((c for c in _CANDIDATES if c.is_dir()), _CANDIDATES[0]))
WARC = SHARED / "warc"


def require_shared() -> None:
    """Benchmarks read the shared data set; without it they say so and exit 0."""
    if not WARC.is_dir():
        print(f"shared data not found at {SHARED} (set SYNCODE_SHARED_DATA); nothing to measure")
        print("RESULT skipped=1")
        sys.exit(0)


def iter_html(pattern: str) -> Iterator[dict]:
    """Every response record of the shared WARCs matching `pattern` (relative to warc/), as raw bytes plus headers."""
    for path in sorted(WARC.glob(pattern)):
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type != "response":
                    continue
                yield {"url": record.rec_headers.get_header("WARC-Target-URI"),
                       "record_id": record.rec_headers.get_header("WARC-Record-ID"),
                       "file": path.name, "payload": record.content_stream().read()}


def decode(payload: bytes) -> str:
    """UTF-8 first (the shared pages are mostly UTF-8), then the reader's own fallback."""
    from transforms.read_warc import declared_charset, decode_html

    return decode_html(payload, declared_charset("", payload[:4096]))[0]


def debian_docs(limit: int | None, seed: int = 7) -> list[dict]:
    """Debian documentation pages with their labels (programming language, has_code_block)."""
    labels = {}
    for line in (WARC / "debian-docs" / "labels.jsonl").read_text().splitlines():
        row = json.loads(line)
        labels[row["record_id"]] = row
    pages = []
    for page in iter_html("debian-docs/*.warc.gz"):
        page["label"] = labels.get(page["record_id"], {})
        page["html"] = decode(page.pop("payload"))
        pages.append(page)
    return _sample(pages, limit, seed)


def trafilatura_eval(limit: int | None = None, seed: int = 7) -> list[dict]:
    """trafilatura's evaluation pages with their must-have (`with`) and must-not (`without`) snippets."""
    truth = json.loads((WARC / "trafilatura-eval" / "evaldata.json").read_text())
    pages = []
    for page in iter_html("trafilatura-eval/*.warc.gz"):
        entry = truth.get(page["url"])
        if entry is None:
            continue
        page["with"], page["without"] = entry.get("with", []), entry.get("without", [])
        page["html"] = decode(page.pop("payload"))
        pages.append(page)
    return _sample(pages, limit, seed)


def article_benchmark(limit: int | None = None, seed: int = 7) -> list[dict]:
    """scrapinghub's article-extraction-benchmark pages with their clean article body."""
    truth = json.loads((WARC / "article-benchmark" / "ground-truth.json").read_text())
    by_url = {v["url"]: v["articleBody"] for v in truth.values()}
    pages = []
    for page in iter_html("article-benchmark/*.warc.gz"):
        if page["url"] in by_url:
            page["body"] = by_url[page["url"]]
            page["html"] = decode(page.pop("payload"))
            pages.append(page)
    return _sample(pages, limit, seed)


def _sample(pages: list[dict], limit: int | None, seed: int) -> list[dict]:
    if limit is None or limit >= len(pages):
        return pages
    return random.Random(seed).sample(pages, limit)


LABELS = REPO / "bench" / "labels"
REPORT_SALT = "tune-report-v1"  # splits the pages the classifier never saw into tune and report halves


def read_page_labels(path: Path = LABELS / "noncode_with_code_tags.tsv") -> dict[str, tuple[str, str]]:
    """Hand labels, url -> (label, reason), from a TSV of url, code|other, one-line reason ('#' lines are notes)."""
    labels: dict[str, tuple[str, str]] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        url, label, reason = (line.split("\t") + ["", ""])[:3]
        if label not in ("code", "other") or not reason.strip():
            raise ValueError(f"{path}:{n}: want url<TAB>code|other<TAB>reason, got {line!r}")
        labels[url] = (label, reason)
    return labels


def split_of(url: str, trained_on: bool, report_fraction: float = 0.5) -> str:
    """'train' for a page the shipped classifier learnt from, else 'tune' or 'report' by a stable hash of the URL,
    so thresholds are chosen on pages that the reported figures never include."""
    from ledger.ids import unit_hash

    if trained_on:
        return "train"
    return "report" if unit_hash(REPORT_SALT, url) < report_fraction else "tune"
