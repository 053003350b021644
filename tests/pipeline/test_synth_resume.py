"""A synth job killed with SIGKILL mid-run: the rerun asks again only for what was in flight, not for what finished.

A real `python -m pipeline synth` runs against a real OpenAI-compatible server (tests/fault_server.py) that answers
the first 30 of 45 response requests and then holds the rest. Once those 30 completions are durable (or after a
generous deadline), the job's whole process group is killed; the rerun must ask again only for the requests that
were in flight when it died.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ledger.records import SEED_SCHEMA, Seed
from tests.conftest import DATA, REPO
from tests.fault_server import FaultServer, completion

SEEDS = 45
ANSWERED_BEFORE_KILL = 30
WORKERS = 1
IN_FLIGHT = 2  # response requests in flight per worker
DURABLE_DEADLINE_S = 60.0  # how long the test waits for the first run to make its completions durable


class HoldingServer(FaultServer):
    """Answers every question and the first `answer_responses` response requests; holds the others until released.

    Each question is unique (words from a hash of its prompt), so question dedup keeps all of them.
    """

    def __init__(self, answer_responses: int):
        super().__init__()
        self.answer_responses = answer_responses
        self.release = threading.Event()
        self.asked: Counter = Counter()  # (kind, prompt) -> times asked
        self.served: Counter = Counter()  # kind -> replies sent
        self.answering = 0  # response requests let through so far (decided on arrival, so exactly the first N)

    def answer(self, handler, body: dict) -> None:
        prompt = body["messages"][-1]["content"]
        kind = "question" if "response_format" in body else "response"
        with self.lock:
            self.asked[kind, prompt] += 1
            hold = kind == "response" and not self.release.is_set() and self.answering >= self.answer_responses
            self.answering += kind == "response" and not hold
        if hold:
            self.release.wait()
            return handler._send(503, {"error": {"message": "held until the job was killed"}})
        if kind == "question":
            words = [hashlib.blake2b(f"{prompt}/{i}".encode(), digest_size=4).hexdigest() for i in range(12)]
            text = json.dumps({"question": "Write a function that handles " + " ".join(words),
                               "programming_language": "Python", "category": "language_and_concepts",
                               "subcategory": "algorithm_design", "difficulty": "medium", "algorithmic": True,
                               "testable": True})
        else:
            time.sleep(0.02)  # spread the completions a little, as a real server does
            text = "```python\ndef f(xs):\n    return xs[::-1]\n```"
        handler._send(200, completion(body, text, "stop"))
        with self.lock:
            self.served[kind] += 1

    def asked_for(self, kind: str) -> Counter:
        return Counter({p: n for (k, p), n in self.asked.items() if k == kind})


def write_seeds(path: Path) -> None:
    rows = pq.read_table(DATA / "seeds" / "train-00000-of-00001.parquet").to_pylist()
    seeds = [dict({**Seed._field_defaults, **rows[i % len(rows)]}, id=f"seed-{i:02d}", title=f"Page number {i}")
             for i in range(SEEDS)]
    path.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(seeds, schema=SEED_SCHEMA), path / "train-00000-of-00001.parquet")


def synth_command(server: FaultServer, seeds: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "pipeline", "synth", "--seeds", str(seeds), "--output", str(out),
            "--llm_endpoint", server.url, f"--direct_num_workers={WORKERS}", "--progress_interval_s", "1",
            "--set", "synth.max_seed_chars=300", "--set", "synth.cache_flush_interval_s=0.2",
            "--set", f"synth.roles.response.max_in_flight={IN_FLIGHT}"]


def job_env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{path}" if path else str(REPO))


def durable_responses(out: Path) -> int:
    """Complete lines in the response cache (what a rerun can reuse)."""
    lines = 0
    for part in (out / "cache" / "response").glob("*.jsonl"):
        lines += part.read_bytes().count(b"\n")
    return lines


def test_a_killed_run_loses_only_what_was_in_flight(tmp_path):
    write_seeds(tmp_path / "seeds")
    out = tmp_path / "out"
    with HoldingServer(answer_responses=ANSWERED_BEFORE_KILL) as server:
        cmd = synth_command(server, tmp_path / "seeds", out)
        first = subprocess.Popen(cmd, cwd=REPO, env=job_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 start_new_session=True)  # its own process group: the kill takes its workers too
        try:
            deadline = time.monotonic() + 300
            while server.served["response"] < ANSWERED_BEFORE_KILL:
                assert first.poll() is None, first.stdout.read().decode()[-3000:]
                assert time.monotonic() < deadline, "the first run never reached its responses"
                time.sleep(0.05)
            durable_by = time.monotonic() + DURABLE_DEADLINE_S
            while durable_responses(out) < ANSWERED_BEFORE_KILL and time.monotonic() < durable_by:
                time.sleep(0.05)
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
        in_flight = server.asked_for("response").total() - server.served["response"]
        first_questions = server.asked_for("question")
        first_responses = server.asked_for("response")
        server.release.set()
        second = subprocess.run(cmd, cwd=REPO, env=job_env(), capture_output=True, text=True, timeout=300)
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-5000:]
        rerun_questions = server.asked_for("question") - first_questions
        rerun_responses = server.asked_for("response") - first_responses
    repeated = sum(1 for prompt in rerun_responses if prompt in first_responses)
    print(f"killed after {ANSWERED_BEFORE_KILL} of {SEEDS} responses with {in_flight} in flight; the rerun asked "
          f"{rerun_responses.total()} responses, {repeated} of them again, and {rerun_questions.total()} questions")
    assert 0 < in_flight <= WORKERS * IN_FLIGHT
    assert rerun_questions.total() == 0  # every question finished before the kill and is reused
    assert repeated <= in_flight, f"the rerun asked again for {repeated} responses the killed run had finished"
    assert rerun_responses.total() == SEEDS - ANSWERED_BEFORE_KILL  # the held ones and those never sent
    assert pq.read_table(out / "data").num_rows == SEEDS
