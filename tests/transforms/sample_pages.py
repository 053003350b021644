"""Real pages from the bundled sample WARCs, read once per test session."""

from __future__ import annotations

import functools

from ledger.records import Page
from tests.conftest import REPO
from transforms.read_warc import ReadConfig, ReadWarcFileFn


@functools.cache
def sample_pages(name: str) -> dict[str, Page]:
    """The HTML pages of sample/warc/NAME by URL."""
    fn = ReadWarcFileFn(ReadConfig())
    fn.setup()
    return {p.url: p for p in fn.process(str(REPO / "sample" / "warc" / name)) if isinstance(p, Page)}


def debian_page(url: str) -> Page:
    return sample_pages("debian-docs-sample.warc.gz")[url]
