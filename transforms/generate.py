"""GenerateQuestions and GenerateResponses: seeds to questions to N responses, over vLLM or any OpenAI server.

Each stage keeps up to K requests in flight per worker (transforms/inflight.py), reuses the generation cache
(transforms/generation_cache.py), and ends every request in exactly one place: kept, a counted drop (truncated,
empty, unparseable...) or a dead letter (still failing after retries and failover), with token counts from `usage`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.utils.windowed_value import WindowedValue

from pipeline.config import LLMRoleConfig, SynthConfig
from pipeline.records import DeadLetter, Dropped, Pair, Question, Seed, stable_id
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
from transforms.llm_client import ChatFailure, ChatResult, EndpointPool, resolve_model
from transforms.stage import DROPPED_TAG, KEPT_TAG, Drop, StageCounters

DEAD_LETTER_TAG = "dead_letter"


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
    point = int(hashlib.blake2b(seed_id.encode(), digest_size=8).hexdigest(), 16) / 2**64 * sum(weights)
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


def programming_language_hint(seed: Any) -> str:
    """What to tell the model about the page's language: the detected one when the seed has it."""
    detected = str(getattr(seed, "code_language", "") or "").strip()
    return detected if detected else "the programming language the page is about"


class GenerateFn(beam.DoFn):
    """One LLM role as a stage: (input, cached completion or None) in; kept, dropped and dead_letter out."""

    role_name = ""

    def __init__(self, stage: str, role: LLMRoleConfig, synth: SynthConfig, cache_root: str | None,
                 progress_interval_s: float = 10.0):
        self.stage = stage
        self.role = role
        self.synth = synth
        self.cache_root = cache_root
        self.progress_interval_s = progress_interval_s
        self.prompt_tag = f"{self.role_name}-{role.prompt_version}"

    # what a subclass says
    def request(self, item: Any) -> Request:
        raise NotImplementedError

    def decide(self, item: Any, result: ChatResult) -> Any:
        """The kept record for a usable completion, or a Drop."""
        raise NotImplementedError

    def request_id(self, item: Any) -> str:
        raise NotImplementedError

    def key(self, item: Any) -> str:
        """The generation-cache key; pure, so the graph can join on it before any worker starts."""
        return cache_key(self.request_id(item), self.role_name, self.prompt_tag, self.role.model, self.role)

    # the shared machinery
    def setup(self) -> None:
        self.counters = StageCounters(self.stage, self.progress_interval_s)
        self.prompt = load_prompt(self.role_name, self.role.prompt_version)
        self.taxonomy = load_taxonomy()
        self.model = resolve_model(self.role)
        self.loop = RequestLoop()
        self.pool = self.loop.run(self._make_pool)
        self.cache = CacheWriter(self.cache_root, self.role_name, self.synth.cache_flush_entries) \
            if self.cache_root else None
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
        fmt = self.prompt.response_format()
        self.sent += 1
        self.counters.count("requests")
        yield from self.inflight.submit(
            (item, request), lambda m=request.messages, s=self.sent: self.pool.complete(m, fmt, start=s), windowed)

    def finish_bundle(self):
        yield from self.inflight.drain()
        if self.cache:
            self.cache.flush()
        self.counters.log_progress()

    def teardown(self) -> None:
        loop = getattr(self, "loop", None)
        if loop is not None:
            try:
                loop.run(self.pool.close)
            finally:
                loop.close()

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
        if self.cache:
            self.cache.add(self.key(item), result)
        yield from self._outputs(item, result, fresh=True)

    def _outputs(self, item: Any, result: ChatResult, fresh: bool) -> Iterator[Any]:
        prefix = "tokens_" if fresh else "cached_tokens_"
        self.counters.count(prefix + "prompt", result.prompt_tokens)
        self.counters.count(prefix + "completion", result.completion_tokens)
        decision = completion_drop(result) or self.decide(item, result)
        if isinstance(decision, Drop):
            self.counters.dropped(decision.reason)
            request = self.request(item)
            yield pvalue.TaggedOutput(DROPPED_TAG, Dropped(stage=self.stage, reason=decision.reason, id=request.id,
                                                           url=request.url, detail=decision.detail[:2000]))
        else:
            self.counters.kept()
            yield decision


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


class Generate(beam.PTransform):
    """Look requests up in the cache, then run the role's stage; returns kept, dropped and dead_letter outputs."""

    def __init__(self, fn: GenerateFn, label: str | None = None):
        super().__init__(label)
        self.fn = fn

    def expand(self, items):
        return (items | "LookupCache" >> LookupCache(self.fn.cache_root, self.fn.role_name, self.fn.key)
                | "Generate" >> beam.ParDo(self.fn).with_outputs(DROPPED_TAG, DEAD_LETTER_TAG, main=KEPT_TAG))


def GenerateQuestions(synth: SynthConfig, cache_root: str | None = None,  # noqa: N802
                      progress_interval_s: float = 10.0, stage: str = "GenerateQuestions") -> Generate:
    """Seeds in; Questions, drops and dead letters out."""
    return Generate(GenerateQuestionsFn(stage, synth.roles.question, synth, cache_root, progress_interval_s))


def GenerateResponses(synth: SynthConfig, cache_root: str | None = None,  # noqa: N802
                      progress_interval_s: float = 10.0, stage: str = "GenerateResponses") -> Generate:
    """(Question, sample index) in; Pairs, drops and dead letters out."""
    return Generate(GenerateResponsesFn(stage, synth.roles.response, synth, cache_root, progress_interval_s))


def expand_samples(question: Question, n: int) -> list[tuple[Question, int]]:
    """The N response requests of one question."""
    return [(question, i) for i in range(max(1, n))]
