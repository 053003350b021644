from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from pipeline.config import ExtractConfig
from pipeline.records import Page, Seed
from tests.conftest import local_pipeline
from transforms.extract_text import ExtractText, domain_of, seed_from_extraction
from transforms.stage import DROPPED_TAG, KEPT_TAG, Drop


def _page(html: str = "", url: str = "https://www.example.org/a") -> Page:
    return Page(id="p1", url=url, record_id="<urn:1>", warc_date="2024-01-01", crawl_id="", warc_file="f",
                offset=0, content_type="text/html", charset="utf-8", html=html)


def test_domain_strips_www():
    assert domain_of("https://www.Example.org/x") == "example.org"
    assert domain_of("not a url") == ""


def test_extraction_decisions():
    config = ExtractConfig(min_text_chars=10)
    assert seed_from_extraction(_page(), None, config) == Drop("no_main_text")
    assert seed_from_extraction(_page(), {"text": "  "}, config) == Drop("no_main_text")
    assert seed_from_extraction(_page(), {"text": "short"}, config) == Drop("too_short", "5")
    seed = seed_from_extraction(_page(), {"text": "long enough text", "title": " T "}, config)
    assert isinstance(seed, Seed)
    assert (seed.title, seed.text_words, seed.domain) == ("T", 3, "example.org")


def test_extract_stage_keeps_articles_and_counts_empty_pages():
    body = " ".join(f"Sentence number {i} explains how to write a loop in Python." for i in range(40))
    article = _page(f"<html><head><title>Loops</title></head><body><article><p>{body}</p></article></body></html>")
    empty = _page("<html><body></body></html>")._replace(id="p2")
    p = local_pipeline()
    out = p | beam.Create([article, empty]) | ExtractText(ExtractConfig())
    assert_that(out[KEPT_TAG] | beam.Map(lambda s: (s.id, s.title)), equal_to([("p1", "Loops")]))
    assert_that(out[DROPPED_TAG] | "R" >> beam.Map(lambda d: (d.id, d.stage, d.reason)),
                equal_to([("p2", "Extract", "no_main_text")]), label="drops")
    p.run().wait_until_finish()
