"""The benches' `--smoke` input: a few real pages in the shared data's own layout, bundled under tests/data/bench."""

from __future__ import annotations

from pathlib import Path

from bench import shared_pages

SMOKE_SHARED = Path(__file__).resolve().parent.parent / "tests" / "data" / "bench" / "shared"


def use_smoke_pages() -> None:
    """Point the shared-data loaders at the bundled pages, so a smoke run reads them as a full run reads ../shared."""
    shared_pages.SHARED, shared_pages.WARC = SMOKE_SHARED, SMOKE_SHARED / "warc"
