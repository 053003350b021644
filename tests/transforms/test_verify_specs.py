"""The tests and judge prompt specs: what they send (and so what the cache key covers) and what a reply becomes."""

from __future__ import annotations

import json

from ledger.drop import Drop
from ledger.records import GeneratedTests, Question
from tests.transforms.test_verify_decisions import pair
from transforms.chat_handler import ChatFn
from transforms.llm_client import ChatResult, LLMRoleConfig
from transforms.verify import CONTRACTS, CandidateGroup, GenerateTestsSpec, JudgedSelection, JudgeSpec, candidate_group
from transforms.verify_settings import VerifyConfig


def question(language: str = "C++") -> Question:
    return Question(id="q1", seed_id="s1", url="https://example.com/", domain="example.com", warc_file="w",
                    record_id="r", warc_date="d", crawl_id="c", instruction="Sum two ints.", language="en",
                    programming_language=language, category="software_engineering", subcategory="algorithm_design",
                    difficulty="easy", algorithmic=True, testable=True, model="m", prompt_version="question-v2",
                    taxonomy_version="v1", temperature=0.7, top_p=0.95, prompt_tokens=1, completion_tokens=1)


def reply(text: str) -> ChatResult:
    return ChatResult(text=text, finish_reason="stop", model="m", prompt_tokens=5, completion_tokens=7)


def test_the_tests_request_names_the_language_and_how_the_sandbox_joins_the_tests():
    spec = GenerateTestsSpec(LLMRoleConfig(prompt_version="v2"))
    request = spec.request(question("C++"))
    user = request.messages[-1]["content"]
    assert request.id == "q1" and "Write tests in C++" in user and CONTRACTS["cpp"] in user
    assert "Sum two ints." in user
    fmt = spec.response_format(question())
    assert fmt["json_schema"]["schema"]["properties"]["test_code"]["maxLength"] == 6000


def test_a_tests_reply_becomes_the_questions_test_program():
    spec = GenerateTestsSpec(LLMRoleConfig(prompt_version="v2"))
    text = json.dumps({"entry_point": "add", "test_code": "assert add(1, 2) == 3"})
    tests = spec.decide(question("Python"), reply(text), "tests-model")
    assert tests == GeneratedTests(question_id="q1", seed_id="s1", url="https://example.com/", language="python",
                                entry_point="add", test_code="assert add(1, 2) == 3\n", model="tests-model",
                                prompt_version="tests-v2", prompt_tokens=5, completion_tokens=7)
    assert spec.decide(question(), reply("sure, here are tests"), "m") == Drop("unparseable_output",
                                                                               "sure, here are tests")


def group(*responses: str) -> CandidateGroup:
    return CandidateGroup("q1", [pair(i, r) for i, r in enumerate(responses)])


def test_the_judge_sees_every_candidate_in_the_recorded_order_with_a_schema_for_n():
    spec = JudgeSpec(LLMRoleConfig(prompt_version="v2"), VerifyConfig(judge_seed="s"))
    g = group("alpha", "beta", "gamma")
    order = spec.order(g)
    user = spec.request(g).messages[-1]["content"]
    shown = [user.index(text) for text in ("alpha", "beta", "gamma")]
    assert [s for _, s in sorted(zip(shown, range(3), strict=True))] == order  # answer k is sample order[k-1]
    assert "Below are 3 candidate answers" in user and "### Answer 3" in user
    assert spec.response_format(g)["json_schema"]["schema"]["properties"]["best"]["enum"] == [1, 2, 3]


def test_the_cache_key_covers_every_candidate():
    fn = ChatFn("Judge", JudgeSpec(LLMRoleConfig(prompt_version="v2", model="m"), VerifyConfig()), None)
    assert fn.key(group("alpha", "beta")) == fn.key(group("alpha", "beta"))
    assert fn.key(group("alpha", "beta")) != fn.key(group("alpha", "BETA"))
    assert fn.key(group("alpha", "beta")) != fn.key(group("alpha", "beta", "gamma"))


def test_a_verdict_becomes_the_chosen_row_and_its_counters():
    spec = JudgeSpec(LLMRoleConfig(prompt_version="v2"), VerifyConfig(judge_seed="s"))
    g = group("alpha", "beta")
    order = spec.order(g)
    verdict = {"reason": "tied, first wins", "score_1": 6, "score_2": 6, "best": 1}
    kept = spec.decide(g._replace(fallback="suspect_tests", pass_rate=0.0, level="bwrap-full"),
                       reply(json.dumps(verdict)), "judge-model")
    assert isinstance(kept, JudgedSelection) and kept.counters == ("ties", "fallback_suspect_tests")
    chosen = kept.selection.chosen
    assert chosen.sample_index == order[0] and chosen.verification_pass_rate == 0.0
    assert chosen.verification_sandbox == "bwrap-full" and kept.selection.preference == []
    assert spec.counts(kept) == kept.counters
    assert spec.decide(g, reply(json.dumps({"reason": "x", "best": 1})), "m").reason == "malformed_verdict"


def test_candidates_are_joined_by_question_in_sample_order():
    tests = GeneratedTests("q1", "s1", "u", "python", "f", "assert f()\n", "m", "tests-v2", 1, 1)
    g = candidate_group(("q1", {"pairs": [pair(2), pair(0), pair(1)], "tests": [tests]}))
    assert [p.sample_index for p in g.pairs] == [0, 1, 2] and g.tests == tests
    assert candidate_group(("q1", {"pairs": [pair(0)], "tests": []})).tests is None
