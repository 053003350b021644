from __future__ import annotations

import bz2
import functools
import gzip
import http.server
import io
import lzma
import random
import re
import threading
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.util import assert_that, equal_to
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import DATA, REPO, local_pipeline
from transforms.read_warc import (
    RawResponse,
    ReadConfig,
    ReadWarc,
    ReadWarcFileFn,
    crawl_id_of,
    decide_response,
    declared_charset,
    decode_html,
    is_html,
)
from transforms.stage import DROPPED_TAG, KEPT_TAG
from transforms.warc_stream import find_next_record

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
    assert decide_response(_raw(rec_type="revisit"), config).reason == "revisit"
    assert decide_response(_raw(clipped=True), config).reason == "clipped_record"
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
    out = p | beam.Create([str(path)]) | ReadWarc(ReadConfig(audit_non_responses=True))
    urls = out[KEPT_TAG] | beam.Map(lambda page: (page.url, page.crawl_id, page.charset))
    assert_that(urls, equal_to([("https://an.wikipedia.org/wiki/Escopete", "CC-MAIN-2024-22", "utf-8")]))
    reasons = out[DROPPED_TAG] | "Reasons" >> beam.Map(lambda d: d.reason)
    assert_that(reasons, equal_to(["not_response", "not_response"]), label="dropped")
    p.run().wait_until_finish()


def test_request_and_metadata_records_are_counted_without_audit_rows_unless_asked(sample_warcs):
    path = next(p for p in sample_warcs if "whirlwind" in p.name)
    p = local_pipeline()
    out = p | beam.Create([str(path)]) | ReadWarc(ReadConfig())
    assert_that(out[DROPPED_TAG], equal_to([]), label="no audit rows")
    result = p.run()
    result.wait_until_finish()
    counters = {m.key.metric.name: m.committed for m in
                result.metrics().query(MetricsFilter().with_namespace("syncode.ReadWarc"))["counters"]}
    assert counters["dropped_not_response"] == 2 and counters["kept"] == 1
    assert counters["total"] == counters["kept"] + counters["dropped_not_response"]


def test_broken_files_are_counted_not_fatal(broken_warcs, sample_warcs):
    good = next(p for p in sample_warcs if "resiliparse" in p.name)
    p = local_pipeline()
    paths = [str(good)] + [str(v) for v in broken_warcs.values()]
    out = p | beam.Create(paths) | ReadWarc(ReadConfig())
    result = p.run()
    result.wait_until_finish()
    counters = {m.key.metric.name: m.committed for m in
                result.metrics().query(MetricsFilter().with_namespace("syncode.ReadWarc"))["counters"]}
    # the good file's 16 real CC HTML responses; the truncated file is cut inside its one response
    assert counters["kept"] == 16
    assert counters["files"] == 5
    assert counters["dropped_clipped_record"] == 1
    assert counters["dropped_read_error"] == 1  # garbage bytes (an empty file has no records)
    assert counters["dropped_not_warc"] == 1  # gzip'd HTML that warcio would otherwise parse as ARC
    assert counters["total"] == counters["kept"] + sum(v for k, v in counters.items() if k.startswith("dropped_"))
    del out


def _read(path: str, config: ReadConfig | None = None) -> tuple[list, list]:
    """Run the reader's DoFn on one file outside a pipeline: (pages, dropped rows)."""
    fn = ReadWarcFileFn(config or ReadConfig(audit_non_responses=True))
    fn.setup()
    pages, dropped = [], []
    for out in fn.process(path):
        (dropped.append(out.value) if hasattr(out, "tag") else pages.append(out))
    return pages, dropped


def test_clipped_record_is_dropped_with_its_reason():
    pages, dropped = _read(str(DATA / "warc" / "resiliparse__clipped.warc.gz"))
    assert pages == []
    assert [(d.reason, d.url) for d in dropped] == [("clipped_record", "http://www.houstonpress.com/music/"
                                                     "a-humble-chance-the-rapper-leads-a-spiritual-awakening"
                                                     "-at-revention-8866723")]


def test_clueweb_header_quirks_are_read_and_decoded():
    pages, dropped = _read(str(DATA / "warc" / "resiliparse__clueweb-quirk-head.warc.gz"))
    assert dropped == [] and len(pages) == 3
    assert {p.charset for p in pages} == {"euc-jp"}
    assert all("<html" in p.html.lower() and "\ufffd" not in p.html for p in pages)
    assert pages[0].warc_date == "2008-10-294T05:21:46-0700"  # kept as written, not guessed
    assert pages[0].url == "http://www.uraharajuku.st/shopdetail/001005000005/019/000/order/"
    assert [p.offset for p in pages] == [317, 9348, 18394]


def test_wet_file_has_no_html_responses():
    pages, dropped = _read(str(DATA / "warc" / "whirlwind__whirlwind.warc.wet.gz"))
    assert pages == [] and [(d.reason, d.detail) for d in dropped] == [("not_response", "conversion")]


def test_revisit_record_is_dropped_as_revisit(tmp_path):
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    path = tmp_path / "revisit.warc.gz"
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        http_headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        writer.write_record(writer.create_revisit_record("https://example.org/", "sha1:AAAA", "https://example.org/",
                                                         "2024-05-01T00:00:00Z", http_headers=http_headers))
    pages, dropped = _read(str(path))
    assert pages == [] and [d.reason for d in dropped] == ["revisit"]


def test_garbage_between_records_is_skipped_and_reading_resumes(tmp_path):
    good = (REPO / "sample" / "warc" / "cc-resiliparse__warcfile.warc.gz").read_bytes()
    cut = 12265  # the start of the 5th gzip member (a request record)
    path = tmp_path / "spliced.warc.gz"
    path.write_bytes(good[:cut] + bytes(range(256)) * 8 + good[cut:])
    pages, dropped = _read(str(path))
    assert len(pages) == 16  # every real page, the ones after the garbage too
    assert [d.reason for d in dropped].count("corrupt_region") == 1
    assert f"@{cut}-{cut + 256 * 8}:" in next(d.detail for d in dropped if d.reason == "corrupt_region")
    with path.open("rb") as fh:
        assert find_next_record(fh, cut) == cut + 256 * 8
    assert _urls_at_offsets(path, pages) == [p.url for p in pages]  # offsets after the resume point at the record


def _urls_at_offsets(path: Path, pages: list, arc: bool = False) -> list[str]:
    """The URL of the record that starts at each page's offset, read back with plain warcio."""
    urls = []
    with path.open("rb") as fh:
        for page in pages:
            fh.seek(page.offset)
            record = next(iter(ArchiveIterator(fh, arc2warc=arc)))
            urls.append(record.rec_headers.get_header("WARC-Target-URI"))
    return urls


def test_truncated_gzip_keeps_what_precedes_the_cut(tmp_path, broken_warcs):
    real = (REPO / "sample" / "warc" / "cc-whirlwind__whirlwind.warc.gz").read_bytes()
    path = tmp_path / "cut-in-metadata.warc.gz"
    path.write_bytes(real[:-60])  # inside the last gzip member, the metadata record
    pages, dropped = _read(str(path))
    assert [p.url for p in pages] == ["https://an.wikipedia.org/wiki/Escopete"]
    assert [d.reason for d in dropped] == ["not_response", "not_response"]  # request, then the cut metadata
    pages, dropped = _read(str(broken_warcs["truncated"]))  # cut inside the response itself
    assert pages == [] and [d.reason for d in dropped] == ["not_response", "clipped_record"]


@pytest.mark.parametrize("name, reasons", [("garbage", ["read_error"]), ("empty", []), ("not_warc", ["not_warc"])])
def test_files_that_are_not_warcs(broken_warcs, name, reasons):
    pages, dropped = _read(str(broken_warcs[name]))
    assert pages == [] and [d.reason for d in dropped] == reasons


def test_plain_text_file_is_one_not_warc_drop(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("This is a README, not a WARC.\nIt has lines.\n" * 30)
    pages, dropped = _read(str(path))
    assert pages == [] and [d.reason for d in dropped] == ["not_warc"]


def test_missing_file_is_a_read_error(tmp_path):
    pages, dropped = _read(str(tmp_path / "gone.warc.gz"))
    assert pages == [] and [d.reason for d in dropped] == ["read_error"]


@pytest.fixture
def http_root(sample_warcs):
    handler = functools.partial(_QuietHandler, directory=str(Path(sample_warcs[0]).parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_http_input_is_streamed(http_root):
    pages, dropped = _read(f"{http_root}/cc-whirlwind__whirlwind.warc.gz")
    assert [p.url for p in pages] == ["https://an.wikipedia.org/wiki/Escopete"]
    assert pages[0].crawl_id == "CC-MAIN-2024-22" and pages[0].warc_file.startswith("http://127.0.0.1")
    assert [d.reason for d in dropped] == ["not_response", "not_response"]
    _, missing = _read(f"{http_root}/nope.warc.gz")
    assert [d.reason for d in missing] == ["read_error"] and "404" in missing[0].detail


def test_payload_cap_drops_large_pages():
    pages, dropped = _read(str(REPO / "sample" / "warc" / "cc-whirlwind__whirlwind.warc.gz"),
                           ReadConfig(max_payload_bytes=10_000))
    assert pages == [] and "payload_too_large" in [d.reason for d in dropped]


def test_a_corrupt_member_inside_a_record_is_skipped_and_reading_goes_on(tmp_path):
    good = bytearray((REPO / "sample" / "warc" / "cc-resiliparse__warcfile.warc.gz").read_bytes())
    start = 12685  # the second response record: zero 60 bytes of its deflate stream
    good[start + 200:start + 260] = bytes(60)
    path = tmp_path / "corrupt-member.warc.gz"
    path.write_bytes(bytes(good))
    pages, dropped = _read(str(path))
    assert len(pages) == 15  # every page but the broken one
    # one gap, one drop: the retry at the broken record's own start widens the gap instead of counting it again
    assert [d.reason for d in dropped].count("corrupt_region") == 1


RESILIPARSE = REPO / "sample" / "warc" / "cc-resiliparse__warcfile.warc.gz"  # 50 real CC records, one gzip each
JUNK_AT = 115181  # inside the gzip member of the response record at 110823, 4358 bytes in


def _junk_inside_a_member(tmp_path: Path) -> Path:
    """The real multi-member WARC with 2,000 random bytes spliced into the middle of one member."""
    good = RESILIPARSE.read_bytes()
    junk = random.Random(12).randbytes(2000)
    path = tmp_path / "junk-inside-member.warc.gz"
    path.write_bytes(good[:JUNK_AT] + junk + good[JUNK_AT:])
    return path


def _records(path: Path, **kw) -> list[tuple[int, str, str]]:
    """(offset, type, URL) of every record, read with plain warcio."""
    with path.open("rb") as fh:
        it = ArchiveIterator(fh, **kw)
        return [(it.get_record_offset(), r.rec_type, r.rec_headers.get_header("WARC-Target-URI") or "") for r in it]


def test_junk_inside_a_gzip_member_skips_only_that_record(tmp_path):
    path = _junk_inside_a_member(tmp_path)
    good_pages, _ = _read(str(RESILIPARSE))
    pages, dropped = _read(str(path))
    records = _records(RESILIPARSE)
    broken = max(r[0] for r in records if r[0] < JUNK_AT)  # the record whose member holds the junk
    assert broken == 110823 and broken in [p.offset for p in good_pages]
    assert [p.url for p in pages] == [p.url for p in good_pages if p.offset != broken]  # the 4 pages after it too
    assert [p.offset for p in pages if p.offset > JUNK_AT] == [p.offset + 2000 for p in good_pages
                                                                if p.offset > JUNK_AT]
    reasons = [d.reason for d in dropped]
    assert reasons.count("corrupt_region") == 1 and "clipped_record" not in reasons
    gap = next(d.detail for d in dropped if d.reason == "corrupt_region")
    assert "@110823-" in gap and "Error -3 while decompressing" in gap
    after = [r for r in records if r[0] > JUNK_AT]
    assert len(after) == 11  # the intact members after the junk: every one is read and counted
    assert len(pages) + len(dropped) == 49 - 1 + 1  # 49 records (not the warcinfo) less the broken one, plus the gap


def _arc_bytes(warc: Path, gz: bool) -> bytes:
    """An ARC v1 file of the real HTTP responses of a WARC (the ARC format carries only responses)."""
    def member(data: bytes) -> bytes:
        return gzip.compress(data, mtime=0) if gz else data

    body = b"1 0 syncode-test\nURL IP-address Archive-date Content-type Archive-length\n"
    out = [member(b"filedesc://%s 0.0.0.0 20200810000000 text/plain %d\n%s\n"
                  % (warc.name.encode(), len(body), body))]
    with warc.open("rb") as fh:
        for record in ArchiveIterator(fh, no_record_parse=True):
            if record.rec_type != "response":
                continue
            headers = record.rec_headers
            date = re.sub(r"\D", "", headers.get_header("WARC-Date"))[:14]
            block = record.raw_stream.read()
            line = " ".join([headers.get_header("WARC-Target-URI"), headers.get_header("WARC-IP-Address") or "0.0.0.0",
                             date, "text/html", str(len(block))])
            out.append(member(line.encode() + b"\n" + block + b"\n"))
    return b"".join(out)


@pytest.mark.parametrize("gz", [True, False], ids=["arc.gz", "arc"])
def test_arc_files_are_read(tmp_path, gz):
    path = tmp_path / ("crawl.arc.gz" if gz else "crawl.arc")
    path.write_bytes(_arc_bytes(RESILIPARSE, gz))
    good_pages, _ = _read(str(RESILIPARSE))
    pages, dropped = _read(str(path))
    assert [(p.url, p.html) for p in pages] == [(p.url, p.html) for p in good_pages]
    assert "not_warc" not in [d.reason for d in dropped]
    assert pages[0].warc_date == good_pages[0].warc_date[:19] + "Z"  # the ARC date has whole seconds
    assert _urls_at_offsets(path, pages, arc=True) == [p.url for p in pages]
    again, _ = _read(str(path))
    assert [p.id for p in again] == [p.id for p in pages]  # warcio makes up random ids for ARC: ours are stable
    assert len({p.id for p in pages}) == len(pages)


def test_a_whole_file_gzip_warc_is_read(tmp_path):
    plain = gzip.decompress(RESILIPARSE.read_bytes())
    path = tmp_path / "one-gzip-stream.warc.gz"
    path.write_bytes(gzip.compress(plain, mtime=0))  # what warcio's example-bad-non-chunked.warc.gz is
    good_pages, good_dropped = _read(str(RESILIPARSE))
    pages, dropped = _read(str(path))
    assert [(p.url, p.html) for p in pages] == [(p.url, p.html) for p in good_pages]
    assert [d.reason for d in dropped] == [d.reason for d in good_dropped]
    # no record of one gzip stream can be sought: the offset counts uncompressed bytes instead
    for page in pages:
        record = next(iter(ArchiveIterator(io.BytesIO(plain[page.offset:]))))
        assert record.rec_headers.get_header("WARC-Target-URI") == page.url


LZ4_WARC = DATA / "warc" / "whirlwind__whirlwind.warc.lz4"  # the real CC record, one LZ4 frame per record


@pytest.mark.parametrize("name, pack", [("bzip2", bz2.compress), ("xz", lzma.compress)])
def test_compressions_warcio_cannot_read_are_named(tmp_path, name, pack):
    path = tmp_path / f"crawl.warc.{name}"
    path.write_bytes(pack(gzip.decompress(RESILIPARSE.read_bytes())))
    pages, dropped = _read(str(path))
    assert pages == [] and [d.reason for d in dropped] == ["unsupported_compression"]
    assert name in dropped[0].detail and "recompress it with gzip" in dropped[0].detail


def test_an_lz4_warc_is_one_clear_drop_not_an_internal_error():
    pages, dropped = _read(str(LZ4_WARC))
    assert pages == [] and [d.reason for d in dropped] == ["unsupported_compression"]
    assert "lz4" in dropped[0].detail and "TypeError" not in dropped[0].detail


def test_every_input_kind_balances_the_funnel(tmp_path):
    paths = [_junk_inside_a_member(tmp_path), tmp_path / "a.arc.gz", tmp_path / "whole.warc.gz", LZ4_WARC]
    paths[1].write_bytes(_arc_bytes(RESILIPARSE, gz=True))
    paths[2].write_bytes(gzip.compress(gzip.decompress(RESILIPARSE.read_bytes()), mtime=0))
    p = local_pipeline()
    out = p | beam.Create([str(x) for x in paths]) | ReadWarc(ReadConfig())
    result = p.run()
    result.wait_until_finish()
    counters = {m.key.metric.name: m.committed for m in
                result.metrics().query(MetricsFilter().with_namespace("syncode.ReadWarc"))["counters"]}
    assert counters["kept"] == 15 + 16 + 16
    assert counters["dropped_corrupt_region"] == 1 and counters["dropped_unsupported_compression"] == 1
    assert "dropped_read_error" not in counters and "dropped_not_warc" not in counters
    assert counters["total"] == counters["kept"] + sum(v for k, v in counters.items() if k.startswith("dropped_"))
    del out
