"""HumanEval and MBPP from ../shared/data/benchmarks: canonical solutions pass, mutated ones fail.

The mutation wraps the entry point so that every answer is off (a flipped bool, n + 1, a string with a character
more, a list with an element more): the tests must notice. Skips when the shared data is absent.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path

import pytest

from sandbox import Sample
from tests.conftest import REPO
from tests.sandbox.conftest import need

_CANDIDATES = [REPO.parent / "shared" / "data", REPO.parent.parent / "shared" / "data"]  # a clone, a worktree
SHARED = Path(os.environ.get("SYNCODE_SHARED_DATA") or next((c for c in _CANDIDATES if c.is_dir()), _CANDIDATES[0]))
BENCH = SHARED / "benchmarks"
EVERY = {"HumanEval": 4, "mbpp": 8}  # every 4th HumanEval problem (41), every 8th of MBPP (122), twice each

MUTATE = '''

def _syncode_mutated(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1.5 if isinstance(value, float) else value + 1
    if isinstance(value, str):
        return value + "?"
    if isinstance(value, (list, tuple)):
        return type(value)(list(value) + [value[0] if value else 0])
    if isinstance(value, dict):
        return {**value, "__mutated__": None}
    if isinstance(value, (set, frozenset)):
        return type(value)(set(value) | {"__mutated__"})
    return "__mutated__" if value is None else None


_syncode_original = {name}


def {name}(*args, **kwargs):
    return _syncode_mutated(_syncode_original(*args, **kwargs))
'''


def _humaneval() -> list[tuple[str, str, str, str]]:
    rows = [json.loads(line) for line in gzip.open(BENCH / "HumanEval.jsonl.gz", "rt")]
    return [(r["task_id"], r["prompt"] + r["canonical_solution"], r["test"] + f"\ncheck({r['entry_point']})\n",
             r["entry_point"]) for r in rows[::EVERY["HumanEval"]]]


def _mbpp() -> list[tuple[str, str, str, str]]:
    rows = [json.loads(line) for line in open(BENCH / "mbpp.jsonl")]
    problems = []
    for r in rows[::EVERY["mbpp"]]:
        tests = "\n".join(r["test_list"]) + "\n"
        defined = set(re.findall(r"^def\s+(\w+)", r["code"], re.M))
        called = [n for n in re.findall(r"(\w+)\s*\(", tests) if n in defined]
        if called:
            program = (r["test_setup_code"] or "") + "\n" + r["code"]
            problems.append((f"mbpp/{r['task_id']}", program, tests, called[0]))
    return problems


@pytest.fixture(scope="module")
def problems():
    if not BENCH.is_dir():
        pytest.skip(f"the shared benchmarks are not at {BENCH} (set SYNCODE_SHARED_DATA)")
    return _humaneval() + _mbpp()


@pytest.fixture(scope="module")
def outcomes(box, problems):
    need(box, "python")
    samples = []
    for task, program, tests, entry in problems:
        samples.append(Sample(f"{task}#canonical", "python", program, tests))
        samples.append(Sample(f"{task}#mutated", "python", program + MUTATE.replace("{name}", entry), tests))
    return {o.id: o for o in box.run_many(samples)}


@pytest.mark.parametrize("dataset", ["HumanEval", "mbpp"])
def test_canonical_solutions_pass(problems, outcomes, dataset: str) -> None:
    tasks = [p[0] for p in problems if p[0].startswith(dataset)]
    assert tasks
    failing = {t: (outcomes[f"{t}#canonical"].status, outcomes[f"{t}#canonical"].stderr[-300:]) for t in tasks
               if outcomes[f"{t}#canonical"].status != "passed"}
    assert not failing


@pytest.mark.parametrize("dataset", ["HumanEval", "mbpp"])
def test_mutated_solutions_fail(problems, outcomes, dataset: str) -> None:
    tasks = [p[0] for p in problems if p[0].startswith(dataset)]
    passing = [t for t in tasks if outcomes[f"{t}#mutated"].passed]
    assert not passing
    assert all(outcomes[f"{t}#mutated"].status == "failed" for t in tasks)
