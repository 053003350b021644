"""The synth graph against the fault-injecting server: every seed ends as pairs, a counted drop or a dead letter."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ledger.records import SEED_SCHEMA, Seed
from pipeline.config import load_config
from pipeline.funnel import accounting_problems, counters_from_result, funnel_from_counters, handoff_problems
from pipeline.llm_roles import with_endpoints, with_models
from pipeline.synth_job import build_synth
from tests.conftest import DATA, local_pipeline
from tests.fault_server import FaultServer

# seed title tag -> where the seed must end: ("pairs",), ("drop", stage, reason) or ("dead", stage, reason)
CASES = {
    "q=ok r=ok": ("pairs",),
    "q=429-once r=ok": ("pairs",),
    "q=500-once r=ok": ("pairs",),
    "q=503-once r=503-once": ("pairs",),
    "q=slow-once r=ok": ("pairs",),
    "q=reset-once r=reset-once": ("pairs",),
    "q=badjson-once r=ok": ("pairs",),
    "q=429-always r=ok": ("dead", "GenerateQuestions", "rate_limited"),
    "q=503-always r=ok": ("dead", "GenerateQuestions", "server_error"),
    "q=slow-always r=ok": ("dead", "GenerateQuestions", "timeout"),
    "q=reset-always r=ok": ("dead", "GenerateQuestions", "connection_error"),
    "q=badjson-always r=ok": ("dead", "GenerateQuestions", "bad_response"),
    "q=empty-always r=ok": ("drop", "GenerateQuestions", "empty_output"),
    "q=truncated-always r=ok": ("drop", "GenerateQuestions", "truncated"),
    "q=unparseable-always r=ok": ("drop", "GenerateQuestions", "unparseable_output"),
    "q=ok r=500-always": ("dead", "GenerateResponses", "server_error"),
    "q=ok r=slow-always": ("dead", "GenerateResponses", "timeout"),
    "q=ok r=empty-always": ("drop", "GenerateResponses", "empty_output"),
    "q=ok r=truncated-always": ("drop", "GenerateResponses", "truncated"),
}
N = 2  # responses per question


def write_seeds(path) -> dict[str, str]:
    """Real seed rows from tests/data, each given a fault tag in its title; returns seed id -> tag."""
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
    config = load_config(overrides={"synth.responses_per_question": N, "synth.max_seed_chars": 300,
                                    "synth.roles.question.max_retries": 1, "synth.roles.question.timeout_s": 0.5,
                                    "synth.roles.response.max_retries": 1, "synth.roles.response.timeout_s": 0.5,
                                    "synth.roles.question.max_in_flight": 8, "progress_interval_s": 1.0})
    config = with_models(with_endpoints(config, [server.url]))
    p = local_pipeline()
    graph = build_synth(p, f"{seeds}/*.parquet", config, str(out))
    result = p.run()
    result.wait_until_finish()
    return funnel_from_counters(counters_from_result(result), graph.stages), graph


@pytest.fixture(scope="module")
def first_and_second_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    tags = write_seeds(root / "seeds")
    with FaultServer(slow_s=1.5) as server:
        first = run_synth(server, root / "seeds", root / "out")
        requests_after_first = server.requests
        second = run_synth(server, root / "seeds", root / "out")
        requests_in_second = server.requests - requests_after_first
    return root / "out", tags, first, second, requests_in_second


def test_every_seed_ends_as_pairs_a_counted_drop_or_a_dead_letter(first_and_second_run):
    out, tags, (funnel, graph), _, _ = first_and_second_run
    pairs = pq.read_table(out / "data").to_pylist()
    dropped = pq.read_table(out / "dropped" / "synth").to_pylist()
    dead = pq.read_table(out / "dead_letter" / "synth").to_pylist()
    for seed_id, tag in tags.items():
        expected = CASES[tag]
        mine = [p for p in pairs if p["seed_id"] == seed_id]
        if expected == ("pairs",):
            assert sorted(p["sample_index"] for p in mine) == list(range(N)), tag
            continue
        kind, stage, reason = expected
        if kind == "dead":
            hits = [d for d in dead if d["seed_id"] == seed_id]
            assert [(d["stage"], d["reason"]) for d in hits] == [(stage, reason)] * len(hits) and hits, tag
            assert all(d["attempts"] == 2 and d["cache_key"] for d in hits), tag
        else:
            # a question drop carries the seed's request id; a response drop its question's (one reason per case)
            hits = [d for d in dropped if d["stage"] == stage and d["reason"] == reason
                    and (stage == "GenerateResponses" or d["id"].startswith(seed_id + "/"))]
            assert hits, tag
        if stage == "GenerateResponses":
            assert len(hits) == N and not mine, tag
    assert accounting_problems(funnel) == []
    assert handoff_problems(funnel, graph.handoffs) == []


def test_the_funnel_counts_each_reason(first_and_second_run):
    _, _, (funnel, _), _, _ = first_and_second_run
    stages = {s.stage: s for s in funnel}
    questions = stages["GenerateQuestions"]
    assert questions.total == len(CASES)
    assert questions.dropped == {"dead_letter_rate_limited": 1, "dead_letter_server_error": 1,
                                 "dead_letter_timeout": 1, "dead_letter_connection_error": 1,
                                 "dead_letter_bad_response": 1, "empty_output": 1, "truncated": 1,
                                 "unparseable_output": 1}
    responses = stages["GenerateResponses"]
    assert responses.total == questions.kept * N
    assert responses.dropped == {"dead_letter_server_error": N, "dead_letter_timeout": N, "empty_output": N,
                                 "truncated": N}
    assert responses.other["tokens_completion"] > 0 and questions.other["tokens_prompt"] > 0
    assert stages["WritePairs"].total == responses.kept


def test_pairs_carry_labels_versions_sampling_and_tokens(first_and_second_run):
    out, *_ = first_and_second_run
    pair = pq.read_table(out / "data").to_pylist()[0]
    assert pair["category"] == "software_engineering" and pair["subcategory"] == "algorithm_design"
    assert pair["question_prompt_version"] == "question-v2" and pair["response_prompt_version"] == "response-v2"
    assert pair["question_model"] == pair["response_model"] == "fault-model"
    assert pair["language"] in ("en", "zh") and pair["programming_language"] == "Python"
    assert pair["algorithmic"] is True and pair["difficulty"] == "medium"
    assert pair["response_temperature"] == 0.7 and pair["question_prompt_tokens"] == 10
    assert pair["response_completion_tokens"] > 0


def test_a_rerun_pays_only_for_what_failed(first_and_second_run):
    _, _, (first, _), (second, _), requests_in_second = first_and_second_run
    one, two = ({s.stage: s for s in f} for f in (first, second))
    for stage in ("GenerateQuestions", "GenerateResponses"):
        dead_before = sum(n for r, n in one[stage].dropped.items() if r.startswith("dead_letter_"))
        assert two[stage].other.get("requests", 0) == dead_before, stage
        assert two[stage].other["cache_hits"] == one[stage].total - dead_before, stage
        assert two[stage].kept == one[stage].kept and two[stage].dropped == one[stage].dropped, stage
    assert requests_in_second > 0  # the dead letters were asked for again (and fail again: their faults are fixed)


def test_requests_overlap_up_to_the_window():
    """K requests in flight per worker: a slow server sees many at once, not one at a time."""
    import apache_beam as beam

    from ledger.records import Seed
    from transforms.generate import GenerateQuestions

    rows = pq.read_table(DATA / "seeds" / "train-00000-of-00001.parquet").to_pylist()
    seeds = [Seed(**dict(rows[i % len(rows)], id=f"s{i}")) for i in range(24)]
    with FaultServer(delay_s=0.3) as server:
        config = with_models(with_endpoints(load_config(overrides={"synth.roles.question.max_in_flight": 8}),
                                            [server.url]))
        with local_pipeline() as p:
            _ = p | beam.Create(seeds) | GenerateQuestions(config.synth)
    assert server.requests == 24
    assert 4 <= server.max_running <= 8
