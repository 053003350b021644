from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.util import assert_that, equal_to

from pipeline.config import ReadConfig
from tests.conftest import local_pipeline
from transforms.read_warc import (
    RawResponse,
    ReadWarc,
    crawl_id_of,
    decide_response,
    declared_charset,
    decode_html,
    is_html,
)
from transforms.stage import DROPPED_TAG, KEPT_TAG

HTML = b"<!DOCTYPE html><html><body><p>hello</p></body></html>"


def _raw(**kw) -> RawResponse:
    base = dict(rec_type="response", fmt="warc", status="200", content_type="text/html; charset=utf-8",
                identified_type="", payload=HTML)
    return RawResponse(**{**base, **kw})


def test_html_by_header_identified_type_or_sniff():
    assert is_html("text/html; charset=UTF-8", "", b"")
    assert is_html("application/octet-stream", "text/html", b"")
    assert is_html("", "", b"  \n<!doctype html><html>")
    assert not is_html("application/json", "", b'{"a": 1}')


def test_charset_from_header_then_meta():
    assert declared_charset('text/html; charset="ISO-8859-1"', b"") == "iso-8859-1"
    assert declared_charset("text/html", b'<meta charset="shift_jis">') == "shift_jis"
    assert declared_charset("text/html", b"<p>no charset</p>") == ""


def test_decode_falls_back_when_declared_charset_is_wrong():
    text, used = decode_html("café".encode(), "no-such-charset")
    assert text == "café" and used == "utf-8"
    latin = ("Größe " * 50).encode("latin-1")
    text, used = decode_html(latin, "utf-8")
    assert "Größe" in text and used != "utf-8"


def test_drop_reasons_are_exact():
    config = ReadConfig(max_payload_bytes=100)
    assert decide_response(_raw(), config) is None
    assert decide_response(_raw(fmt="arc"), config).reason == "not_warc"
    assert decide_response(_raw(rec_type="request"), config).reason == "not_response"
    assert decide_response(_raw(status="404"), config).reason == "http_status"
    assert decide_response(_raw(payload=b"x" * 101), config).reason == "payload_too_large"
    assert decide_response(_raw(payload=b"   "), config).reason == "empty_payload"
    assert decide_response(_raw(content_type="image/png", payload=b"\x89PNG...."), config).reason == "not_html"


def test_crawl_id_from_warcinfo_or_path():
    assert crawl_id_of("x.warc.gz", "isPartOf: CC-MAIN-2024-22\r\n") == "CC-MAIN-2024-22"
    assert crawl_id_of("s3://commoncrawl/crawl-data/CC-MAIN-2020-34/segments/x.warc.gz", "") == "CC-MAIN-2020-34"
    assert crawl_id_of("local.warc.gz", "") == ""


def test_read_real_common_crawl_warc(sample_warcs):
    path = next(p for p in sample_warcs if "whirlwind" in p.name)
    p = local_pipeline()
    out = p | beam.Create([str(path)]) | ReadWarc(ReadConfig())
    urls = out[KEPT_TAG] | beam.Map(lambda page: (page.url, page.crawl_id, page.charset))
    assert_that(urls, equal_to([("https://an.wikipedia.org/wiki/Escopete", "CC-MAIN-2024-22", "utf-8")]))
    reasons = out[DROPPED_TAG] | "Reasons" >> beam.Map(lambda d: d.reason)
    assert_that(reasons, equal_to(["not_response", "not_response"]), label="dropped")
    p.run().wait_until_finish()


def test_broken_files_are_counted_not_fatal(broken_warcs, sample_warcs):
    good = next(p for p in sample_warcs if "resiliparse" in p.name)
    p = local_pipeline()
    paths = [str(good)] + [str(v) for v in broken_warcs.values()]
    out = p | beam.Create(paths) | ReadWarc(ReadConfig())
    result = p.run()
    result.wait_until_finish()
    counters = {m.key.metric.name: m.committed for m in
                result.metrics().query(MetricsFilter().with_namespace("syncode.ReadWarc"))["counters"]}
    # the good file's 16 real CC HTML responses, plus the one whole response before the truncation point
    assert counters["kept"] == 17
    assert counters["files"] == 5
    assert counters["dropped_read_error"] == 2  # truncated gzip, garbage bytes (an empty file has no records)
    assert counters["dropped_not_warc"] == 1  # gzip'd HTML that warcio would otherwise parse as ARC
    assert counters["total"] == counters["kept"] + sum(v for k, v in counters.items() if k.startswith("dropped_"))
    del out
