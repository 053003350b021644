"""ReadWarc: stream HTML responses out of WARC (and ARC) files, counting every record not kept and why."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import apache_beam as beam
from apache_beam import pvalue

from ledger.drop import Drop
from ledger.ids import stable_id
from ledger.records import Page
from transforms.stage import DROPPED_TAG, KEPT_TAG, Stage, StageDoFn
from transforms.warc_inputs import open_input
from transforms.warc_stream import CorruptMember, RecordIterator, find_next_record, open_sniffed, sniff

STAGE = "ReadWarc"
_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_CRAWL_RE = re.compile(r"CC-MAIN-\d{4}-\d{2}")
_HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class ReadConfig:
    """What ReadWarc keeps: payloads up to a size, HTML sniffed from the first bytes."""

    max_payload_bytes: int = 5_000_000
    html_sniff_bytes: int = 1024
    # request and metadata records (two of every three in a Common Crawl WARC) are always counted as not_response;
    # their audit rows go to OUT/dropped only when asked (--audit_non_responses): billions of rows otherwise
    audit_non_responses: bool = False
    read_retries: int = 5  # a remote read that fails is retried this many times in a row, resuming at its byte
    retry_backoff_s: float = 1.0  # the first wait; it doubles per retry up to 30 s


@dataclass(frozen=True)
class RawResponse:
    """The parts of a WARC response record the decisions need, free of warcio objects."""

    rec_type: str
    status: str
    fmt: str
    content_type: str
    identified_type: str
    payload: bytes
    clipped: bool = False


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
    if raw.rec_type == "revisit":
        return Drop("revisit")  # a dedup pointer to an earlier capture: no payload of its own
    if raw.rec_type != "response":
        return Drop("not_response", raw.rec_type)
    if raw.clipped:
        return Drop("clipped_record", "the file ends before the record's Content-Length")
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


class ReadWarcFileFn(StageDoFn):
    """Reads one WARC or ARC file; a corrupt region is one counted drop, and reading resumes at the next record."""

    def __init__(self, config: ReadConfig, progress_interval_s: float = 10.0):
        super().__init__(STAGE, progress_interval_s)
        self.config = config

    def process(self, path: str) -> Iterator:
        self.counters.count("files")
        try:
            fh = open_input(path, self.config.read_retries, self.config.retry_backoff_s)
        except Exception as exc:  # missing file, HTTP error, permission: the file is skipped, the job goes on
            yield self._file_drop(path, Drop("read_error", f"{path}: cannot open: {type(exc).__name__}: {exc}"))
            return
        with fh:
            seekable = _seekable(fh)
            try:
                stream, head = open_sniffed(fh, seekable)
            except Exception as exc:  # the first read fails: an HTTP stream cut, a permission error
                yield self._file_drop(path, Drop("read_error", f"{path}: {type(exc).__name__}: {exc}"[:500]))
                return
            archive, compression = sniff(head)
            if compression:
                yield self._file_drop(path, Drop("unsupported_compression", f"{path}: {compression}; warcio reads "
                                                 "gzip and uncompressed WARC/ARC files: recompress it with gzip"))
                return
            yield from self._read_file(path, stream, seekable, arc=archive == "arc")
            resumes = getattr(fh, "resumes", 0)
            if resumes:
                self.counters.count("read_resumes", resumes)  # reads cut by the network and resumed where they were

    def _read_file(self, path: str, fh: BinaryIO, seekable: bool, arc: bool) -> Iterator:
        """Read stretch after stretch: each corrupt gap is one drop, counted once reading gets past it."""
        start, warcinfo, gap = 0, "", None
        while True:
            state = _FileState(start, warcinfo, last_offset=start, arc=arc)
            yield from self._read_from(path, fh, state)
            warcinfo = state.warcinfo
            if gap is not None and (state.records or state.error is None):
                yield self._file_drop(path, Drop("corrupt_region", f"{path} @{gap[0]}-{start}: {gap[1]}"))
                gap = None
            if state.error is None:
                return
            gap = gap or (state.last_offset, state.error)  # a resumed stretch that fails at once widens the gap
            one_stream = state.iterator is not None and state.iterator.one_gzip_stream  # no member to resume at
            start = find_next_record(fh, state.last_offset + 1, arc) if seekable and not one_stream else None
            if start is None:
                yield self._file_drop(path, Drop("read_error", f"{path} @{gap[0]}: {gap[1]}"))
                return

    def _read_from(self, path: str, fh: BinaryIO, state: _FileState) -> Iterator:
        if state.start:
            fh.seek(state.start)
        try:
            iterator = state.iterator = RecordIterator(fh, arc=state.arc)
            for record in iterator:
                state.last_offset = iterator.start_offset()  # the file's offset: the iterator began at fh.tell()
                if record.format != "warc":  # warcio parses arbitrary text as ARC: the file is not a WARC
                    yield self._file_drop(path, Drop("not_warc", f"{path}: not a WARC or ARC file"))
                    return
                if record.rec_type == "warcinfo":
                    state.warcinfo = record.content_stream().read(65536).decode("utf-8", errors="replace")
                else:
                    yield from self._record(path, state, record)
                state.records += 1
        except Exception as exc:  # warcio, zlib and I/O errors: this stretch of the file cannot be read further
            state.error = f"{type(exc).__name__}: {exc}"[:500]
            if state.iterator is not None and not state.iterator.one_gzip_stream:
                state.last_offset = max(state.last_offset, state.iterator.offset)  # past the last whole record

    def _file_drop(self, path: str, drop: Drop) -> pvalue.TaggedOutput:
        self.counters.seen()
        return self.drop(None, drop, url=path)

    def _record(self, path: str, state: _FileState, record) -> Iterator:
        headers = record.rec_headers
        http = record.http_headers
        payload = record.content_stream().read(self.config.max_payload_bytes + 1)
        clipped = len(payload) <= self.config.max_payload_bytes and _clipped(record)
        raw = RawResponse(
            rec_type=record.rec_type,
            fmt=record.format,
            status=http.get_statuscode() if http else "",
            content_type=(http.get_header("Content-Type") if http else "") or "",
            identified_type=headers.get_header("WARC-Identified-Payload-Type") or "",
            payload=payload,
            clipped=clipped,
        )
        url = headers.get_header("WARC-Target-URI") or ""
        # an ARC record has no id of its own (warcio makes up a random one): name it by file and offset
        record_id = (f"<urn:arc:{path.rsplit('/', 1)[-1]}:{state.last_offset}>" if state.arc
                     else headers.get_header("WARC-Record-ID") or "")
        self.counters.seen()
        drop = decide_response(raw, self.config)
        if drop is not None and drop.reason == "not_response" and not self.config.audit_non_responses:
            self.counters.dropped(drop.reason)  # counted in the funnel, no audit row
            return
        if drop is not None:
            yield self.drop(None, drop, id=stable_id(record_id, url), url=url)
            return
        if headers.get_header("WARC-Truncated"):
            self.counters.count("truncated_kept")  # Common Crawl cuts payloads at 1 MiB and says so: still a page
        charset = declared_charset(raw.content_type, payload[:4096])
        html, charset = decode_html(payload, charset)
        yield self.keep(Page(id=stable_id(record_id, url), url=url, record_id=record_id,
                             warc_date=headers.get_header("WARC-Date") or "",
                             crawl_id=crawl_id_of(path, state.warcinfo), warc_file=path, offset=state.last_offset,
                             content_type=raw.content_type, charset=charset, html=html))


@dataclass
class _FileState:
    """Where reading one stretch of a file stands: its start, the current record's offset, the warcinfo, the error."""

    start: int
    warcinfo: str = ""
    last_offset: int = 0
    error: str | None = None
    arc: bool = False
    records: int = 0
    iterator: RecordIterator | None = None


def _seekable(fh) -> bool:
    try:
        return bool(fh.seekable())
    except Exception:  # some Beam and urllib streams raise instead of answering
        return False


def _clipped(record) -> bool:
    """The file ended before the record's Content-Length did: a clipped record, whatever was read of it."""
    raw = record.raw_stream
    try:
        while raw.read(1 << 16):
            pass
    except CorruptMember:
        raise  # not a short file but a broken member: the reader skips to the next whole record
    except Exception:  # a gzip member that ends early raises here: that is clipping too
        return True
    return getattr(raw, "limit", 0) > 0


class ReadWarc(Stage):
    """WARC file paths in, Pages out (plus a `dropped` output); files are spread over the workers and read there.

    Pages are not reshuffled here: the cheap screens run where the file is read, and the job reshuffles what they
    keep (after CodeClassifier), so the ~95% they drop never crosses the network."""

    def __init__(self, config: ReadConfig, progress_interval_s: float = 10.0, label: str | None = None):
        super().__init__(ReadWarcFileFn(config, progress_interval_s), label)

    def expand(self, paths):
        results = self.apply_fn(paths | "SpreadFiles" >> beam.Reshuffle(), label="ReadRecords")
        return {KEPT_TAG: results[KEPT_TAG], DROPPED_TAG: results[DROPPED_TAG]}
