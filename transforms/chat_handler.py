"""The chat handler every LLM stage runs, as Beam's RunInference runs any ModelHandler: it owns the endpoints, the
in-flight window, retries and failover, the generation cache and dead letters; a stage brings only a PromptSpec.

Each request ends in exactly one place: kept, a counted drop (truncated, empty, or whatever the spec decides) or a
dead letter (still failing after retries and failover), with token counts from `usage`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.utils.windowed_value import WindowedValue

from ledger.drop import Drop
from ledger.records import DeadLetter
from prompts.render import Prompt, Taxonomy, load_prompt, load_taxonomy
from transforms.generation_cache import CacheWriter, LookupCache, cache_key
from transforms.inflight import InFlight, RequestLoop, in_window
from transforms.llm_client import ChatFailure, ChatResult, EndpointPool, LLMRoleConfig, resolve_model
from transforms.stage import Stage, StageDoFn
from transforms.worker_server import with_worker_server

DEAD_LETTER_TAG = "dead_letter"


class Request(NamedTuple):
    """What a stage asks the server for one input: an id for the cache, where it came from, the messages."""

    id: str
    seed_id: str
    url: str
    messages: list[dict[str, str]]


def completion_drop(result: ChatResult) -> Drop | None:
    """A completion we cannot use: cut off by max_tokens, stopped for another reason, or empty."""
    if result.finish_reason == "length":
        return Drop("truncated", f"hit max_tokens after {result.completion_tokens} tokens")
    if result.finish_reason not in ("stop", "eos", ""):
        return Drop("unfinished", f"finish_reason={result.finish_reason}")
    if not result.text.strip():
        return Drop("empty_output")
    return None


class PromptSpec:
    """What one LLM stage says: which role and prompt, the request for an input, and what a reply becomes.

    Pure and picklable: the cache lookup renders requests (for their keys) before the handler's workers start.
    """

    role_name = ""

    def __init__(self, role: LLMRoleConfig):
        self.role = role
        self._prompt: Prompt | None = None
        self._taxonomy: Taxonomy | None = None

    # read on first use in any process (functools.cache), so the cache lookup can render requests too; settable
    @property
    def prompt(self) -> Prompt:
        return self._prompt or self.load_prompt()

    @prompt.setter
    def prompt(self, value: Prompt) -> None:
        self._prompt = value

    @property
    def taxonomy(self) -> Taxonomy:
        return self._taxonomy or self.load_taxonomy()

    @taxonomy.setter
    def taxonomy(self, value: Taxonomy) -> None:
        self._taxonomy = value

    def load_prompt(self) -> Prompt:
        return load_prompt(self.role_name, self.role.prompt_version)

    def load_taxonomy(self) -> Taxonomy:
        return load_taxonomy()

    @property
    def prompt_tag(self) -> str:
        return f"{self.role_name}-{self.role.prompt_version}"

    def request_id(self, item: Any) -> str:
        raise NotImplementedError

    def request(self, item: Any) -> Request:
        raise NotImplementedError

    def response_format(self, item: Any) -> dict[str, Any] | None:
        """The structured output asked for this item (default: the prompt's schema)."""
        return self.prompt.response_format()

    def decide(self, item: Any, result: ChatResult, model: str) -> Any:
        """The kept record for a usable completion, or a Drop."""
        raise NotImplementedError

    def counts(self, kept: Any) -> tuple[str, ...]:
        """Counters a kept record adds to the stage besides `kept` (ties, fallbacks); none by default."""
        return ()


class ChatFn(StageDoFn):
    """One LLM role as a stage: (input, cached completion or None) in; kept, dropped and dead_letter out."""

    outputs = (DEAD_LETTER_TAG,)

    def __init__(self, stage: str, spec: PromptSpec, cache_root: str | None, cache_flush_entries: int = 1000,
                 cache_flush_interval_s: float = 5.0, progress_interval_s: float = 10.0):
        super().__init__(stage, progress_interval_s)
        self.spec = spec
        self.cache_root = cache_root
        self.cache_flush_entries = cache_flush_entries
        self.cache_flush_interval_s = cache_flush_interval_s

    # the spec, seen through the handler (tests and the cache lookup use these)
    @property
    def role(self) -> LLMRoleConfig:
        return self.spec.role

    @property
    def role_name(self) -> str:
        return self.spec.role_name

    @property
    def prompt_tag(self) -> str:
        return self.spec.prompt_tag

    @property
    def prompt(self) -> Prompt:
        return self.spec.prompt

    @prompt.setter
    def prompt(self, value: Prompt) -> None:
        self.spec.prompt = value

    @property
    def taxonomy(self) -> Taxonomy:
        return self.spec.taxonomy

    @taxonomy.setter
    def taxonomy(self, value: Taxonomy) -> None:
        self.spec.taxonomy = value

    def request(self, item: Any) -> Request:
        return self.spec.request(item)

    def request_id(self, item: Any) -> str:
        return self.spec.request_id(item)

    def decide(self, item: Any, result: ChatResult) -> Any:
        return self.spec.decide(item, result, self.model)

    def key(self, item: Any, request: Request | None = None) -> str:
        """The generation-cache key, with a hash of the messages sent; pure, so the cache lookup can join on it
        before this stage's workers start."""
        messages = (request or self.request(item)).messages
        return cache_key(self.request_id(item), self.role_name, self.prompt_tag, self.role.model, self.role,
                         messages, self.spec.response_format(item))

    # the one place where a worker obtains its endpoints and opens its cache
    def setup(self) -> None:
        super().setup()
        self.spec.role = with_worker_server(self.spec.role)  # --serve_model off the launcher: this VM's server
        self.model = resolve_model(self.role)
        self.loop = RequestLoop()
        self.pool = self.loop.run(self._make_pool)
        self.cache = CacheWriter(self.cache_root, self.role_name, self.cache_flush_entries,
                                 self.cache_flush_interval_s) if self.cache_root else None
        self.sent = 0

    async def _make_pool(self) -> EndpointPool:
        return EndpointPool(self.role, self.model)

    def start_bundle(self) -> None:
        self.inflight = InFlight(self.loop, self.role.max_in_flight, self._handle)

    def process(self, element, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
        item, cached = element
        self.counters.seen()
        windowed = WindowedValue(item, timestamp, [window])
        if cached is not None:
            self.counters.count("cache_hits")
            for out in self._outputs(item, cached, fresh=False):
                yield in_window(out, windowed)
            yield from self.inflight.ready()
            return
        request = self.request(item)
        self.sent += 1
        self.counters.count("requests")
        yield from self.inflight.submit((item, request), self._completion(item, request), windowed)

    def _completion(self, item: Any, request: Request):
        """The request as a coroutine that logs its completion to the cache as soon as it arrives (on the loop
        thread), so it is durable within the flush interval whatever the DoFn thread is doing."""
        fmt, start, cache = self.spec.response_format(item), self.sent, self.cache
        key = self.key(item, request)

        async def complete():
            result = await self.pool.complete(request.messages, fmt, start=start)
            if cache is not None and isinstance(result, ChatResult):
                cache.add(key, result)
            return result
        return complete

    def finish_bundle(self):
        yield from self.inflight.drain()
        if self.cache is not None:
            self.cache.flush()
        self.counters.log_progress()

    def teardown(self) -> None:
        loop = getattr(self, "loop", None)
        try:
            if loop is not None:
                try:
                    loop.run(self.pool.close)
                finally:
                    loop.close()
        finally:
            if getattr(self, "cache", None) is not None:
                self.cache.close()

    def _handle(self, context: tuple[Any, Request], result: Any) -> Iterator[Any]:
        """Route one finished request (on the DoFn thread, where metrics and outputs live)."""
        item, request = context
        if isinstance(result, BaseException):
            result = ChatFailure("client_error", f"{type(result).__name__}: {result}"[:1000], 1)
        if isinstance(result, ChatFailure):
            self.counters.dropped("dead_letter_" + result.reason)
            yield pvalue.TaggedOutput(DEAD_LETTER_TAG, DeadLetter(
                stage=self.stage, role=self.role_name, id=request.id, seed_id=request.seed_id, url=request.url,
                cache_key=self.key(item), reason=result.reason, detail=result.detail, attempts=result.attempts))
            return
        yield from self._outputs(item, result, fresh=True)

    def _outputs(self, item: Any, result: ChatResult, fresh: bool) -> Iterator[Any]:
        prefix = "tokens_" if fresh else "cached_tokens_"
        self.counters.count(prefix + "prompt", result.prompt_tokens)
        self.counters.count(prefix + "completion", result.completion_tokens)
        decision = completion_drop(result) or self.decide(item, result)
        if isinstance(decision, Drop):
            request = self.request(item)
            yield self.drop(item, decision, id=request.id, url=request.url)
        else:
            for name in self.spec.counts(decision):
                self.counters.count(name)
            yield self.keep(decision)


class ChatStage(Stage):
    """Look requests up in the cache, then run the handler; returns kept, dropped and dead_letter outputs."""

    def __init__(self, fn: ChatFn, label: str | None = None):
        super().__init__(fn, label)

    def expand(self, items):
        fn = self.dofn
        looked_up = items | "LookupCache" >> LookupCache(fn.cache_root, fn.role_name, fn.key, stage=fn.stage)
        return self.apply_fn(looked_up, label="Generate")
