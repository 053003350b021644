"""GenerateQuestions and GenerateResponses: seeds to questions to N responses, over vLLM or any OpenAI server.

Each stage keeps up to K requests in flight per worker (transforms/inflight.py), reuses the generation cache
(transforms/generation_cache.py), and ends every request in exactly one place: kept, a counted drop (truncated,
empty, unparseable...) or a dead letter (still failing after retries and failover), with token counts from `usage`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.utils.windowed_value import WindowedValue

from ledger.drop import Drop
from ledger.ids import stable_id, unit_hash
from ledger.records import DeadLetter, Pair, Question, Seed
from prompts.render import (
    LANGUAGE_NAMES,
    Prompt,
    Taxonomy,
    load_prompt,
    load_taxonomy,
    parse_json_reply,
    schema_problem,
)
from transforms.generation_cache import CacheWriter, LookupCache, cache_key
from transforms.inflight import InFlight, RequestLoop, in_window
from transforms.llm_client import ChatFailure, ChatResult, EndpointPool, LLMRoleConfig, resolve_model
from transforms.stage import Stage, StageDoFn
from transforms.worker_server import with_worker_server

DEAD_LETTER_TAG = "dead_letter"


@dataclass(frozen=True)
class RolesConfig:
    """The four LLM roles, each with its own endpoints, model and sampling."""

    question: LLMRoleConfig = field(default_factory=lambda: LLMRoleConfig(prompt_version="v2", max_tokens=768))
    response: LLMRoleConfig = field(default_factory=lambda: LLMRoleConfig(
        prompt_version="v2", max_tokens=2048, timeout_s=300.0))
    tests: LLMRoleConfig = field(default_factory=lambda: LLMRoleConfig(temperature=0.2, max_tokens=1536,
                                                                       timeout_s=300.0))
    judge: LLMRoleConfig = field(default_factory=lambda: LLMRoleConfig(temperature=0.0, top_p=1.0, max_tokens=512))


@dataclass(frozen=True)
class TierConfig:
    """A generation tier: a share of seeds (by stable hash) answered by other models, written as its own split."""

    name: str = "hq"
    share: float = 0.05
    roles: RolesConfig = field(default_factory=RolesConfig)


@dataclass(frozen=True)
class SynthConfig:
    """What the generation stages read: seed text budget, question languages, N responses, the cache, the roles."""

    max_seed_chars: int = 6000
    languages: tuple[str, ...] = ("en", "zh")  # natural language of each question, chosen per seed by a stable hash
    language_weights: tuple[float, ...] = (0.5, 0.5)
    responses_per_question: int = 1  # N response samples per question
    cache: bool = True  # reuse completions stored under OUT/cache by (id, role, prompt, model, sampling, messages)
    cache_flush_entries: int = 1000  # a worker writes its new cache entries at least this often, and per bundle
    cache_flush_interval_s: float = 5.0  # ... and at least this often: what a killed run can lose at most
    roles: RolesConfig = field(default_factory=RolesConfig)
    tiers: tuple[TierConfig, ...] = ()


class Request(NamedTuple):
    """What a stage asks the server for one input: an id for the cache, where it came from, the messages."""

    id: str
    seed_id: str
    url: str
    messages: list[dict[str, str]]


def pick_language(seed_id: str, languages: tuple[str, ...], weights: tuple[float, ...]) -> str:
    """The natural language of a seed's question: a stable hash of the seed id spread over the configured weights."""
    if not languages:
        return "en"
    weights = weights if len(weights) == len(languages) and sum(weights) > 0 else (1.0,) * len(languages)
    point = unit_hash(seed_id) * sum(weights)
    for language, weight in zip(languages, weights, strict=True):
        point -= weight
        if point < 0:
            return language
    return languages[-1]


def completion_drop(result: ChatResult) -> Drop | None:
    """A completion we cannot use: cut off by max_tokens, stopped for another reason, or empty."""
    if result.finish_reason == "length":
        return Drop("truncated", f"hit max_tokens after {result.completion_tokens} tokens")
    if result.finish_reason not in ("stop", "eos", ""):
        return Drop("unfinished", f"finish_reason={result.finish_reason}")
    if not result.text.strip():
        return Drop("empty_output")
    return None


def question_fields(text: str, prompt: Prompt, taxonomy: Taxonomy) -> dict[str, Any] | Drop:
    """The question and its labels from a JSON reply; a subcategory also fixes a category the model mislabelled."""
    value = parse_json_reply(text)
    if value is None:
        return Drop("unparseable_output", text[:300])
    problem = schema_problem(value, prompt.schema or {})
    if problem:
        return Drop("off_schema", problem)
    question = str(value["question"]).strip()
    if not question:
        return Drop("empty_question")
    value = dict(value, question=question, programming_language=str(value["programming_language"]).strip())
    value["category"] = taxonomy.subcategories.get(value["subcategory"], value["category"])
    return value


def programming_language_hint(seed: Seed) -> str:
    """What to tell the model about the page's language: the detected one when the seed has it."""
    detected = str(seed.programming_language or "").strip()
    return detected if detected else "the programming language the page is about"


class GenerateFn(StageDoFn):
    """One LLM role as a stage: (input, cached completion or None) in; kept, dropped and dead_letter out."""

    role_name = ""
    outputs = (DEAD_LETTER_TAG,)

    def __init__(self, stage: str, role: LLMRoleConfig, synth: SynthConfig, cache_root: str | None,
                 progress_interval_s: float = 10.0):
        super().__init__(stage, progress_interval_s)
        self.role = role
        self.synth = synth
        self.cache_root = cache_root
        self.prompt_tag = f"{self.role_name}-{role.prompt_version}"

    # what a subclass says
    def request(self, item: Any) -> Request:
        raise NotImplementedError

    def decide(self, item: Any, result: ChatResult) -> Any:
        """The kept record for a usable completion, or a Drop."""
        raise NotImplementedError

    def request_id(self, item: Any) -> str:
        raise NotImplementedError

    def key(self, item: Any, request: Request | None = None) -> str:
        """The generation-cache key, with a hash of the messages sent; pure, so the cache lookup can join on it
        before this stage's workers start."""
        messages = (request or self.request(item)).messages
        return cache_key(self.request_id(item), self.role_name, self.prompt_tag, self.role.model, self.role,
                         messages, self.prompt.response_format())

    # read on first use in any process (functools.cache), so the cache lookup can render requests too; settable
    _prompt: Prompt | None = None
    _taxonomy: Taxonomy | None = None

    @property
    def prompt(self) -> Prompt:
        return self._prompt or load_prompt(self.role_name, self.role.prompt_version)

    @prompt.setter
    def prompt(self, value: Prompt) -> None:
        self._prompt = value

    @property
    def taxonomy(self) -> Taxonomy:
        return self._taxonomy or load_taxonomy()

    @taxonomy.setter
    def taxonomy(self, value: Taxonomy) -> None:
        self._taxonomy = value

    # the shared machinery
    def setup(self) -> None:
        super().setup()
        self.role = with_worker_server(self.role)  # --serve_model on a distributed runner: this VM's own server
        self.model = resolve_model(self.role)
        self.loop = RequestLoop()
        self.pool = self.loop.run(self._make_pool)
        self.cache = CacheWriter(self.cache_root, self.role_name, self.synth.cache_flush_entries,
                                 self.synth.cache_flush_interval_s) if self.cache_root else None
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
        yield from self.inflight.submit((item, request), self._completion(request, self.key(item, request)), windowed)

    def _completion(self, request: Request, key: str):
        """The request as a coroutine that logs its completion to the cache as soon as it arrives (on the loop
        thread), so it is durable within the flush interval whatever the DoFn thread is doing."""
        fmt, start, cache = self.prompt.response_format(), self.sent, self.cache

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
            yield self.keep(decision)


class GenerateQuestionsFn(GenerateFn):
    role_name = "question"

    def language(self, seed: Seed) -> str:
        return pick_language(seed.id, self.synth.languages, self.synth.language_weights)

    def request_id(self, seed: Seed) -> str:
        return f"{seed.id}/{self.language(seed)}"

    def request(self, seed: Seed) -> Request:
        language = self.language(seed)
        messages = self.prompt.messages(
            title=seed.title, text=seed.text[: self.synth.max_seed_chars],
            programming_language=programming_language_hint(seed),
            language_name=LANGUAGE_NAMES.get(language, language), taxonomy=self.taxonomy.render())
        return Request(self.request_id(seed), seed.id, seed.url, messages)

    def decide(self, seed: Seed, result: ChatResult) -> Question | Drop:
        fields = question_fields(result.text, self.prompt, self.taxonomy)
        if isinstance(fields, Drop):
            return fields
        return Question(
            id=stable_id(seed.id, self.prompt.tag, self.language(seed)), seed_id=seed.id, url=seed.url,
            domain=seed.domain, warc_file=seed.warc_file, record_id=seed.record_id, warc_date=seed.warc_date,
            crawl_id=seed.crawl_id,
            instruction=fields["question"], language=self.language(seed),
            programming_language=fields["programming_language"], category=fields["category"],
            subcategory=fields["subcategory"], difficulty=fields["difficulty"], algorithmic=fields["algorithmic"],
            testable=fields["testable"], model=self.model, prompt_version=self.prompt.tag,
            taxonomy_version=self.taxonomy.version, temperature=self.role.temperature, top_p=self.role.top_p,
            prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens)


class GenerateResponsesFn(GenerateFn):
    role_name = "response"

    def request_id(self, item: tuple[Question, int]) -> str:
        question, sample = item
        return f"{question.id}/{sample}"

    def request(self, item: tuple[Question, int]) -> Request:
        question, _sample = item
        messages = self.prompt.messages(instruction=question.instruction,
                                        language_name=LANGUAGE_NAMES.get(question.language, question.language))
        return Request(self.request_id(item), question.seed_id, question.url, messages)

    def decide(self, item: tuple[Question, int], result: ChatResult) -> Pair:
        q, sample = item
        return Pair(
            id=stable_id(q.id, self.prompt.tag, str(sample)), seed_id=q.seed_id, question_id=q.id, url=q.url,
            domain=q.domain, warc_file=q.warc_file, record_id=q.record_id, warc_date=q.warc_date, crawl_id=q.crawl_id,
            instruction=q.instruction, response=result.text.strip(), language=q.language,
            programming_language=q.programming_language, category=q.category, subcategory=q.subcategory,
            difficulty=q.difficulty, algorithmic=q.algorithmic, testable=q.testable, sample_index=sample,
            question_model=q.model, response_model=self.model, question_prompt_version=q.prompt_version,
            response_prompt_version=self.prompt.tag, taxonomy_version=q.taxonomy_version,
            question_temperature=q.temperature, question_top_p=q.top_p, response_temperature=self.role.temperature,
            response_top_p=self.role.top_p, question_prompt_tokens=q.prompt_tokens,
            question_completion_tokens=q.completion_tokens, response_prompt_tokens=result.prompt_tokens,
            response_completion_tokens=result.completion_tokens)


class Generate(Stage):
    """Look requests up in the cache, then run the role's stage; returns kept, dropped and dead_letter outputs."""

    def __init__(self, fn: GenerateFn, label: str | None = None):
        super().__init__(fn, label)

    def expand(self, items):
        fn = self.dofn
        looked_up = items | "LookupCache" >> LookupCache(fn.cache_root, fn.role_name, fn.key, stage=fn.stage)
        return self.apply_fn(looked_up, label="Generate")


class GenerateQuestions(Generate):
    """Seeds in; Questions, drops and dead letters out."""

    def __init__(self, synth: SynthConfig, cache_root: str | None = None, progress_interval_s: float = 10.0,
                 stage: str = "GenerateQuestions", label: str | None = None):
        super().__init__(GenerateQuestionsFn(stage, synth.roles.question, synth, cache_root, progress_interval_s),
                         label)


class GenerateResponses(Generate):
    """(Question, sample index) in; Pairs, drops and dead letters out."""

    def __init__(self, synth: SynthConfig, cache_root: str | None = None, progress_interval_s: float = 10.0,
                 stage: str = "GenerateResponses", label: str | None = None):
        super().__init__(GenerateResponsesFn(stage, synth.roles.response, synth, cache_root, progress_interval_s),
                         label)


def expand_samples(question: Question, n: int) -> list[tuple[Question, int]]:
    """The N response requests of one question."""
    return [(question, i) for i in range(max(1, n))]
