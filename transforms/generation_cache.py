"""The generation cache: completions under OUT/cache/ROLE as JSON lines, keyed by request, role, prompt, model and
sampling.

Workers append what they paid for in new files (Beam FileSystems, so gs:// works on Dataflow); a rerun joins its
requests with the stored entries (CoGroupByKey) and asks the server only for the rest. A key covers everything that
shapes a completion, so changing the prompt version, model or sampling asks again instead of reusing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from ledger.files import file_paths
from ledger.ids import stable_id
from transforms.llm_client import ChatResult, LLMRoleConfig

CACHE_SUFFIX = ".jsonl"


def cache_key(request_id: str, role: str, prompt_tag: str, model: str, config: LLMRoleConfig) -> str:
    """A stable key from (request id, role, prompt version, model, sampling): equal keys mean the same request."""
    parts = [request_id, role, prompt_tag, model, repr(config.temperature), repr(config.top_p),
             str(config.max_tokens), str(config.guided_json)]
    return stable_id(*parts, size=16)


def role_dir(cache_root: str, role: str) -> str:
    return f"{cache_root.rstrip('/')}/{role}"


def cache_files(cache_root: str, role: str) -> list[str]:
    """The cache files a role has so far (none on a first run)."""
    return file_paths(f"{role_dir(cache_root, role)}/*{CACHE_SUFFIX}")


def entry_line(key: str, result: ChatResult) -> str:
    return json.dumps({"key": key, **result._asdict()}, ensure_ascii=False)


def parse_entry(line: str) -> tuple[str, ChatResult] | None:
    """A cache line as (key, result); a damaged line (a worker killed mid-write) is skipped, not fatal."""
    try:
        data = json.loads(line)
        return data["key"], ChatResult(text=data["text"], finish_reason=data["finish_reason"], model=data["model"],
                                       prompt_tokens=int(data["prompt_tokens"]),
                                       completion_tokens=int(data["completion_tokens"]))
    except (ValueError, KeyError, TypeError):
        return None


class CacheWriter:
    """Buffers a worker's new entries and writes them as one new file per flush, never appending to another's."""

    def __init__(self, cache_root: str, role: str, flush_entries: int = 1000):
        self.directory = role_dir(cache_root, role)
        self.flush_entries = flush_entries
        self.lines: list[str] = []

    def add(self, key: str, result: ChatResult) -> None:
        self.lines.append(entry_line(key, result))
        if len(self.lines) >= self.flush_entries:
            self.flush()

    def flush(self) -> None:
        if not self.lines:
            return
        path = f"{self.directory}/part-{uuid.uuid4().hex}{CACHE_SUFFIX}"
        with FileSystems.create(path) as fh:
            fh.write(("\n".join(self.lines) + "\n").encode("utf-8"))
        self.lines = []


def _join(item: tuple[str, dict[str, list]]):
    _key, groups = item
    hits = groups["hit"]
    for request in groups["request"]:
        yield request, (hits[0] if hits else None)


class LookupCache(beam.PTransform):
    """Pairs each request with its cached completion or None; without cache files it adds no shuffle at all."""

    def __init__(self, cache_root: str | None, role: str, key_fn: Callable[[Any], str], label: str | None = None):
        super().__init__(label)
        self.cache_root = cache_root
        self.role = role
        self.key_fn = key_fn

    def expand(self, requests):
        files = cache_files(self.cache_root, self.role) if self.cache_root else []
        if not files:
            return requests | "NoCache" >> beam.Map(lambda r: (r, None))
        key_fn = self.key_fn
        stored = (requests.pipeline | "CacheFiles" >> beam.Create(files)
                  | "ReadCache" >> beam.io.ReadAllFromText()
                  | "ParseCache" >> beam.Map(parse_entry) | "DropDamaged" >> beam.Filter(bool))
        keyed = requests | "KeyRequests" >> beam.Map(lambda r: (key_fn(r), r))
        return ({"request": keyed, "hit": stored} | "JoinCache" >> beam.CoGroupByKey()
                | "PairWithCache" >> beam.FlatMap(_join))
