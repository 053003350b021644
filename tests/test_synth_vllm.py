"""The synth job end to end against a REAL vLLM server (the CPU build) with a tiny random Qwen2 made here.

run_tests.sh prepares the vLLM virtualenv (.vllm-venv, or $SYNCODE_VLLM_VENV). Without it these tests skip, except
in CI (CI=true), where a missing venv is a failure. Guided JSON decoding makes even random weights answer the
question schema, so the whole path runs: --serve_model starts vLLM, waits, synth writes pairs, vLLM is stopped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ledger.records import PAIR_SCHEMA
from prompts.render import load_taxonomy
from tests.conftest import DATA, REPO

pytestmark = pytest.mark.vllm


def vllm_python() -> str:
    venv = Path(os.environ.get("SYNCODE_VLLM_VENV") or REPO / ".vllm-venv")
    python = venv / "bin" / "python"
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('vllm') is None)"
    if python.exists() and subprocess.run([str(python), "-c", probe], timeout=60).returncode == 0:
        return str(python)
    message = (f"no vLLM virtualenv at {venv} (run ./run_tests.sh, which creates it, or set SYNCODE_VLLM_VENV)")
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> tuple[str, str]:
    python = vllm_python()
    model = tmp_path_factory.mktemp("tiny-qwen2")
    proc = subprocess.run([python, str(REPO / "tests" / "make_tiny_model.py"), str(model)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return python, str(model)


@pytest.fixture(scope="module")
def synth_run(tiny_model, tmp_path_factory):
    python, model = tiny_model
    out = tmp_path_factory.mktemp("synth-vllm")
    cmd = [sys.executable, "-m", "pipeline", "synth", "--seeds", str(DATA / "seeds"), "--output", str(out),
           "--serve_model", model, "--vllm_python", python, "--vllm_args", "--max-model-len 2048",
           "--serve_timeout_s", "300", "--progress_interval_s", "5",
           "--set", "synth.responses_per_question=2", "--set", "synth.max_seed_chars=400",
           "--set", "synth.roles.question.max_tokens=400", "--set", "synth.roles.response.max_tokens=256",
           # a second tier on half the seeds: its own split, its own stages (the same server stands in for a
           # stronger model here)
           "--set", "synth.tiers=[{name: hq, share: 0.5, roles: {question: {max_tokens: 400}, "
                    "response: {max_tokens: 256}}}]"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return out, model, proc


def test_pairs_come_from_the_real_server_with_labels_from_the_taxonomy(synth_run):
    out, model, _ = synth_run
    table = pq.read_table(out / "data")
    assert table.schema.remove_metadata() == PAIR_SCHEMA
    pairs = table.to_pylist()
    assert pairs, "no pair survived"
    subcategories = load_taxonomy().subcategories
    for pair in pairs:
        assert pair["question_model"] == pair["response_model"] == model
        assert subcategories[pair["subcategory"]] == pair["category"]
        assert pair["difficulty"] in ("easy", "medium", "hard")
        assert pair["question_prompt_version"] == "question-v2"
        assert pair["response_completion_tokens"] > 0 and pair["question_prompt_tokens"] > 0


def test_every_request_is_accounted_for_and_nothing_is_dead(synth_run):
    out, _, proc = synth_run
    manifest = json.loads((out / "manifest.json").read_text())
    synth = manifest["jobs"]["synth"]
    assert synth["accounting_problems"] == []
    stages = {s["stage"]: s for s in synth["funnel"]}
    seeds = pq.read_metadata(DATA / "seeds" / "train-00000-of-00001.parquet").num_rows
    assert stages["GenerateQuestions"]["in"] + stages["GenerateQuestions-hq"]["in"] == seeds
    questions_kept = stages["GenerateQuestions"]["kept"] + stages["GenerateQuestions-hq"]["kept"]
    assert stages["Decontaminate"]["in"] == questions_kept  # questions are deduplicated before responses
    responses_in = stages["GenerateResponses"]["in"] + stages["GenerateResponses-hq"]["in"]
    assert responses_in == 2 * stages["MinHashDedup"]["kept"]
    for sfx in ("", "-hq"):
        questions, responses = stages[f"GenerateQuestions{sfx}"], stages[f"GenerateResponses{sfx}"]
        assert questions["in"] > 0
        assert not [r for r in {**questions["dropped"], **responses["dropped"]} if r.startswith("dead_letter")]
        assert stages[f"WritePairs{sfx}"]["in"] == responses["kept"]
    assert stages["GenerateQuestions"]["counters"]["tokens_completion"] > 0
    assert pq.read_table(out / "dead_letter" / "synth").num_rows == 0
    assert list((out / "cache" / "question").glob("*.jsonl"))
    assert "GenerateResponses" in proc.stdout  # the funnel was printed


def test_the_server_is_stopped_at_the_end(synth_run):
    _, model, _ = synth_run
    running = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert not [line for line in running.splitlines() if "vllm.entrypoints" in line and model in line]


def test_tiers_are_splits_of_their_own(synth_run):
    out, _, _ = synth_run
    train = pq.read_table([str(p) for p in sorted((out / "data").glob("train-*.parquet"))])
    hq = pq.read_table([str(p) for p in sorted((out / "data").glob("hq-*.parquet"))])
    assert set(train.column("tier").to_pylist()) <= {"standard"} and set(hq.column("tier").to_pylist()) == {"hq"}
    assert not set(train.column("seed_id").to_pylist()) & set(hq.column("seed_id").to_pylist())
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"data", "data.hq"} <= set(manifest["shards"])
    assert manifest["jobs"]["synth"]["generation"]["hq"]["roles"]["question"]["prompt_version"] == "question-v2"
    card = (out / "README.md").read_text()
    assert "split: hq" in card and "path: data/hq-*.parquet" in card


def test_pairs_carry_source_and_verification_columns(synth_run):
    out, _, _ = synth_run
    row = pq.read_table(out / "data").to_pylist()[0]
    seeds = {r["id"]: r for r in pq.read_table(DATA / "seeds" / "train-00000-of-00001.parquet").to_pylist()}
    seed = seeds[row["seed_id"]]
    assert (row["url"], row["domain"], row["record_id"], row["warc_file"]) == (
        seed["url"], seed["domain"], seed["record_id"], seed["warc_file"])
    assert row["verification_method"] == "none" and row["verification_passed"] is None


def test_trainer_readers_and_verify_accept_the_pairs(synth_run):
    import datasets
    import duckdb
    import polars as pl

    from pipeline.verify_output import verify_output

    out, _, _ = synth_run
    rows = pq.read_table(out / "data").num_rows
    assert duckdb.sql(f"select count(*) from read_parquet('{out}/data/*.parquet')").fetchall()[0][0] == rows
    assert pl.scan_parquet(f"{out}/data/*.parquet").select(pl.len()).collect().item() == rows
    hf = datasets.load_dataset(str(out), cache_dir=str(out.parent / "hf-cache"))  # splits from the card
    assert sum(split.num_rows for split in hf.values()) == rows and set(hf) == {"train", "hq"}
    assert verify_output(str(out)) == []


def test_the_console_gets_our_lines_not_one_per_request(synth_run):
    """By default no per-request httpx line (millions at scale) and no Beam harness line reaches the console."""
    _, _, proc = synth_run
    assert "HTTP Request:" not in proc.stderr
    assert "sdk_worker" not in proc.stderr and "apitools" not in proc.stderr


@pytest.fixture(scope="module")
def verify_run(tiny_model, tmp_path_factory):
    """synth --verify against the same real server: N=2 candidates, tests or a judge, preference pairs."""
    python, model = tiny_model
    out = tmp_path_factory.mktemp("synth-vllm-verify")
    cmd = [sys.executable, "-m", "pipeline", "synth", "--seeds", str(DATA / "seeds"), "--output", str(out),
           "--serve_model", model, "--vllm_python", python, "--vllm_args", "--max-model-len 2048",
           "--serve_timeout_s", "300", "--progress_interval_s", "5", "--verify",
           "--set", "synth.verify.n=2", "--set", "synth.max_seed_chars=400",
           "--set", "synth.roles.question.max_tokens=400", "--set", "synth.roles.response.max_tokens=128",
           "--set", "synth.roles.tests.max_tokens=400", "--set", "synth.roles.judge.max_tokens=400"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return out, model, proc


def test_verification_judges_with_verdicts_that_parse_and_writes_chosen_rows(verify_run):
    """Guided JSON makes even random weights answer the verdict schema: no verdict fails to parse."""
    from ledger.records import PREFERENCE_SCHEMA
    from pipeline.verify_output import verify_output

    out, model, proc = verify_run
    manifest = json.loads((out / "manifest.json").read_text())
    synth = manifest["jobs"]["synth"]
    assert synth["accounting_problems"] == []
    stages = {s["stage"]: s for s in synth["funnel"]}
    judge = stages["Judge"]
    run = stages.get("RunTests", {"in": 0, "kept": 0})  # random weights rarely name a sandbox language: no tests
    assert judge["in"] > 0 and judge["counters"]["tokens_completion"] > 0
    assert not {"unparseable_verdict", "malformed_verdict"} & set(judge["dropped"]), judge["dropped"]
    assert not [r for r in judge["dropped"] if r.startswith("dead_letter")]
    assert stages["WritePairs"]["in"] == run["kept"] + judge["kept"]
    rows = pq.read_table(out / "data").to_pylist()
    assert len(rows) == judge["kept"] + run["kept"] and rows, "no question survived verification"
    assert len({r["question_id"] for r in rows}) == len(rows)  # one row per question
    for row in rows:
        assert row["verification_method"] in ("tests", "judge")
        assert row["messages"][-1] == {"role": "assistant", "content": row["response"]}
        if row["verification_method"] == "judge":
            assert 1 <= row["verification_score"] <= 10 and row["verification_reason"]
            assert len(row["verification_order"].split(",")) == row["verification_candidates"]
    assert pq.read_table(out / "preference").schema.remove_metadata() == PREFERENCE_SCHEMA
    assert manifest["jobs"]["synth"]["generation"]["standard"]["roles"]["judge"]["prompt_version"] == "judge-v2"
    assert list((out / "cache" / "judge").glob("*.jsonl"))
    assert verify_output(str(out)) == []
    import datasets

    card = (out / "README.md").read_text()
    assert "config_name: preference" in card and "path: preference/train-*.parquet" in card
    pairs = pq.read_table(out / "preference").num_rows
    if pairs:  # `datasets` cannot load a config whose shards hold no rows
        preference = datasets.load_dataset(str(out), "preference", cache_dir=str(out.parent / "hf-cache-pref"))
        assert preference["train"].num_rows == pairs
        assert {"prompt", "chosen", "rejected", "chosen_score", "rejected_score", "reason"} <= set(
            preference["train"].column_names)
    else:  # greedy random weights often score candidates alike: a tie, or a lone candidate, makes no pair
        contested = [r for r in rows if r["verification_method"] == "judge" and r["verification_candidates"] > 1]
        assert judge["counters"].get("ties", 0) == len(contested)


def one_verified_row_per_question(n: int):
    """An assert_that matcher: each question once, verified, with its n candidates counted."""
    def check(rows):
        assert len({r.question_id for r in rows}) == len(rows)
        for row in rows:
            assert row.verification_method in ("tests", "judge") and row.verification_candidates == n, row
            if row.verification_method == "judge" and row.verification_sandbox:  # suspect tests: kept on the row
                assert row.verification_pass_rate == 0.0, row
    return check


def test_generated_tests_run_in_the_sandbox_and_what_they_cannot_decide_goes_to_the_judge(tiny_model):
    """GenerateTests, RunTests and Judge against the real server and the real sandbox, on algorithmic Python
    questions: random weights write tests no answer passes, so they are suspect and the judge decides instead."""
    import apache_beam as beam
    from apache_beam.testing.util import assert_that

    from ledger.records import Pair, Question, chat_messages
    from pipeline.funnel import accounting_problems, counters_from_result, funnel_from_counters
    from pipeline.vllm_server import VLLMServer
    from tests.conftest import local_pipeline
    from transforms.llm_client import LLMRoleConfig
    from transforms.verify import Verify
    from transforms.verify_settings import VerifyConfig

    python, model = tiny_model
    instruction = "Write a Python function reverse(xs) that returns the list xs reversed."
    questions = [Question(id=f"q{i}", seed_id=f"s{i}", url="https://example.com/", domain="example.com",
                          warc_file="w", record_id="r", warc_date="d", crawl_id="c", instruction=instruction,
                          language="en", programming_language="Python", category="software_engineering",
                          subcategory="algorithm_design", difficulty="easy", algorithmic=True, testable=True,
                          model=model, prompt_version="question-v2", taxonomy_version="v1", temperature=0.7,
                          top_p=0.95, prompt_tokens=1, completion_tokens=1) for i in range(2)]
    response = "```python\ndef reverse(xs):\n    return xs[::-1]\n```"
    pairs = [Pair(id=f"{q.id}-{s}", seed_id=q.seed_id, question_id=q.id, url=q.url, domain=q.domain, warc_file="w",
                  record_id="r", warc_date="d", crawl_id="c", instruction=instruction, response=response,
                  language="en", programming_language="Python", category=q.category, subcategory=q.subcategory,
                  difficulty="easy", algorithmic=True, testable=True, sample_index=s, question_model=model,
                  response_model=model, question_prompt_version="question-v2", response_prompt_version="response-v2",
                  taxonomy_version="v1", question_temperature=0.7, question_top_p=0.95, response_temperature=0.7,
                  response_top_p=0.95, question_prompt_tokens=1, question_completion_tokens=1,
                  response_prompt_tokens=1, response_completion_tokens=1,
                  messages=chat_messages(instruction, response)) for q in questions for s in range(2)]
    with VLLMServer(model, python, "--max-model-len 2048", ready_timeout_s=300) as url:
        tests_role = LLMRoleConfig(model=model, endpoints=(url,), prompt_version="v2", temperature=0.2,
                                   max_tokens=1400)
        judge_role = LLMRoleConfig(model=model, endpoints=(url,), prompt_version="v2", temperature=0.0,
                                   max_tokens=400)
        p = local_pipeline()
        out = ({"questions": p | "Questions" >> beam.Create(questions), "pairs": p | "Pairs" >> beam.Create(pairs)}
               | Verify(VerifyConfig(enabled=True, n=2), tests_role, judge_role, None, progress_interval_s=5))
        assert_that(out["chosen"], one_verified_row_per_question(2))
        result = p.run()
        result.wait_until_finish()
    funnel = funnel_from_counters(counters_from_result(result), ["GenerateTests", "RunTests", "Judge"])
    assert accounting_problems(funnel) == []
    stages = {s.stage: s for s in funnel}
    tests, run = stages["GenerateTests"], stages["RunTests"]
    assert tests.total == 2 and not [r for r in tests.dropped if r.startswith("dead_letter")]
    assert run.total == 2 and sum(n for k, n in run.other.items() if k.startswith("runs_")) == 2 * tests.kept
    handed = sum(n for reason, n in run.dropped.items() if reason.startswith("to_judge_"))
    assert stages["Judge"].total == handed if handed else "Judge" not in stages
