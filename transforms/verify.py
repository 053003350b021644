"""Verify: the N responses of each question become one chosen response and (chosen, rejected) preference pairs.

Algorithmic, testable questions in a sandbox language get one generated test program (GenerateTests, the `tests`
role), shared by their N responses, which run against it in the sandbox (RunTests); every other question, and every
question whose tests cannot decide (suspect tests, no code, no runtime), goes to a best-of-N judge (Judge, the
`judge` role). GenerateTests and Judge are the chat handler with a prompt spec each, so they share its in-flight
window, retries, cache and dead letters.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator
from typing import Any, NamedTuple, Optional

import apache_beam as beam
from apache_beam import pvalue

from ledger.drop import Drop
from ledger.records import DeadLetter, GeneratedTests, Pair, Question
from transforms.chat_handler import DEAD_LETTER_TAG, ChatFn, ChatStage, PromptSpec, Request
from transforms.llm_client import ChatResult, LLMRoleConfig
from transforms.stage import DROPPED_TAG, KEPT_TAG, Stage, StageDoFn
from transforms.verify_decisions import (
    TESTS,
    Selection,
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
from transforms.verify_settings import SandboxConfig, VerifyConfig

TO_JUDGE_TAG = "to_judge"
PREFERENCE_TAG = "preference"
_LOG = logging.getLogger("syncode.verify")

# How the sandbox joins a response and its tests (sandbox/: the program text, then the tests, in one source unit;
# Go tests with `func TestXxx` are a _test.go file of their own; Rust `#[test]` runs under rustc --test).
CONTRACTS = {
    "python": "They are appended to the solution's code in one file run by python3: use top-level `assert` "
              "statements (no unittest.main, no import of the solution).",
    "javascript": "They are appended to the solution's code in one file run by node: use `require('assert')` "
                  "and do not import the solution.",
    "typescript": "They are appended to the solution's code in one TypeScript file: use `require('assert')` "
                  "or throw on failure; do not import the solution.",
    "c": "They are appended to the solution's C17 code in one file: write `int main(void)` that returns 1 on any "
         "failure; include the headers you use.",
    "cpp": "They are appended to the solution's C++17 code in one file: write `int main()` that returns 1 on any "
           "failure; include the headers you use.",
    "java": "They are appended to the solution's code in one file: write a non-public class `Tests` whose "
            "`public static void main(String[] args)` calls the solution and calls System.exit(1) on any failure.",
    "go": "Write a complete Go test file: `package main`, its imports, and `func TestXxx(t *testing.T)` functions "
          "that call the solution; it is saved as main_test.go next to the solution and run by `go test`.",
    "rust": "They are appended to the solution's code in one file compiled with `rustc --test`: write `#[test]` "
            "functions that call the solution.",
    "bash": "They are appended to the solution's script: call its functions and `exit 1` on a wrong result.",
    "php": "They are appended to the solution's code in one file run by php: call it and `exit(1)` on failure.",
    "ruby": "They are appended to the solution's code in one file run by ruby: call it and `exit 1` on failure.",
}


class CandidateGroup(NamedTuple):
    """One question's N responses (by sample index) and its generated tests, if it has any."""

    question_id: str
    pairs: list[Pair]
    tests: Optional[GeneratedTests] = None  # noqa: UP045
    fallback: str = ""  # why the judge decides a question that went to the tests: suspect_tests, no_code, ...
    pass_rate: Optional[float] = None  # noqa: UP045 - the tests' pass rate when they ran
    level: str = ""  # the sandbox level the runs used


def candidate_group(item: tuple[str, dict[str, list]]) -> CandidateGroup:
    """A question's responses and tests as joined by question id."""
    question_id, joined = item
    pairs = sorted(joined["pairs"], key=lambda p: p.sample_index)
    tests = joined["tests"][0] if joined["tests"] else None
    return CandidateGroup(question_id, pairs, tests)


def group_route(group: CandidateGroup, tests_enabled: bool) -> str:
    """Tests when the question has tests or should (RunTests hands the latter to the judge), else the judge."""
    if group.tests is not None:
        return TESTS
    pair = group.pairs[0]
    return verification_route(pair.algorithmic, pair.testable, pair.programming_language, tests_enabled)


def question_route(question: Question, tests_enabled: bool) -> str:
    return verification_route(question.algorithmic, question.testable, question.programming_language, tests_enabled)


class GenerateTestsSpec(PromptSpec):
    """A question in; its test program in the question's language out."""

    role_name = "tests"

    def request_id(self, question: Question) -> str:
        return question.id

    def request(self, question: Question) -> Request:
        language = sandbox_language(question.programming_language) or ""
        messages = self.prompt.messages(programming_language=question.programming_language,
                                        contract=CONTRACTS.get(language, ""), instruction=question.instruction)
        return Request(question.id, question.seed_id, question.url, messages)

    def decide(self, question: Question, result: ChatResult, model: str) -> GeneratedTests | Drop:
        fields = parse_tests_reply(result.text, self.prompt.schema or {})
        if isinstance(fields, Drop):
            return fields
        return GeneratedTests(question_id=question.id, seed_id=question.seed_id, url=question.url,
                           language=sandbox_language(question.programming_language) or "",
                           entry_point=fields["entry_point"], test_code=fields["test_code"], model=model,
                           prompt_version=self.prompt.tag, prompt_tokens=result.prompt_tokens,
                           completion_tokens=result.completion_tokens)


class JudgedSelection(NamedTuple):
    """The judge's selection and the counters it adds (ties, fallbacks)."""

    selection: Selection
    counters: tuple[str, ...]


class JudgeSpec(PromptSpec):
    """A question's N candidates in, shown in a stable shuffled order; the best of them, scored, with a reason out."""

    role_name = "judge"

    def __init__(self, role: LLMRoleConfig, verify: VerifyConfig):
        super().__init__(role)
        self.verify = verify

    def order(self, group: CandidateGroup) -> list[int]:
        return judge_order(group.question_id, [p.sample_index for p in group.pairs], self.verify.judge_seed)

    def request_id(self, group: CandidateGroup) -> str:
        return group.question_id

    def request(self, group: CandidateGroup) -> Request:
        by_sample = {p.sample_index: p for p in group.pairs}
        shown = [by_sample[s] for s in self.order(group)]
        candidates = "\n\n".join(f"### Answer {i}\n{p.response}" for i, p in enumerate(shown, start=1))
        first = group.pairs[0]
        messages = self.prompt.messages(count=str(len(shown)), instruction=first.instruction, candidates=candidates)
        return Request(group.question_id, first.seed_id, first.url, messages)

    def response_format(self, group: CandidateGroup) -> dict[str, Any]:
        return {"type": "json_schema",
                "json_schema": {"name": "judge", "schema": judge_schema(len(group.pairs)), "strict": True}}

    def decide(self, group: CandidateGroup, result: ChatResult, model: str) -> JudgedSelection | Drop:
        verdict = read_verdict(result.text, len(group.pairs))
        if isinstance(verdict, Drop):
            return verdict
        selection = select_by_verdict(group.pairs, self.order(group), verdict, self.verify.judge_min_score)
        if isinstance(selection, Drop):
            return selection
        if group.fallback:  # the tests ran but could not decide: keep what they measured on the row
            chosen = selection.chosen._replace(verification_pass_rate=group.pass_rate,
                                               verification_sandbox=group.level)
            selection = selection._replace(chosen=chosen)
        counters = (("ties",) if verdict.tied else ()) + ((f"fallback_{group.fallback}",) if group.fallback else ())
        return JudgedSelection(selection, counters)

    def counts(self, kept: JudgedSelection) -> tuple[str, ...]:
        return kept.counters


def open_sandbox(config: SandboxConfig):
    """The sandbox a worker runs tests in: a local one (fails closed: raises when no isolation level can start), or
    the `pipeline sandbox-serve` service at config.url."""
    import sandbox

    if config.url:
        return sandbox.RemoteSandbox(config.url, parallelism=config.parallelism,
                                     token=os.environ.get(config.token_env, ""))
    names = {f.name for f in dataclasses.fields(sandbox.SandboxSettings)}
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k in names}
    return sandbox.Sandbox(sandbox.SandboxSettings(**settings))


class RunTestsFn(StageDoFn):
    """Runs each response of a question with its tests in the sandbox and selects by the result; questions the
    tests cannot decide go to the judge (counted `to_judge_<why>`), a sandbox failure on every run is a dead letter."""

    outputs = (DEAD_LETTER_TAG, TO_JUDGE_TAG)

    def __init__(self, stage: str, verify: VerifyConfig, progress_interval_s: float = 10.0):
        super().__init__(stage, progress_interval_s)
        self.verify = verify

    def setup(self) -> None:
        super().setup()
        import sandbox

        self.sample_type = sandbox.Sample
        try:
            self.sandbox = open_sandbox(self.verify.sandbox)
        except sandbox.SandboxUnavailable as exc:  # fail closed: no generated test runs without isolation
            raise RuntimeError(f"{self.stage}: the sandbox cannot start on this worker ({exc}); run "
                               "`python -m pipeline sandbox-serve` where it can and set synth.verify.sandbox.url, "
                               "or set synth.verify.tests=false to judge every question") from exc

    def teardown(self) -> None:
        if getattr(self, "sandbox", None) is not None:
            self.sandbox.close()

    def process(self, group: CandidateGroup) -> Iterator[Any]:
        self.counters.seen()
        url = group.pairs[0].url if group.pairs else (group.tests.url if group.tests else "")
        if not group.pairs:
            yield self.drop(group, Drop("no_responses", "every response of the question was dropped"),
                            id=group.question_id, url=url)
            return
        if group.tests is None:
            yield self._to_judge(group, "no_tests")
            return
        language = group.tests.language
        statuses, samples = {}, []
        for pair in group.pairs:
            program = extract_program(pair.response, language)
            if program is None:
                statuses[pair.id] = "no_code"
            else:
                samples.append(self.sample_type(id=pair.id, language=language, program=program,
                                              tests=group.tests.test_code))
        levels = set()
        try:
            for outcome in self.sandbox.run_many(samples):
                statuses[outcome.id] = outcome.status
                levels.add(outcome.level)
        except Exception as exc:  # noqa: BLE001 - the sandbox failing is a dead letter, never a crashed job
            _LOG.warning("%s: sandbox failed on %s: %s", self.stage, group.question_id, exc)
            for sample in samples:
                statuses.setdefault(sample.id, "sandbox_error")
        for status in statuses.values():
            self.counters.count(f"runs_{status}")
        level = ",".join(sorted(levels))
        decision = select_by_tests(group.pairs, statuses, level)
        if decision.outcome == "selected":
            yield self.keep(decision.selection)
        elif decision.outcome == "sandbox_error":
            self.counters.dropped("dead_letter_sandbox_error")
            first = group.pairs[0]
            yield pvalue.TaggedOutput(DEAD_LETTER_TAG, DeadLetter(
                stage=self.stage, role="sandbox", id=group.question_id, seed_id=first.seed_id, url=first.url,
                cache_key="", reason="sandbox_error", detail=decision.detail, attempts=1))
        else:
            if decision.outcome == "suspect_tests":
                self.counters.count("suspect_tests")
            yield self._to_judge(group._replace(pass_rate=0.0, level=level), decision.outcome)

    def _to_judge(self, group: CandidateGroup, why: str) -> pvalue.TaggedOutput:
        self.counters.dropped(f"to_judge_{why}")
        return pvalue.TaggedOutput(TO_JUDGE_TAG, group._replace(fallback=why))


class RunTests(Stage):
    """Candidate groups in; Selections out, with `to_judge`, `dropped` and `dead_letter` outputs."""

    def __init__(self, verify: VerifyConfig, progress_interval_s: float = 10.0, stage: str = "RunTests",
                 label: str | None = None):
        super().__init__(RunTestsFn(stage, verify, progress_interval_s), label)


def split_selection(kept: Selection | JudgedSelection) -> Iterator[Any]:
    """The chosen pair (main output) and each preference pair (tagged)."""
    selection = kept.selection if isinstance(kept, JudgedSelection) else kept
    yield selection.chosen
    for pair in selection.preference:
        yield pvalue.TaggedOutput(PREFERENCE_TAG, pair)


def _keyed_pair(pair: Pair) -> tuple[str, Pair]:
    return pair.question_id, pair


def _keyed_tests(tests: GeneratedTests) -> tuple[str, GeneratedTests]:
    return tests.question_id, tests


class Verify(beam.PTransform):
    """{"questions", "pairs"} in; {"chosen", "preference", "dropped_*", "dead_*"} out. Its stages are GenerateTests,
    RunTests and Judge (with the tier's suffix), listed in `stages`."""

    def __init__(self, verify: VerifyConfig, tests_role: LLMRoleConfig, judge_role: LLMRoleConfig,
                 cache_root: str | None, cache_flush_entries: int = 1000, cache_flush_interval_s: float = 5.0,
                 progress_interval_s: float = 10.0, suffix: str = "", label: str | None = None,
                 accelerator: str | None = None):
        super().__init__(label)
        self.verify = verify
        self.accelerator = accelerator  # the GPU hint for the two LLM steps; RunTests stays on CPU workers
        self.tests_role, self.judge_role = tests_role, judge_role
        self.cache = (cache_root, cache_flush_entries, cache_flush_interval_s)
        self.interval = progress_interval_s
        self.suffix = suffix
        self.stages = [f"GenerateTests{suffix}", f"RunTests{suffix}", f"Judge{suffix}"]

    def _on_accelerator(self, stage: beam.PTransform) -> beam.PTransform:
        return stage.with_resource_hints(accelerator=self.accelerator) if self.accelerator else stage

    def expand(self, inputs):
        questions, pairs = inputs["questions"], inputs["pairs"]
        names, enabled, sfx = self.stages, self.verify.tests, self.suffix
        testable = questions | f"Testable{sfx}" >> beam.Filter(lambda q: question_route(q, enabled) == TESTS)
        tests = testable | names[0] >> self._on_accelerator(ChatStage(
            ChatFn(names[0], GenerateTestsSpec(self.tests_role), *self.cache, self.interval)))
        groups = ({"pairs": pairs | f"KeyPairs{sfx}" >> beam.Map(_keyed_pair),
                   "tests": tests[KEPT_TAG] | f"KeyTests{sfx}" >> beam.Map(_keyed_tests)}
                  | f"JoinCandidates{sfx}" >> beam.CoGroupByKey()
                  | f"CandidateGroups{sfx}" >> beam.Map(candidate_group))
        routed = groups | f"Route{sfx}" >> beam.Partition(
            lambda g, _n: 0 if g.tests is not None or not g.pairs or group_route(g, enabled) == TESTS else 1, 2)
        ran = routed[0] | names[1] >> RunTests(self.verify, self.interval, stage=names[1])
        judge_in = (routed[1], ran[TO_JUDGE_TAG]) | f"JudgeInputs{sfx}" >> beam.Flatten()
        judged = judge_in | names[2] >> self._on_accelerator(ChatStage(
            ChatFn(names[2], JudgeSpec(self.judge_role, self.verify), *self.cache, self.interval)))
        split = ((ran[KEPT_TAG], judged[KEPT_TAG]) | f"Selections{sfx}" >> beam.Flatten()
                 | f"SplitSelections{sfx}" >> beam.FlatMap(split_selection).with_outputs(PREFERENCE_TAG,
                                                                                          main="chosen"))
        return {"chosen": split["chosen"], "preference": split[PREFERENCE_TAG],
                "dropped_tests": tests[DROPPED_TAG], "dropped_run": ran[DROPPED_TAG],
                "dropped_judge": judged[DROPPED_TAG], "dead_tests": tests[DEAD_LETTER_TAG],
                "dead_run": ran[DEAD_LETTER_TAG], "dead_judge": judged[DEAD_LETTER_TAG]}
