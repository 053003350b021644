"""The synth graph with verification on, against the fault server and the real sandbox: every question ends as one
chosen row, a counted drop or a dead letter; tests decide where they can, the judge where they cannot."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ledger.records import PAIR_SCHEMA, PREFERENCE_SCHEMA, SEED_SCHEMA, Seed
from pipeline.config import load_config
from pipeline.funnel import accounting_problems, counters_from_result, funnel_from_counters, handoff_problems
from pipeline.llm_roles import used_roles, with_endpoints, with_models
from pipeline.synth_job import build_synth
from tests.conftest import DATA, local_pipeline
from tests.fault_server import FaultServer

# seed title tag -> where its question must end: (method, preference pairs) for a chosen row, or (kind, stage, reason)
CASES = {
    "q=ok r=ok t=ok j=ok": ("tests", 0),  # both pass: no failure to prefer against
    "q=ok r=mixed t=ok j=ok": ("tests", 1),  # one passes, one fails
    "q=ok r=ok t=wrong j=ok": ("judge", 1),  # no response passes: suspect tests, the judge decides
    "q=ok r=nocode t=ok j=ok": ("judge", 1),  # no response has code: the judge decides
    "q=ok r=ok t=500-always j=ok": ("judge", 1),  # the tests are a dead letter: the judge decides
    "q=ok r=ok t=none j=ok": ("judge", 1),  # not testable
    "q=ok r=ok t=none j=tie": ("judge", 0),
    "q=ok r=ok t=none j=malformed-always": ("drop", "Judge", "malformed_verdict"),
    "q=ok r=ok t=none j=inconsistent-always": ("drop", "Judge", "inconsistent_verdict"),
    "q=ok r=ok t=none j=unparseable-always": ("drop", "Judge", "unparseable_verdict"),
    "q=ok r=ok t=none j=500-always": ("dead", "Judge", "server_error"),
    "q=ok r=500-always t=ok j=ok": ("drop", "RunTests", "no_responses"),
}
N = 2


def write_seeds(path) -> dict[str, str]:
    rows = pq.read_table(DATA / "seeds" / "train-00000-of-00001.parquet").to_pylist()
    out, tags = [], {}
    for i, tag in enumerate(CASES):
        row = dict({**Seed._field_defaults, **rows[i % len(rows)]}, id=f"seed-{i:02d}", title=f"Page [[{tag}]]")
        out.append(row)
        tags[row["id"]] = tag
    path.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(out, schema=SEED_SCHEMA), path / "train-00000-of-00001.parquet")
    return tags


def run_synth(server: FaultServer, seeds, out):
    overrides = {"synth.verify.enabled": True, "synth.verify.n": N, "synth.max_seed_chars": 300,
                 "progress_interval_s": 1.0, "dedup.near.enabled": False, "dedup.exact": False}
    for role in ("question", "response", "tests", "judge"):
        overrides |= {f"synth.roles.{role}.max_retries": 1, f"synth.roles.{role}.timeout_s": 2.0}
    config = load_config(overrides=overrides)
    config = with_models(with_endpoints(config, [server.url]), used_roles(config))
    p = local_pipeline()
    graph = build_synth(p, f"{seeds}/*.parquet", config, str(out))
    result = p.run()
    result.wait_until_finish()
    return funnel_from_counters(counters_from_result(result), graph.stages), graph


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("verify")
    tags = write_seeds(root / "seeds")
    with FaultServer() as server:
        first = run_synth(server, root / "seeds", root / "out")
        before = server.requests
        second = run_synth(server, root / "seeds", root / "out")
        again = server.requests - before
    return root / "out", tags, first, second, again


def test_every_question_ends_as_one_chosen_row_a_counted_drop_or_a_dead_letter(runs):
    out, tags, (funnel, graph), _, _ = runs
    rows = pq.read_table(out / "data").to_pylist()
    preference = pq.read_table(out / "preference").to_pylist()
    dropped = pq.read_table(out / "dropped" / "synth").to_pylist()
    dead = pq.read_table(out / "dead_letter" / "synth").to_pylist()
    for seed_id, tag in tags.items():
        expected = CASES[tag]
        mine = [r for r in rows if r["seed_id"] == seed_id]
        if expected[0] in ("tests", "judge"):
            method, n_pref = expected
            assert len(mine) == 1, tag
            row = mine[0]
            assert row["verification_method"] == method and row["verification_candidates"] == N, tag
            assert row["messages"] == [{"role": "user", "content": row["instruction"]},
                                       {"role": "assistant", "content": row["response"]}], tag
            assert len([p for p in preference if p["seed_id"] == seed_id]) == n_pref, tag
            if method == "tests":
                assert row["verification_passed"] is True and row["verification_sandbox"], tag
                assert "return xs[::-1]" in row["response"], tag
            else:
                assert row["verification_score"] == 7.0 and row["verification_reason"], tag
                assert sorted(row["verification_order"].split(",")) == ["0", "1"], tag
            continue
        assert not mine, tag
        kind, stage, reason = expected
        if kind == "dead":
            assert [(d["stage"], d["reason"]) for d in dead if d["seed_id"] == seed_id] == [(stage, reason)], tag
        else:
            assert [d for d in dropped if d["stage"] == stage and d["reason"] == reason], tag
    assert accounting_problems(funnel) == []
    assert handoff_problems(funnel, graph.handoffs) == []


def test_the_stages_count_each_path(runs):
    _, _, (funnel, _), _, _ = runs
    stages = {s.stage: s for s in funnel}
    tests, run, judge = stages["GenerateTests"], stages["RunTests"], stages["Judge"]
    assert tests.total == 6 and tests.dropped == {"dead_letter_server_error": 1}
    assert run.total == 6 and run.kept == 2
    assert run.dropped == {"to_judge_suspect_tests": 1, "to_judge_no_code": 1, "to_judge_no_tests": 1,
                           "no_responses": 1}
    assert run.other["suspect_tests"] == 1 and run.other["runs_passed"] == 3
    assert judge.total == 3 + 6  # the fallbacks and the untestable questions
    assert judge.dropped == {"malformed_verdict": 1, "inconsistent_verdict": 1, "unparseable_verdict": 1,
                             "dead_letter_server_error": 1}
    assert judge.other["ties"] == 1 and judge.other["fallback_suspect_tests"] == 1
    assert stages["WritePairs"].total == run.kept + judge.kept
    assert stages["WritePreference"].total == 5


def test_outputs_match_their_schemas_and_the_suspect_row_keeps_what_the_tests_measured(runs):
    out, tags, *_ = runs
    assert pq.read_table(out / "data").schema.remove_metadata() == PAIR_SCHEMA
    assert pq.read_table(out / "preference").schema.remove_metadata() == PREFERENCE_SCHEMA
    suspect = next(s for s, t in tags.items() if "t=wrong" in t)
    row = next(r for r in pq.read_table(out / "data").to_pylist() if r["seed_id"] == suspect)
    assert row["verification_pass_rate"] == 0.0 and row["verification_sandbox"]
    pref = next(p for p in pq.read_table(out / "preference").to_pylist() if p["seed_id"] == suspect)
    assert (pref["chosen_score"], pref["rejected_score"], pref["method"]) == (7.0, 4.0, "judge")
    assert pref["chosen"] != "" and pref["reason"] == "Answer 1 is correct and clear."


def test_a_rerun_asks_only_for_the_dead_letters(runs):
    _, _, (first, _), (second, _), again = runs
    one, two = ({s.stage: s for s in f} for f in (first, second))
    for stage in ("GenerateTests", "Judge"):
        dead = sum(n for r, n in one[stage].dropped.items() if r.startswith("dead_letter_"))
        assert two[stage].other.get("requests", 0) == dead, stage
        assert two[stage].kept == one[stage].kept and two[stage].dropped == one[stage].dropped, stage
    assert again > 0


def test_trainers_read_the_preference_split_and_the_messages_as_they_are(runs):
    import datasets

    out = runs[0]
    preference = datasets.load_dataset("parquet", data_dir=str(out / "preference"), cache_dir=str(out / "hf"))
    row = preference["train"][0]
    assert row["prompt"] and row["chosen"] and row["rejected"] and row["chosen_score"] > row["rejected_score"]
    data = datasets.load_dataset("parquet", data_dir=str(out / "data"), cache_dir=str(out / "hf"))
    assert [m["role"] for m in data["train"][0]["messages"]] == ["user", "assistant"]


def test_each_tier_verifies_in_stages_of_its_own_and_writes_its_own_preference_split(tmp_path):
    config = load_config(overrides={"synth.verify.enabled": True, "synth.tiers": [{"name": "hq", "share": 0.5}]})
    graph = build_synth(local_pipeline(), f"{DATA}/seeds/*.parquet", config, str(tmp_path))
    for sfx in ("", "-hq"):
        names = [f"GenerateResponses{sfx}", f"GenerateTests{sfx}", f"RunTests{sfx}", f"Judge{sfx}",
                 f"WritePairs{sfx}", f"WritePreference{sfx}"]
        assert [s for s in graph.stages if s in names] == names
    assert graph.outputs["preference"] == graph.outputs["preference.hq"] == f"{tmp_path}/preference"
    assert graph.prefixes["preference"] == "train" and graph.prefixes["preference.hq"] == "hq"
