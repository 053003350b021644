from __future__ import annotations

import os
import re

import pytest

from ledger.drop import Drop
from transforms.extract_page import ExtractConfig, ExtractedPage
from transforms.extract_worker import ExtractionWorker

PROSE = "<p>" + "A sentence about loops in Python. " * 20 + "</p>"
PAGE = f"<html><body><article>{PROSE}</article></body></html>"


def catastrophic_regex(html: str, url: str, config: ExtractConfig):
    """Stuck inside C code (the regex engine holds the GIL): no signal or thread trick could interrupt it."""
    if html == "hang":
        re.match(r"(a+)+$", "a" * 64 + "b")
    return Drop("too_short", html)


def hard_crash(html: str, url: str, config: ExtractConfig):
    if html == "crash":
        os._exit(3)
    if html == "raise":
        raise ValueError("bad page")
    return None


@pytest.fixture
def worker():
    made = []

    def make(target: str, timeout_s: float = 1.0) -> ExtractionWorker:
        made.append(ExtractionWorker(ExtractConfig(timeout_s=timeout_s), target=target))
        return made[-1]

    yield make
    for w in made:
        w.close()


def test_a_page_over_the_limit_is_dropped_and_the_worker_carries_on(worker):
    w = worker("tests.transforms.test_extract_worker:catastrophic_regex")
    assert w.extract("fine", "u") == Drop("too_short", "fine")
    assert w.extract("hang", "u") == Drop("extract_timeout", "over 1s")
    assert w.restarts == 1
    assert w.extract("after", "u") == Drop("too_short", "after")


def test_a_crash_or_an_exception_is_a_counted_drop(worker):
    w = worker("tests.transforms.test_extract_worker:hard_crash")
    assert w.extract("crash", "u").reason == "extract_crash"
    assert w.extract("raise", "u") == Drop("extract_error", "ValueError: bad page")
    assert w.extract("ok", "u") is None


def test_real_extraction_runs_in_the_worker(worker):
    w = worker("transforms.extract_page:extract_code_page", timeout_s=60)
    result = w.extract(PAGE, "https://example.org/loops")
    assert isinstance(result, ExtractedPage) and "loops in Python" in result.markdown


def test_a_page_nested_100_000_deep_neither_crashes_nor_hangs_the_worker(worker):
    """libxml2 stops at 256 levels: the page comes back whole (flattened), one deeper still is a counted drop."""
    w = worker("transforms.extract_page:extract_code_page", timeout_s=120)
    body = f"<article>{PROSE}<pre>for i in x:\n    pass</pre></article>"
    deep = w.extract(f"<html><body>{'<div>' * 100_000}{body}{'</div>' * 100_000}</body></html>", "u")
    assert isinstance(deep, ExtractedPage) and "loops in Python" in deep.markdown, deep
    too_deep = w.extract(f"<html><body>{'<ul><li>' * 5_000}{body}</body></html>", "u")
    assert isinstance(too_deep, Drop) and too_deep.reason == "html_parse_error", too_deep
    assert isinstance(w.extract(PAGE, "u"), ExtractedPage) and w.restarts == 0
