"""Typed records that flow between stages, and the Parquet schemas derived from them (Beam's coders for them are
registered by `ledger.coders`, so this module stays free of Beam)."""

from __future__ import annotations

import types
import typing
from typing import Any, NamedTuple, Optional

import pyarrow as pa


class Page(NamedTuple):
    """One HTML response read from a WARC, decoded to text."""

    id: str
    url: str
    record_id: str
    warc_date: str
    crawl_id: str
    warc_file: str
    offset: int
    content_type: str
    charset: str
    html: str


class ScreenedPage(NamedTuple):
    """A page after the cheap first pass (transforms/first_pass.py); the code classifier fills `code_score`."""

    id: str
    url: str
    record_id: str
    warc_date: str
    crawl_id: str
    warc_file: str
    offset: int
    content_type: str
    charset: str
    html: str
    plain_text: str
    code_score: float  # -1.0 until the code classifier has scored the page


class Seed(NamedTuple):
    """One code-related page, reduced to the text an LLM reads to write a question."""

    id: str
    url: str
    domain: str
    record_id: str
    warc_date: str
    crawl_id: str
    warc_file: str
    offset: int
    title: str
    text: str  # Markdown: trafilatura's main content with every code block fenced verbatim
    text_chars: int
    text_words: int
    code_score: float = -1.0  # the code classifier's probability that the page is about code
    nl_lang: str = ""  # natural language of the prose (lid.176 label, e.g. en, zh)
    nl_score: float = 0.0  # lid.176 probability of nl_lang
    prose_words: int = -1  # words outside code blocks (quality rules)
    code_lines: int = -1  # non-blank lines inside code blocks (quality rules)
    scrubbed: int = 0  # secrets and PII replaced by placeholders
    date: str = ""  # the page's publication date as trafilatura read it (YYYY-MM-DD), "" when unknown
    page_language: str = ""  # natural language the page declares (<html lang>, Content-Language), "" when none
    code_blocks: int = 0  # fenced code blocks in `text`
    code_chars: int = 0  # characters inside them
    code_hints: list[str] = []  # per block, the language its markup names (class="language-x"), "" when none
    code_languages: list[str] = []  # per block: the markup's language, else magika's label, else "" (none or not read)
    programming_language: str = ""  # main programming language: the label with the most code characters
    programming_language_score: float = 0.0  # its share of the code characters (unread count against) x confidence


class Question(NamedTuple):
    """A generated instruction with its classification, waiting for its responses."""

    id: str
    seed_id: str
    url: str
    domain: str
    warc_file: str
    record_id: str
    warc_date: str
    crawl_id: str
    instruction: str
    language: str  # natural language of the instruction: en or zh
    programming_language: str
    category: str
    subcategory: str
    difficulty: str  # easy, medium or hard, as the question model judged it
    algorithmic: bool
    testable: bool
    model: str
    prompt_version: str  # e.g. question-v2
    taxonomy_version: str
    temperature: float
    top_p: float
    prompt_tokens: int
    completion_tokens: int


class ChatMessage(NamedTuple):
    """One turn of a conversation, as chat trainers (TRL) read a `messages` column."""

    role: str
    content: str


def chat_messages(instruction: str, response: str) -> list[ChatMessage]:
    """The pair as a two-turn conversation: the user asks, the assistant answers."""
    return [ChatMessage("user", instruction), ChatMessage("assistant", response)]


class Pair(NamedTuple):
    """One instruction/response pair written by the LLMs from a seed: sample `sample_index` of N per question."""

    id: str
    seed_id: str
    question_id: str
    url: str
    domain: str
    warc_file: str
    record_id: str
    warc_date: str
    crawl_id: str
    instruction: str
    response: str
    language: str
    programming_language: str
    category: str
    subcategory: str
    difficulty: str
    algorithmic: bool
    testable: bool
    sample_index: int
    question_model: str
    response_model: str
    question_prompt_version: str
    response_prompt_version: str
    taxonomy_version: str
    question_temperature: float
    question_top_p: float
    response_temperature: float
    response_top_p: float
    question_prompt_tokens: int
    question_completion_tokens: int
    response_prompt_tokens: int
    response_completion_tokens: int
    tier: str = "standard"  # the generation tier (synth.tiers): its own split, e.g. a stronger model on a share
    verification_method: str = "none"  # none until verified: tests (generated tests in a sandbox) or judge
    verification_passed: Optional[bool] = None  # noqa: UP045 - RowCoder reads typing.Optional
    verification_score: Optional[float] = None  # noqa: UP045
    verification_reason: str = ""
    verification_candidates: int = 0  # how many responses competed (best-of-N)
    verification_pass_rate: Optional[float] = None  # noqa: UP045 - tests: share of the candidates that passed
    verification_sandbox: str = ""  # tests: the sandbox isolation level the runs used (fallback ladder)
    verification_order: str = ""  # judge: the order the candidates were shown in, as sample indices "2,0,3,1"
    messages: list[ChatMessage] = []  # the pair in chat format: [{role: user, ...}, {role: assistant, ...}]


class GeneratedTests(NamedTuple):
    """Generated tests for one algorithmic question, shared by all its responses."""

    question_id: str
    seed_id: str
    url: str
    language: str  # the sandbox language the tests are written in (python, cpp, ...)
    entry_point: str
    test_code: str
    model: str
    prompt_version: str
    prompt_tokens: int
    completion_tokens: int


class PreferencePair(NamedTuple):
    """A (chosen, rejected) pair of responses to one question with both scores and the reason, for DPO."""

    id: str
    question_id: str
    seed_id: str
    url: str
    prompt: str
    chosen: str
    rejected: str
    chosen_id: str
    rejected_id: str
    chosen_score: float
    rejected_score: float
    reason: str
    method: str  # tests or judge
    language: str
    programming_language: str
    category: str
    subcategory: str
    tier: str = "standard"


class Dropped(NamedTuple):
    """A record a stage did not keep, with the reason, so nothing is lost silently."""

    stage: str
    reason: str
    id: str
    url: str
    detail: str


class DeadLetter(NamedTuple):
    """A request that still failed after retries and failover, with why; a rerun asks for exactly these again."""

    stage: str
    role: str
    id: str  # the request: seed id, or question id and sample
    seed_id: str
    url: str
    cache_key: str
    reason: str  # rate_limited, server_error, timeout, connection_error, bad_response, bad_request, client_error
    detail: str
    attempts: int


RECORD_TYPES = (Page, ScreenedPage, Seed, Question, ChatMessage, Pair, GeneratedTests, PreferencePair, Dropped,
                DeadLetter)

_ARROW_TYPES = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}


def _arrow_type(hint: typing.Any) -> tuple[pa.DataType, bool]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return _arrow_type(inner)[0], True
    if origin in (list, tuple, typing.Sequence):
        return pa.list_(_arrow_type(typing.get_args(hint)[0])[0]), False
    if isinstance(hint, type) and issubclass(hint, tuple) and hasattr(hint, "_fields"):  # a nested record
        return pa.struct([pa.field(name, _arrow_type(h)[0]) for name, h in typing.get_type_hints(hint).items()]), False
    return _ARROW_TYPES[hint], False


def arrow_schema(record: type) -> pa.Schema:
    """The Parquet schema of a record type, derived from its annotations so the two never drift."""
    hints = typing.get_type_hints(record)
    fields = []
    for name in record._fields:
        dtype, nullable = _arrow_type(hints[name])
        fields.append(pa.field(name, dtype, nullable=nullable))
    return pa.schema(fields)


SEED_SCHEMA = arrow_schema(Seed)
PAIR_SCHEMA = arrow_schema(Pair)
PREFERENCE_SCHEMA = arrow_schema(PreferencePair)
DROPPED_SCHEMA = arrow_schema(Dropped)
DEAD_LETTER_SCHEMA = arrow_schema(DeadLetter)


def seed_from_row(row: dict[str, Any]) -> Seed:
    """A seed Parquet row as a Seed; columns an older seeds run did not write take the field's default."""
    defaults = Seed._field_defaults
    missing = [n for n in Seed._fields if n not in row and n not in defaults]
    if missing:
        raise ValueError(f"seed row {row.get('id')!r} lacks required columns {missing}")
    return Seed(**{name: row[name] if name in row else defaults[name] for name in Seed._fields})
