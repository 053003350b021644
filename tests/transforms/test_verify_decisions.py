"""The verification decisions, pure: routes, code extraction, test replies, the judge's order and verdicts, and the
selection rules, each with its exact drop reason or outcome."""

from __future__ import annotations

import json
from collections import Counter

from ledger.drop import Drop
from ledger.records import Pair, chat_messages
from prompts.render import load_prompt
from transforms.verify_decisions import (
    Verdict,
    extract_program,
    judge_order,
    judge_schema,
    parse_tests_reply,
    read_verdict,
    sandbox_language,
    select_by_tests,
    select_by_verdict,
    verification_route,
)


def pair(sample: int, response: str = "```python\nx = 1\n```", question_id: str = "q1") -> Pair:
    return Pair(id=f"p{sample}", seed_id="s1", question_id=question_id, url="https://example.com/",
                domain="example.com", warc_file="w", record_id="r", warc_date="d", crawl_id="c",
                instruction="Reverse a list.",
                response=response, language="en", programming_language="Python", category="software_engineering",
                subcategory="algorithm_design", difficulty="medium", algorithmic=True, testable=True,
                sample_index=sample, question_model="m", response_model="m", question_prompt_version="question-v2",
                response_prompt_version="response-v2", taxonomy_version="v1", question_temperature=0.7,
                question_top_p=0.95, response_temperature=0.7, response_top_p=0.95, question_prompt_tokens=1,
                question_completion_tokens=1, response_prompt_tokens=1, response_completion_tokens=1,
                messages=chat_messages("Reverse a list.", response))


def verdict_text(n: int, scores: list[int], best: int, reason: str = "Answer is right.") -> str:
    return json.dumps({"reason": reason, **{f"score_{i}": s for i, s in enumerate(scores, start=1)}, "best": best})


def test_question_languages_map_to_sandbox_languages():
    assert [sandbox_language(x) for x in ("Python", "C++", "JavaScript", "golang", "Shell", "TypeScript", "C")] == [
        "python", "cpp", "javascript", "go", "bash", "typescript", "c"]
    assert sandbox_language("COBOL") is None and sandbox_language("") is None


def test_only_algorithmic_testable_questions_in_a_sandbox_language_take_the_tests():
    assert verification_route(True, True, "Python", tests_enabled=True) == "tests"
    assert verification_route(True, False, "Python", tests_enabled=True) == "judge"
    assert verification_route(False, True, "Python", tests_enabled=True) == "judge"
    assert verification_route(True, True, "COBOL", tests_enabled=True) == "judge"
    assert verification_route(True, True, "Python", tests_enabled=False) == "judge"


def test_the_program_is_the_longest_block_in_the_language_else_the_longest_unlabelled_one():
    response = ("Use this:\n```python\ndef f():\n    return 1\n```\nand call it:\n```python\nf()\n```\n"
                "```bash\necho a much longer shell block that is not python\n```")
    assert extract_program(response, "python") == "def f():\n    return 1\n"
    assert extract_program("```\nint main() { return 0; }\n```", "cpp") == "int main() { return 0; }\n"
    assert extract_program("```c++\nint x;\n```", "cpp") == "int x;\n"
    assert extract_program("No code here, just prose.", "python") is None
    assert extract_program("```js\nlet x = 1;\n```", "python") is None


def test_a_tests_reply_gives_its_code_or_the_exact_drop():
    schema = load_prompt("tests", "v2").schema
    ok = parse_tests_reply(json.dumps({"entry_point": "f", "test_code": "assert f() == 1"}), schema)
    assert ok == {"entry_point": "f", "test_code": "assert f() == 1\n"}
    assert parse_tests_reply("no json", schema).reason == "unparseable_output"
    assert parse_tests_reply(json.dumps({"entry_point": "f"}), schema).reason == "off_schema"
    assert parse_tests_reply(json.dumps({"entry_point": "f", "test_code": "  "}), schema).reason == "empty_tests"


def test_the_judge_order_is_a_stable_permutation_that_spreads_every_sample_over_every_position():
    assert judge_order("q1", [0, 1, 2, 3], "s") == judge_order("q1", [3, 1, 0, 2], "s")
    assert sorted(judge_order("q1", [0, 1, 2, 3], "s")) == [0, 1, 2, 3]
    first = Counter(judge_order(f"q{i}", [0, 1, 2, 3], "s")[0] for i in range(4000))
    assert set(first) == {0, 1, 2, 3} and all(800 < n < 1200 for n in first.values()), first  # ~1000 each
    assert any(judge_order(f"q{i}", [0, 1, 2, 3], "s") != judge_order(f"q{i}", [0, 1, 2, 3], "t") for i in range(5))


def test_the_verdict_schema_bounds_every_field_for_guided_decoding():
    schema = judge_schema(3)
    assert schema["required"] == ["reason", "score_1", "score_2", "score_3", "best"]
    assert schema["properties"]["best"]["enum"] == [1, 2, 3]
    assert schema["properties"]["reason"]["maxLength"] == 600
    assert schema["properties"]["score_2"]["enum"] == list(range(1, 11))


def test_verdicts_parse_or_give_the_exact_drop():
    assert read_verdict(verdict_text(3, [8, 5, 3], 1), 3) == Verdict(0, [8, 5, 3], "Answer is right.", tied=False)
    assert read_verdict("```json\n" + verdict_text(2, [4, 9], 2) + "\n```", 2).best == 1
    assert read_verdict("I like the second one", 2) == Drop("unparseable_verdict", "I like the second one")
    assert read_verdict(json.dumps({"reason": "r", "best": 1}), 2).reason == "malformed_verdict"
    assert read_verdict(verdict_text(2, [8, 5], 3), 2).reason == "malformed_verdict"  # no third answer
    assert read_verdict(verdict_text(2, [11, 5], 1), 2).reason == "malformed_verdict"
    assert read_verdict(verdict_text(2, [8, 5], 1, reason=" "), 2).reason == "malformed_verdict"
    assert read_verdict(verdict_text(2, [3, 9], 1), 2) == Drop("inconsistent_verdict", "best=1 scored 3 below 9")


def test_a_tie_is_broken_by_the_judges_best_and_flagged():
    verdict = read_verdict(verdict_text(3, [7, 7, 2], 2), 3)
    assert verdict.best == 1 and verdict.tied


def test_the_judges_best_maps_back_through_the_shown_order_and_rejects_only_lower_scores():
    candidates = [pair(0), pair(1), pair(2)]
    order = [2, 0, 1]  # shown: sample 2 as answer 1, sample 0 as answer 2, sample 1 as answer 3
    selection = select_by_verdict(candidates, order, Verdict(1, [6, 9, 9], "second is best", tied=True))
    chosen = selection.chosen
    assert chosen.sample_index == 0 and chosen.verification_method == "judge"
    assert chosen.verification_score == 9.0 and chosen.verification_reason == "second is best"
    assert chosen.verification_order == "2,0,1" and chosen.verification_candidates == 3
    assert chosen.verification_passed is None
    assert [(p.chosen_id, p.rejected_id, p.chosen_score, p.rejected_score) for p in selection.preference] == [
        ("p0", "p2", 9.0, 6.0)]  # sample 1 tied with the best: no preference between them
    assert selection.preference[0].prompt == "Reverse a list." and selection.preference[0].method == "judge"


def test_a_best_below_the_minimum_score_is_dropped():
    assert select_by_verdict([pair(0)], [0], Verdict(0, [3], "weak", False), min_score=5) == Drop(
        "low_score", "best scored 3 < 5")


def test_tests_keep_the_passers_choose_the_lowest_sample_and_reject_the_failures():
    candidates = [pair(0), pair(1), pair(2), pair(3)]
    statuses = {"p0": "failed", "p1": "passed", "p2": "passed", "p3": "timeout"}
    decision = select_by_tests(candidates, statuses, "bwrap-full")
    assert decision.outcome == "selected"
    chosen = decision.selection.chosen
    assert chosen.id == "p1" and chosen.verification_method == "tests" and chosen.verification_passed is True
    assert chosen.verification_pass_rate == 0.5 and chosen.verification_sandbox == "bwrap-full"
    assert chosen.verification_candidates == 4
    assert [(p.rejected_id, p.chosen_score, p.rejected_score) for p in decision.selection.preference] == [
        ("p0", 1.0, 0.0), ("p3", 1.0, 0.0)]
    assert "timeout" in decision.selection.preference[1].reason


def test_tests_that_no_response_passes_are_suspect_and_condemn_no_one():
    candidates = [pair(0), pair(1)]
    decision = select_by_tests(candidates, {"p0": "failed", "p1": "compile_error"}, "bwrap-full")
    assert decision.outcome == "suspect_tests" and decision.selection is None
    assert decision.detail == "compile_error=1, failed=1"


def test_what_the_tests_cannot_decide_goes_elsewhere_by_name():
    candidates = [pair(0), pair(1)]
    assert select_by_tests(candidates, {"p0": "no_code", "p1": "no_code"}, "").outcome == "no_code"
    assert select_by_tests(candidates, {"p0": "no_runtime", "p1": "no_runtime"}, "bwrap-full").outcome == "no_runtime"
    assert select_by_tests(candidates, {"p0": "sandbox_error", "p1": "sandbox_error"}, "").outcome == "sandbox_error"
    # a response without code fails on its own; another's real failure still makes the tests suspect
    assert select_by_tests(candidates, {"p0": "no_code", "p1": "failed"}, "").outcome == "suspect_tests"
    # no code is the response's fault: a passer beats it
    decision = select_by_tests(candidates, {"p0": "no_code", "p1": "passed"}, "bwrap-full")
    assert decision.selection.chosen.id == "p1" and [p.rejected_id for p in decision.selection.preference] == ["p0"]
