"""RunTests on the FnApiRunner with the real sandbox, in the worker and through `sandbox-serve`: the passers are
selected, suspect tests and missing code go to the judge, every group is counted once."""

from __future__ import annotations

import threading

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that

from ledger.records import GeneratedTests
from pipeline.funnel import accounting_problems, counters_from_result, funnel_from_counters
from tests.conftest import local_pipeline
from tests.transforms.test_verify_decisions import pair
from transforms.stage import DROPPED_TAG, KEPT_TAG
from transforms.verify import TO_JUDGE_TAG, CandidateGroup, RunTests
from transforms.verify_settings import SandboxConfig, VerifyConfig

GOOD = "```python\ndef reverse(xs):\n    return xs[::-1]\n```"
BAD = "```python\ndef reverse(xs):\n    return list(xs)\n```"


def generated_tests(question_id: str, expected: str = "[3, 2, 1]") -> GeneratedTests:
    return GeneratedTests(question_id, "s1", "https://example.com/", "python", "reverse",
                          f"assert reverse([1, 2, 3]) == {expected}\n", "m", "tests-v2", 1, 1)


def groups() -> list[CandidateGroup]:
    def candidates(qid, *responses):
        return [pair(i, r, question_id=qid)._replace(id=f"{qid}-{i}") for i, r in enumerate(responses)]
    return [CandidateGroup("mixed", candidates("mixed", BAD, GOOD, GOOD), generated_tests("mixed")),
            CandidateGroup("suspect", candidates("suspect", GOOD, GOOD), generated_tests("suspect", "[0]")),
            CandidateGroup("nocode", candidates("nocode", "just reverse it", "no"), generated_tests("nocode")),
            CandidateGroup("notests", candidates("notests", GOOD)),
            CandidateGroup("gone", [], generated_tests("gone"))]


def run(verify: VerifyConfig):
    p = local_pipeline()
    out = p | beam.Create(groups()) | RunTests(verify, progress_interval_s=1)

    def selected(rows):
        assert [(s.chosen.question_id, s.chosen.id, s.chosen.verification_pass_rate) for s in rows] == [
            ("mixed", "mixed-1", 2 / 3)]
        assert [(pp.chosen_id, pp.rejected_id) for pp in rows[0].preference] == [("mixed-1", "mixed-0")]

    def handed(rows):
        assert sorted((g.question_id, g.fallback) for g in rows) == [
            ("nocode", "no_code"), ("notests", "no_tests"), ("suspect", "suspect_tests")]

    assert_that(out[KEPT_TAG], selected, label="Selected")
    assert_that(out[TO_JUDGE_TAG], handed, label="Handed")
    assert_that(out[DROPPED_TAG] | beam.Map(lambda d: (d.id, d.reason)), lambda rows: rows == [
        ("gone", "no_responses")] or pytest.fail(str(rows)), label="Dropped")
    result = p.run()
    result.wait_until_finish()
    funnel = funnel_from_counters(counters_from_result(result), ["RunTests"])
    assert accounting_problems(funnel) == []
    (stage,) = funnel
    assert stage.total == 5 and stage.kept == 1
    assert stage.other["runs_passed"] == 2 and stage.other["runs_failed"] == 3 and stage.other["runs_no_code"] == 2
    assert stage.other["suspect_tests"] == 1


def test_run_tests_in_the_worker():
    run(VerifyConfig(enabled=True))


def test_run_tests_through_sandbox_serve(monkeypatch):
    from sandbox import Sandbox, SandboxSettings
    from sandbox.remote import SandboxServer

    box = Sandbox(SandboxSettings(parallelism=2))
    server = SandboxServer(("127.0.0.1", 0), box, token="t0ken")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SYNCODE_TEST_SANDBOX_TOKEN", "t0ken")
    try:
        run(VerifyConfig(enabled=True, sandbox=SandboxConfig(url=server.url, token_env="SYNCODE_TEST_SANDBOX_TOKEN")))
    finally:
        server.shutdown()
        server.server_close()
        box.close()
