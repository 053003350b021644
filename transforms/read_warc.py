"""ReadWarc: stream HTML responses out of WARC files, counting every record that is not kept and why."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from warcio.archiveiterator import ArchiveIterator

from pipeline.config import ReadConfig
from pipeline.records import Page, stable_id
from transforms.stage import DROPPED_TAG, KEPT_TAG, Drop, StageCounters, dropped_record

STAGE = "ReadWarc"
_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_CRAWL_RE = re.compile(r"CC-MAIN-\d{4}-\d{2}")
_HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class RawResponse:
    """The parts of a WARC response record the decisions need, free of warcio objects."""

    rec_type: str
    status: str
    fmt: str
    content_type: str
    identified_type: str
    payload: bytes


def is_html(content_type: str, identified_type: str, head: bytes) -> bool:
    """HTML by the HTTP header, then Common Crawl's identified type, then a sniff of the first bytes."""
    for declared in (content_type, identified_type):
        mime = declared.split(";", 1)[0].strip().lower()
        if mime in _HTML_TYPES:
            return True
    sniff = head.lstrip()[:512].lower()
    return sniff.startswith((b"<!doctype html", b"<html")) or b"<html" in sniff


def declared_charset(content_type: str, head: bytes) -> str:
    """The charset named by the Content-Type header or a <meta> tag, or '' when none is named."""
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'").lower()
    match = _CHARSET_RE.search(head)
    return match.group(1).decode("ascii", errors="ignore").lower() if match else ""


def decode_html(payload: bytes, charset: str) -> tuple[str, str]:
    """Decode with the declared charset, then UTF-8, then detection; returns (text, charset used)."""
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            return payload.decode(candidate), candidate
        except (LookupError, UnicodeDecodeError):
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(payload[:200_000]).best()
    if best is not None:
        return payload.decode(best.encoding, errors="replace"), best.encoding
    return payload.decode("utf-8", errors="replace"), "utf-8-replace"


def decide_response(raw: RawResponse, config: ReadConfig) -> Drop | None:
    """Why a WARC record is not an HTML page we keep, or None when it is."""
    if raw.fmt != "warc":
        return Drop("not_warc", raw.fmt)  # warcio falls back to ARC parsing on arbitrary gzip text
    if raw.rec_type != "response":
        return Drop("not_response", raw.rec_type)
    if raw.status != "200":
        return Drop("http_status", raw.status or "missing")
    if len(raw.payload) > config.max_payload_bytes:
        return Drop("payload_too_large", str(len(raw.payload)))
    if not raw.payload.strip():
        return Drop("empty_payload")
    if not is_html(raw.content_type, raw.identified_type, raw.payload[: config.html_sniff_bytes]):
        return Drop("not_html", raw.content_type or raw.identified_type)
    return None


def crawl_id_of(path: str, warcinfo: str) -> str:
    """The Common Crawl crawl id (CC-MAIN-YYYY-WW) from the warcinfo record or the file path."""
    for text in (warcinfo, path):
        match = _CRAWL_RE.search(text or "")
        if match:
            return match.group(0)
    return ""


class ReadWarcFileFn(beam.DoFn):
    """Reads one WARC file; a corrupt or non-WARC file is a counted drop and the job carries on."""

    def __init__(self, config: ReadConfig, progress_interval_s: float = 10.0):
        self.config = config
        self.progress_interval_s = progress_interval_s

    def setup(self) -> None:
        self.counters = StageCounters(STAGE, self.progress_interval_s)

    def process(self, path: str) -> Iterator:
        self.counters.count("files")
        warcinfo = ""
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
                iterator = ArchiveIterator(fh)
                for record in iterator:
                    if record.rec_type == "warcinfo":
                        warcinfo = record.content_stream().read(65536).decode("utf-8", errors="replace")
                        continue
                    yield from self._record(path, iterator, record, warcinfo)
        except Exception as exc:  # warcio, zlib and I/O errors all mean: this file cannot be read further
            self.counters.seen()
            drop = Drop("read_error", f"{path}: {type(exc).__name__}: {exc}")
            self.counters.dropped(drop.reason)
            yield pvalue.TaggedOutput(DROPPED_TAG, dropped_record(STAGE, None, drop)._replace(url=path))

    def _record(self, path: str, iterator: ArchiveIterator, record, warcinfo: str) -> Iterator:
        self.counters.seen()
        headers = record.rec_headers
        http = record.http_headers
        payload = record.content_stream().read(self.config.max_payload_bytes + 1)
        raw = RawResponse(
            rec_type=record.rec_type,
            fmt=record.format,
            status=http.get_statuscode() if http else "",
            content_type=(http.get_header("Content-Type") if http else "") or "",
            identified_type=headers.get_header("WARC-Identified-Payload-Type") or "",
            payload=payload,
        )
        url = headers.get_header("WARC-Target-URI") or ""
        record_id = headers.get_header("WARC-Record-ID") or ""
        drop = decide_response(raw, self.config)
        if drop is None:
            charset = declared_charset(raw.content_type, payload[:4096])
            html, charset = decode_html(payload, charset)
            page = Page(id=stable_id(record_id, url), url=url, record_id=record_id,
                        warc_date=headers.get_header("WARC-Date") or "", crawl_id=crawl_id_of(path, warcinfo),
                        warc_file=path, offset=int(iterator.get_record_offset() or 0),
                        content_type=raw.content_type, charset=charset, html=html)
            self.counters.kept()
            yield page
        else:
            self.counters.dropped(drop.reason)
            row = dropped_record(STAGE, None, drop)._replace(id=stable_id(record_id, url), url=url)
            yield pvalue.TaggedOutput(DROPPED_TAG, row)


class ReadWarc(beam.PTransform):
    """WARC file paths in, Pages out (plus a `dropped` output); files are read in parallel and rebalanced."""

    def __init__(self, config: ReadConfig, progress_interval_s: float = 10.0, label: str | None = None):
        super().__init__(label)
        self.config = config
        self.progress_interval_s = progress_interval_s

    def expand(self, paths):
        results = (
            paths
            | "SpreadFiles" >> beam.Reshuffle()
            | "ReadRecords" >> beam.ParDo(ReadWarcFileFn(self.config, self.progress_interval_s)).with_outputs(
                DROPPED_TAG, main=KEPT_TAG)
        )
        pages = results[KEPT_TAG] | "SpreadPages" >> beam.Reshuffle()
        return {KEPT_TAG: pages, DROPPED_TAG: results[DROPPED_TAG]}
