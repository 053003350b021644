"""Pure decisions of the generation stages, the cache key, and the in-flight window, without a pipeline."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pyarrow.parquet as pq
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from ledger.drop import Drop
from ledger.records import Seed, seed_from_row
from prompts.render import load_prompt, load_taxonomy
from tests.conftest import DATA
from transforms.generate import (
    GenerateQuestionsFn,
    SynthConfig,
    completion_drop,
    pick_language,
    programming_language_hint,
    question_fields,
)
from transforms.generation_cache import cache_key, entry_line, parse_entry
from transforms.inflight import InFlight, RequestLoop
from transforms.llm_client import ChatResult, LLMRoleConfig


def result(text: str = "x", finish: str = "stop") -> ChatResult:
    return ChatResult(text=text, finish_reason=finish, model="m", prompt_tokens=3, completion_tokens=4)


def test_completion_drop_names_the_reason():
    assert completion_drop(result("fine")) is None
    assert completion_drop(result("cut", "length")).reason == "truncated"
    assert completion_drop(result("  \n", "stop")) == Drop("empty_output")
    assert completion_drop(result("x", "abort")).reason == "unfinished"


def _question(**changes) -> str:
    value = {"question": "Write a function that merges two sorted lists.", "programming_language": "Python",
             "category": "tools_and_practices", "subcategory": "algorithm_design", "difficulty": "medium",
             "algorithmic": True, "testable": True}
    value.update(changes)
    return json.dumps(value)


def test_question_fields_fix_the_category_from_the_subcategory():
    fields = question_fields(_question(), load_prompt("question", "v2"), load_taxonomy())
    assert fields["category"] == "software_engineering"
    assert fields["question"].startswith("Write a function")


def test_question_fields_drop_reasons():
    prompt, taxonomy = load_prompt("question", "v2"), load_taxonomy()
    assert question_fields("I think the answer is 42", prompt, taxonomy).reason == "unparseable_output"
    assert question_fields(_question(difficulty="trivial"), prompt, taxonomy).reason == "off_schema"
    assert question_fields(_question(question="   "), prompt, taxonomy).reason == "empty_question"
    raw = _question(question="line one\nline two").replace("\\n", "\n")  # a raw newline, as xgrammar lets through
    assert question_fields(raw, prompt, taxonomy)["question"] == "line one\nline two"


def test_pick_language_is_stable_and_follows_the_weights():
    picks = [pick_language(f"seed-{i}", ("en", "zh"), (0.8, 0.2)) for i in range(2000)]
    assert picks == [pick_language(f"seed-{i}", ("en", "zh"), (0.8, 0.2)) for i in range(2000)]
    assert 0.75 < picks.count("en") / len(picks) < 0.85
    assert pick_language("s", ("zh",), ()) == "zh"


def test_cache_key_changes_with_everything_that_shapes_a_completion():
    role = LLMRoleConfig()
    sent = [{"role": "user", "content": "Write a question about this page."}]
    fmt = {"type": "json_schema", "json_schema": {"name": "q", "schema": {"type": "object"}}}
    base = cache_key("seed/en", "question", "question-v2", "m", role, sent, fmt)
    assert base == cache_key("seed/en", "question", "question-v2", "m", role, list(sent), dict(fmt))
    others = [cache_key("seed/zh", "question", "question-v2", "m", role, sent, fmt),
              cache_key("seed/en", "response", "question-v2", "m", role, sent, fmt),
              cache_key("seed/en", "question", "question-v3", "m", role, sent, fmt),
              cache_key("seed/en", "question", "question-v2", "m2", role, sent, fmt),
              cache_key("seed/en", "question", "question-v2", "m", dataclasses.replace(role, temperature=0.2), sent,
                        fmt),
              cache_key("seed/en", "question", "question-v2", "m", dataclasses.replace(role, max_tokens=9), sent, fmt),
              cache_key("seed/en", "question", "question-v2", "m", role, [{"role": "user", "content": "Other."}], fmt),
              cache_key("seed/en", "question", "question-v2", "m", role, sent, None)]
    assert base not in others and len(set(others)) == len(others)
    # the endpoint, timeouts and concurrency do not change what the model writes
    assert base == cache_key("seed/en", "question", "question-v2", "m",
                             dataclasses.replace(role, endpoints=("http://x/v1",), timeout_s=1, max_in_flight=3),
                             sent, fmt)


def _rust_seed() -> Seed:
    rows = pq.read_table(DATA / "seeds" / "train-00000-of-00001.parquet").to_pylist()
    seed = seed_from_row(next(r for r in rows if r["title"] == "The Rust Programming Language"))
    return seed._replace(programming_language="rust")


def test_the_question_request_names_the_seeds_programming_language():
    seed = _rust_seed()
    config = SynthConfig()
    fn = GenerateQuestionsFn("GenerateQuestions", config.roles.question, config, None)
    user = fn.request(seed).messages[-1]["content"]
    assert "Use rust." in user
    unknown = fn.request(seed._replace(programming_language="")).messages[-1]["content"]
    assert "Use the programming language the page is about." in unknown
    assert programming_language_hint(seed) == "rust"


def test_cache_entries_round_trip_and_damaged_lines_are_skipped():
    line = entry_line("k", result("héllo\n"))
    assert parse_entry(line) == ("k", result("héllo\n"))
    assert parse_entry(line[: len(line) // 2]) is None


def test_in_flight_emits_results_in_completion_order_and_bounds_the_window():
    loop = RequestLoop()
    started = []

    def make(name: str, delay: float):
        async def run():
            started.append(name)
            await asyncio.sleep(delay)
            return name
        return run

    window = InFlight(loop, limit=2, handle=lambda context, res: [res])
    wv = WindowedValue(None, 0, [GlobalWindow()])
    out = []
    out += [o.value for o in window.submit("slow", make("slow", 0.5), wv)]
    out += [o.value for o in window.submit("fast", make("fast", 0.01), wv)]
    # the window is full: submitting a third waits for one to finish, and it is the fast one
    out += [o.value for o in window.submit("third", make("third", 0.3), wv)]
    assert out == ["fast"]
    out += [o.value for o in window.drain()]
    assert out[-1] == "slow" and sorted(out) == ["fast", "slow", "third"]
    loop.close()
