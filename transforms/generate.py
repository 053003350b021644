"""GenerateQuestions and GenerateResponses: seeds to questions to N responses, over vLLM or any OpenAI server.

Both are the one chat handler (transforms/chat_handler.py) with a small prompt spec each: the spec renders the
request and decides what a reply becomes; the handler keeps requests in flight, retries, caches and dead-letters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger.drop import Drop
from ledger.ids import stable_id, unit_hash
from ledger.records import Pair, Question, Seed, chat_messages
from prompts.render import LANGUAGE_NAMES, Prompt, Taxonomy, parse_json_reply, schema_problem
from transforms.chat_handler import DEAD_LETTER_TAG, ChatFn, ChatStage, PromptSpec, Request, completion_drop
from transforms.llm_client import ChatResult, LLMRoleConfig
from transforms.verify_settings import VerifyConfig

__all__ = ["DEAD_LETTER_TAG", "Request", "completion_drop"]  # re-exported: the stages' callers import them here


@dataclass(frozen=True)
class RolesConfig:
    """The four LLM roles, each with its own endpoints, model and sampling."""

    question: LLMRoleConfig = field(default_factory=lambda: LLMRoleConfig(prompt_version="v2", max_tokens=768))
    response: LLMRoleConfig = field(default_factory=lambda: LLMRoleConfig(
        prompt_version="v2", max_tokens=2048, timeout_s=300.0))
    tests: LLMRoleConfig = field(default_factory=lambda: LLMRoleConfig(prompt_version="v2", temperature=0.2,
                                                                       max_tokens=1536, timeout_s=300.0))
    judge: LLMRoleConfig = field(default_factory=lambda: LLMRoleConfig(prompt_version="v2", temperature=0.0,
                                                                       top_p=1.0, max_tokens=512))


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
    responses_per_question: int = 1  # N response samples per question (verify.n instead when verification is on)
    cache: bool = True  # reuse completions stored under OUT/cache by (id, role, prompt, model, sampling, messages)
    cache_flush_entries: int = 1000  # a worker writes its new cache entries at least this often, and per bundle
    cache_flush_interval_s: float = 5.0  # ... and at least this often: what a killed run can lose at most
    roles: RolesConfig = field(default_factory=RolesConfig)
    tiers: tuple[TierConfig, ...] = ()
    verify: VerifyConfig = field(default_factory=VerifyConfig)

    @property
    def samples_per_question(self) -> int:
        """N: verify.n candidates when verification picks the best, else responses_per_question."""
        return self.verify.n if self.verify.enabled else self.responses_per_question


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


class QuestionSpec(PromptSpec):
    """A seed page in; one new question with its labels out."""

    role_name = "question"

    def __init__(self, role: LLMRoleConfig, synth: SynthConfig):
        super().__init__(role)
        self.synth = synth

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

    def decide(self, seed: Seed, result: ChatResult, model: str) -> Question | Drop:
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
            testable=fields["testable"], model=model, prompt_version=self.prompt.tag,
            taxonomy_version=self.taxonomy.version, temperature=self.role.temperature, top_p=self.role.top_p,
            prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens)


class ResponseSpec(PromptSpec):
    """(Question, sample index) in; one instruction/response pair out."""

    role_name = "response"

    def request_id(self, item: tuple[Question, int]) -> str:
        question, sample = item
        return f"{question.id}/{sample}"

    def request(self, item: tuple[Question, int]) -> Request:
        question, _sample = item
        messages = self.prompt.messages(instruction=question.instruction,
                                        language_name=LANGUAGE_NAMES.get(question.language, question.language))
        return Request(self.request_id(item), question.seed_id, question.url, messages)

    def decide(self, item: tuple[Question, int], result: ChatResult, model: str) -> Pair:
        q, sample = item
        response = result.text.strip()
        return Pair(
            id=stable_id(q.id, self.prompt.tag, str(sample)), seed_id=q.seed_id, question_id=q.id, url=q.url,
            domain=q.domain, warc_file=q.warc_file, record_id=q.record_id, warc_date=q.warc_date, crawl_id=q.crawl_id,
            instruction=q.instruction, response=response, language=q.language,
            programming_language=q.programming_language, category=q.category, subcategory=q.subcategory,
            difficulty=q.difficulty, algorithmic=q.algorithmic, testable=q.testable, sample_index=sample,
            question_model=q.model, response_model=model, question_prompt_version=q.prompt_version,
            response_prompt_version=self.prompt.tag, taxonomy_version=q.taxonomy_version,
            question_temperature=q.temperature, question_top_p=q.top_p, response_temperature=self.role.temperature,
            response_top_p=self.role.top_p, question_prompt_tokens=q.prompt_tokens,
            question_completion_tokens=q.completion_tokens, response_prompt_tokens=result.prompt_tokens,
            response_completion_tokens=result.completion_tokens, messages=chat_messages(q.instruction, response))


class GenerateQuestionsFn(ChatFn):
    """The chat handler with the question spec."""

    def __init__(self, stage: str, role: LLMRoleConfig, synth: SynthConfig, cache_root: str | None,
                 progress_interval_s: float = 10.0):
        super().__init__(stage, QuestionSpec(role, synth), cache_root, synth.cache_flush_entries,
                         synth.cache_flush_interval_s, progress_interval_s)
        self.synth = synth


class GenerateResponsesFn(ChatFn):
    """The chat handler with the response spec."""

    def __init__(self, stage: str, role: LLMRoleConfig, synth: SynthConfig, cache_root: str | None,
                 progress_interval_s: float = 10.0):
        super().__init__(stage, ResponseSpec(role), cache_root, synth.cache_flush_entries,
                         synth.cache_flush_interval_s, progress_interval_s)
        self.synth = synth


class GenerateQuestions(ChatStage):
    """Seeds in; Questions, drops and dead letters out."""

    def __init__(self, synth: SynthConfig, cache_root: str | None = None, progress_interval_s: float = 10.0,
                 stage: str = "GenerateQuestions", label: str | None = None):
        super().__init__(GenerateQuestionsFn(stage, synth.roles.question, synth, cache_root, progress_interval_s),
                         label)


class GenerateResponses(ChatStage):
    """(Question, sample index) in; Pairs, drops and dead letters out."""

    def __init__(self, synth: SynthConfig, cache_root: str | None = None, progress_interval_s: float = 10.0,
                 stage: str = "GenerateResponses", label: str | None = None):
        super().__init__(GenerateResponsesFn(stage, synth.roles.response, synth, cache_root, progress_interval_s),
                         label)


def expand_samples(question: Question, n: int) -> list[tuple[Question, int]]:
    """The N response requests of one question."""
    return [(question, i) for i in range(max(1, n))]
