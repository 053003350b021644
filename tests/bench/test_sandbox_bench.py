"""bench/sandbox.py runs as bench/README.md writes it: both ways, --smoke, the documented RESULT keys."""

from __future__ import annotations

import pytest

from tests.bench.bench_run import documented_keys, result, run_bench
from tests.conftest import REPO
from tests.sandbox.conftest import make_sandbox

SCRIPT = str(REPO / "bench" / "sandbox.py")


@pytest.fixture(scope="module", autouse=True)
def _needs_a_sandbox():
    box = make_sandbox()  # skips (outside CI) where bubblewrap cannot start
    for language in ("python", "cpp"):
        if not box.toolchains.get(language):
            pytest.skip(f"no {language} toolchain")


def test_smoke_as_a_script_from_anywhere(tmp_path):
    keys = result(run_bench([SCRIPT, "--smoke", "--parallelism", "2"], cwd=tmp_path))
    assert list(keys) == documented_keys("python_execs_per_s")
    assert float(keys["python_execs_per_s"]) > 0 and float(keys["cpp_execs_per_s"]) > 0
    assert float(keys["bare_python_execs_per_s"]) > 0 and float(keys["cpp_compile_run_s"]) > 0
    assert keys["level"].startswith("bwrap-")
    assert keys["firejail_status"] in ("ok", "missing", "failed")
    assert (keys["firejail_python_execs_per_s"] == "nan") is (keys["firejail_status"] != "ok")


def test_smoke_as_a_module():
    keys = result(run_bench(["-m", "bench.sandbox", "--smoke", "--parallelism", "2"], cwd=REPO))
    assert keys["parallelism"] == "2"
