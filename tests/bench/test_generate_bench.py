"""bench/generate.py runs as bench/README.md says, and its simulated vLLM (bench/sim_server.py) behaves like one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.sim_answers import Answerer
from bench.sim_server import Engine, GpuModel, Sequence
from prompts.render import load_prompt, load_taxonomy
from tests.conftest import REPO
from transforms.generate import question_fields


def run_engine(engine: Engine) -> tuple[float, float, int]:
    """Steps until idle: (seconds, work in full-GPU seconds, most sequences running at once)."""
    seconds = work = 0.0
    most = 0
    while (step := engine.step()) is not None:
        seconds += step.duration
        work += step.work
        most = max(most, len(engine.running) + len(step.finished))
    return seconds, work, most


def test_one_sequence_decodes_at_stream_speed_and_a_full_batch_at_capacity():
    gpu = GpuModel()
    assert 1 / gpu.step_time(1, 0) == pytest.approx(gpu.stream_speed)
    assert gpu.max_num_seqs / gpu.step_time(gpu.max_num_seqs, 0) == pytest.approx(gpu.capacity)
    assert gpu.step_work(gpu.max_num_seqs, 0) == pytest.approx(gpu.step_time(gpu.max_num_seqs, 0))


def test_prompt_tokens_cost_prefill_time():
    gpu = GpuModel()
    short, long = Engine(gpu), Engine(gpu)
    short.add(Sequence(prompt_tokens=1, output_tokens=10))
    long.add(Sequence(prompt_tokens=20_000, output_tokens=10))
    short_s, _, _ = run_engine(short)
    long_s, _, _ = run_engine(long)
    assert long_s - short_s == pytest.approx(20_000 / gpu.prefill_speed, rel=0.05)


def test_the_kv_cache_limits_how_many_run_and_the_rest_queue_then_all_finish():
    gpu = GpuModel(kv_cache_tokens=16_000)  # room for about 15 sequences of 1,000 prompt tokens
    engine = Engine(gpu)
    seqs = [Sequence(prompt_tokens=1_000, output_tokens=50) for _ in range(100)]
    for seq in seqs:
        engine.add(seq)
    engine.step()
    assert 0 < len(engine.running) <= 16 and len(engine.waiting) == 100 - len(engine.running)
    _, _, most = run_engine(engine)
    assert most <= 16
    assert all(s.generated == 50 for s in seqs) and engine.free_blocks == engine.total_blocks


def test_outgrowing_the_kv_cache_preempts_the_newest_and_recomputes_it():
    engine = Engine(GpuModel(kv_cache_tokens=4_000))
    seqs = [Sequence(prompt_tokens=500, output_tokens=1_000) for _ in range(4)]
    for seq in seqs:
        engine.add(seq)
    run_engine(engine)
    assert engine.preemptions > 0
    assert all(s.generated == 1_000 for s in seqs) and engine.free_blocks == engine.total_blocks


def test_the_engine_waits_for_max_num_seqs_and_a_full_batch_uses_the_gpu():
    engine = Engine(GpuModel(max_num_seqs=8, capacity=900, stream_speed=125))
    for _ in range(24):
        engine.add(Sequence(prompt_tokens=1, output_tokens=100))
    seconds, work, most = run_engine(engine)
    assert most == 8
    assert 0.95 < work / seconds <= 1.0


def test_answers_vary_per_request_and_per_sample_and_fit_the_question_schema():
    prompt, taxonomy = load_prompt("question", "v2"), load_taxonomy()
    schema = prompt.response_format()["json_schema"]["schema"]
    answerer = Answerer(median=200, sigma=1.0)
    questions = []
    for request in range(20):
        for sample in (1, 2):
            rng = answerer.rng(f"request {request}", sample)
            text = answerer.json_answer(rng, schema, ["page", "words", "here"], answerer.length(rng, 768))
            fields = question_fields(text, prompt, taxonomy)
            assert isinstance(fields, dict), fields
            questions.append(fields["question"])
    assert len(set(questions)) == len(questions)
    first = answerer.rng("same", 1)
    assert answerer.words(first, [], 50) == answerer.words(answerer.rng("same", 1), [], 50)


def test_smoke_run_as_documented_measures_ours_and_the_beam_peer(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), TMPDIR=str(tmp_path))
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "generate.py"), "--smoke"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    last = proc.stdout.splitlines()[-1]
    assert last.startswith("RESULT ")
    result = dict(kv.split("=") for kv in last.split()[1:])
    assert result["ours_finished"] == "1" and result["beam_handler_batch64_finished"] == "1"
    assert 0 < float(result["fraction_of_capacity"]) <= 1 and 0 < float(result["beam_handler_batch64_fraction"]) <= 1
    kept = int(result["questions_kept_after_dedup"])
    assert kept >= 12, proc.stdout  # of 24 seeds: varied answers survive dedup (a fixed filler kept 1)
    assert int(result["pairs"]) == kept  # one response each in smoke mode
