"""Shared fixtures: the bundled sample, a Beam TestPipeline on a runner that never reaches the network."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from apache_beam.testing.test_pipeline import TestPipeline

REPO = Path(__file__).resolve().parent.parent
SAMPLE_WARCS = sorted((REPO / "sample" / "warc").glob("*.warc.gz"))
DATA = Path(__file__).resolve().parent / "data"


def local_pipeline() -> TestPipeline:
    """A TestPipeline on the in-process FnApiRunner: no Prism download, counters available afterwards."""
    return TestPipeline(runner="FnApiRunner")


@pytest.fixture
def sample_warcs() -> list[Path]:
    assert SAMPLE_WARCS, "the bundled sample under sample/warc is missing"
    return SAMPLE_WARCS


@pytest.fixture
def broken_warcs(tmp_path: Path) -> dict[str, Path]:
    """Files a crawl can hand us: truncated gzip, garbage, an empty file, a non-WARC text file."""
    real = (REPO / "sample" / "warc" / "cc-whirlwind__whirlwind.warc.gz").read_bytes()
    files = {
        "truncated": real[: len(real) // 2],
        "garbage": bytes(range(256)) * 40,
        "empty": b"",
        "not_warc": gzip.compress(b"<html><body>just a page, not a WARC</body></html>\n" * 20),
    }
    out = {}
    for name, payload in files.items():
        path = tmp_path / f"{name}.warc.gz"
        path.write_bytes(payload)
        out[name] = path
    return out
