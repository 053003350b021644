"""The generation cache: completions under OUT/cache/ROLE as JSON lines, keyed by request, role, prompt, model,
sampling and a hash of the exact messages sent.

It is an append-only log made of immutable parts: each worker writes what it was paid for as a new, uniquely named
part file every few seconds (and per bundle), through Beam FileSystems, so gs:// works (no object is ever appended
to) and a killed run loses at most those seconds of completions. A rerun joins its requests with the stored entries
by key (CoGroupByKey, so no worker holds the whole cache) and asks the server only for the rest; a part cut short by
a kill is read up to its last complete line and the damaged line is counted.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

import apache_beam as beam
from apache_beam.coders import BytesCoder
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import TestOptions

from ledger.counters import namespace
from ledger.ids import stable_id
from transforms.llm_client import ChatResult, LLMRoleConfig

CACHE_SUFFIX = ".jsonl"
_LOG = logging.getLogger(__name__)


def request_digest(messages: list[dict[str, str]], response_format: dict[str, Any] | None) -> str:
    """A hash of what the server is sent: the rendered messages (seed text budget, taxonomy, template) and schema."""
    body = json.dumps([messages, response_format], sort_keys=True, ensure_ascii=False)
    return stable_id(body, size=16)


def cache_key(request_id: str, role: str, prompt_tag: str, model: str, config: LLMRoleConfig,
              messages: list[dict[str, str]], response_format: dict[str, Any] | None = None) -> str:
    """A stable key from (request id, role, prompt version, model, sampling, sent messages): equal keys mean the
    same request, so an edited template or seed budget asks again even without a version bump."""
    parts = [request_id, role, prompt_tag, model, repr(config.temperature), repr(config.top_p),
             str(config.max_tokens), str(config.guided_json), request_digest(messages, response_format)]
    return stable_id(*parts, size=16)


def role_dir(cache_root: str, role: str) -> str:
    return f"{cache_root.rstrip('/')}/{role}"


def cache_pattern(cache_root: str, role: str) -> str:
    """The glob of a role's cache parts, matched on the workers at run time."""
    return f"{role_dir(cache_root, role)}/*{CACHE_SUFFIX}"


def has_cache(cache_root: str, role: str) -> bool:
    """Whether a role has any cache part (one match is enough; the parts themselves are listed on the workers)."""
    return any(r.metadata_list for r in FileSystems.match([cache_pattern(cache_root, role)], limits=[1]))


def entry_line(key: str, result: ChatResult) -> str:
    return json.dumps({"key": key, **result._asdict()}, ensure_ascii=False)


def parse_entry(line: str | bytes) -> tuple[str, ChatResult] | None:
    """A cache line as (key, result); a damaged line (a worker killed mid-write, even mid-character) is None."""
    try:
        data = json.loads(line)
        return data["key"], ChatResult(text=data["text"], finish_reason=data["finish_reason"], model=data["model"],
                                       prompt_tokens=int(data["prompt_tokens"]),
                                       completion_tokens=int(data["completion_tokens"]))
    except (ValueError, KeyError, TypeError):  # UnicodeDecodeError is a ValueError
        return None


class CacheWriter:
    """A worker's new entries, written as one new part file per flush: every `interval_s` seconds (from a
    background thread, so the entries do not wait on the DoFn thread), whenever `flush_entries` are waiting, and
    when the DoFn asks. `add` may be called from any thread."""

    def __init__(self, cache_root: str, role: str, flush_entries: int = 1000, interval_s: float = 5.0):
        self.directory = role_dir(cache_root, role)
        self.flush_entries = max(1, flush_entries)
        self.interval_s = interval_s
        self.lines: list[str] = []
        self.parts_written = 0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, key: str, result: ChatResult) -> None:
        line = entry_line(key, result)
        with self._lock:
            self.lines.append(line)
            full = len(self.lines) >= self.flush_entries
            if self._thread is None and self.interval_s > 0:
                self._thread = threading.Thread(target=self._run, name="syncode-cache-flush", daemon=True)
                self._thread.start()
        if full:
            if self._thread is None:
                self.flush()
            else:
                self._wake.set()

    def flush(self) -> None:
        """Write the waiting entries as one new part; on failure they stay waiting and the error is raised."""
        with self._write_lock:  # one write at a time keeps a failed batch in order ahead of newer entries
            with self._lock:
                lines, self.lines = self.lines, []
            if not lines:
                return
            path = f"{self.directory}/part-{uuid.uuid4().hex}{CACHE_SUFFIX}"
            try:
                with FileSystems.create(path) as fh:
                    fh.write(("\n".join(lines) + "\n").encode("utf-8"))
            except BaseException:
                with self._lock:
                    self.lines[:0] = lines
                raise
            self.parts_written += 1

    def close(self) -> None:
        """Stop the background thread and write what is left."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.flush()
            except Exception as exc:  # noqa: BLE001 - kept for the next flush; finish_bundle's flush raises it
                _LOG.warning("generation cache: could not write a part under %s (will retry): %s", self.directory,
                             exc)


class ParseEntries(beam.DoFn):
    """Cache lines to (key, result); a damaged line is skipped and counted as the stage's `cache_damaged_lines`."""

    def __init__(self, stage: str):
        self.stage = stage

    def setup(self) -> None:
        self.damaged = Metrics.counter(namespace(self.stage), "cache_damaged_lines")

    def process(self, line: bytes):
        entry = parse_entry(line)
        if entry is None:
            if line.strip():
                self.damaged.inc()
            return
        yield entry


def _join(item: tuple[str, dict[str, list]]):
    _key, groups = item
    hits = groups["hit"]
    for request in groups["request"]:
        yield request, (hits[0] if hits else None)


class LookupCache(beam.PTransform):
    """Pairs each request with its cached completion or None; without cache parts it adds no shuffle at all.

    Only the glob is in the graph: the parts are listed and read on the workers, and the join by key spreads the
    entries over them.
    """

    def __init__(self, cache_root: str | None, role: str, key_fn: Callable[[Any], str], stage: str = "",
                 label: str | None = None):
        super().__init__(label)
        self.cache_root = cache_root
        self.role = role
        self.key_fn = key_fn
        self.stage = stage or role

    def expand(self, requests):
        # a Dataflow dry run translates offline: it keeps the join (what a resumed run runs) without looking
        dry_run = bool(requests.pipeline.options.view_as(TestOptions).dry_run)
        if not self.cache_root or (not dry_run and not has_cache(self.cache_root, self.role)):
            return requests | "NoCache" >> beam.Map(lambda r: (r, None))
        key_fn = self.key_fn
        stored = (requests.pipeline | "CacheGlob" >> beam.Create([cache_pattern(self.cache_root, self.role)])
                  | "ReadCache" >> beam.io.ReadAllFromText(coder=BytesCoder())
                  | "ParseCache" >> beam.ParDo(ParseEntries(self.stage)))
        keyed = requests | "KeyRequests" >> beam.Map(lambda r: (key_fn(r), r))
        return ({"request": keyed, "hit": stored} | "JoinCache" >> beam.CoGroupByKey()
                | "PairWithCache" >> beam.FlatMap(_join))
