"""Sandbox throughput: executions per second per core of ours (bubblewrap) against a bare subprocess and firejail.

A small Python program with its tests, and a small C++ one compiled and run (with the precompiled header), each
sample a little different, run `--parallelism` at a time by three runners in the same process on the same samples:

- ours: sandbox.Sandbox (docs/sandbox.md: every namespace, a uid per slot, cgroup limits);
- bare: a subprocess in a temp dir on a tmpfs (/dev/shm, as ours works on its tmpfs), no isolation (the ceiling);
- firejail (Debian): --noprofile --net=none --caps.drop=all --nonewprivs --seccomp --private=DIR --private-tmp
  --private-dev, the closest stock firejail gets to the same isolation.

The rounds alternate the runners (the box is shared, so each round sees the same load) and the rates sum all
rounds. "Per core" divides by min(parallelism, cores). The default parallelism is twice the cores: a sandbox run
spends part of its time waiting on the kernel (namespace set-up and tear-down), which a second run per core
overlaps; every runner gets the same parallelism. `cpp_compile_run_s` is
the median latency of one C++ compile-and-run through our sandbox, one at a time (goal < 1 s).
Goals (issue 14): sandbox_overhead_ratio = bare / ours <= 2.0; ours >= 1.5x firejail for Python.
Last line: RESULT key=value ...
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if not __package__:  # run as `python bench/sandbox.py`: the repo, not bench/, leads sys.path
    sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]

from sandbox import Sample, Sandbox, SandboxSettings  # noqa: E402
from sandbox.languages import CPP_FLAGS, joined  # noqa: E402

PYTHON = "/usr/bin/python3"
# The peers work on a tmpfs too, as ours does (its /tmp), so that disk writes do not count against them.
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
FIREJAIL = shutil.which("firejail") or "/usr/bin/firejail"
FIREJAIL_FLAGS = ["--quiet", "--noprofile", "--net=none", "--caps.drop=all", "--nonewprivs", "--seccomp",
                  "--private-tmp", "--private-dev"]


def python_samples(n: int) -> list[Sample]:
    return [Sample(f"py{i}", "python", f"def solve(n):\n    return sum(k * k for k in range(n)) + {i}\n",
                   f"assert solve(10) == {285 + i}\nassert solve(0) == {i}\n") for i in range(n)]


def cpp_samples(n: int) -> list[Sample]:
    program = ("#include <vector>\n#include <algorithm>\n#include <numeric>\nlong solve(std::vector<long> v) {{\n"
               "  std::sort(v.begin(), v.end());\n  return std::accumulate(v.begin(), v.begin() + 2, {i}L);\n}}\n")
    tests = "int main() {{ return solve({{5, 3, 9, 1}}) == {want} ? 0 : 1; }}\n"
    return [Sample(f"cpp{i}", "cpp", program.format(i=i), tests.format(want=4 + i)) for i in range(n)]


def run_ours(box: Sandbox, samples: list[Sample]) -> tuple[float, int]:
    started = time.monotonic()
    passed = sum(o.passed for o in box.run_many(samples))
    return time.monotonic() - started, passed


def _plain(sample: Sample, pch_dir: str | None, wrap: list[str], home_arg: bool) -> bool:
    """Write the sample to a temp dir, compile if C++, run it under `wrap` (nothing, or firejail)."""
    work = tempfile.mkdtemp(prefix="bench-sandbox-", dir=SCRATCH)
    try:
        if sample.language == "python":
            Path(work, "main.py").write_text(joined(sample.program, sample.tests))
            command = [PYTHON, "main.py"]
        else:
            Path(work, "main.cpp").write_text(joined(sample.program, sample.tests))
            pch = ["-I", pch_dir, "-include", "bits/stdc++.h"] if pch_dir else []
            compiled = subprocess.run(wrap_for(wrap, work, home_arg) + ["/usr/bin/g++", *CPP_FLAGS, *pch, "-o",
                                      "prog", "main.cpp", "-lm"], cwd=work, capture_output=True, timeout=120,
                                      env={**os.environ, "TMPDIR": work})
            if compiled.returncode != 0:
                return False
            command = ["./prog"]
        done = subprocess.run(wrap_for(wrap, work, home_arg) + command, cwd=work, capture_output=True, timeout=60,
                              stdin=subprocess.DEVNULL, env={**os.environ, "TMPDIR": work})
        return done.returncode == 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def wrap_for(wrap: list[str], work: str, private: bool) -> list[str]:
    return [*wrap, f"--private={work}", *FIREJAIL_FLAGS, "--"] if private else list(wrap)


def run_plain(samples: list[Sample], parallelism: int, pch_dir: str | None, firejail: bool) -> tuple[float, int]:
    wrap = [FIREJAIL] if firejail else []

    def one(sample: Sample) -> bool:
        if firejail:  # firejail's --private=DIR is the home and the cwd is kept: run from there
            return _plain(sample, pch_dir, wrap, True)
        return _plain(sample, pch_dir, wrap, False)
    started = time.monotonic()
    with ThreadPoolExecutor(parallelism) as pool:
        passed = sum(pool.map(one, samples))
    return time.monotonic() - started, passed


def firejail_works() -> str:
    """'ok', or why firejail cannot be the peer here."""
    if not os.access(FIREJAIL, os.X_OK):
        return "missing"
    try:
        probe = subprocess.run([FIREJAIL, *FIREJAIL_FLAGS, "--", "/bin/true"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"failed:{type(exc).__name__}"
    return "ok" if probe.returncode == 0 else "failed"


def rate(runs: list[tuple[float, int]], n: int, cores: int) -> float:
    """Executions per second per core over all rounds (nan when a round lost a sample: that is no measurement)."""
    if not runs or any(passed != n for _, passed in runs):
        return float("nan")
    return n * len(runs) / sum(wall for wall, _ in runs) / cores


def measure(label: str, fn: Callable[[], tuple[float, int]], rounds: list, n: int) -> None:
    wall, passed = fn()
    rounds.append((wall, passed))
    print(f"  {label}: {n} runs in {wall:.2f}s, {passed} passed", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="A few runs of each: a check that it runs, not a "
                        "measurement.")
    parser.add_argument("--parallelism", type=int, default=2 * (os.cpu_count() or 1),
                        help="Runs at once, the same for every runner (default: twice the cores).")
    parser.add_argument("--python_runs", type=int, default=60, help="Python samples per runner per round.")
    parser.add_argument("--cpp_runs", type=int, default=8, help="C++ samples per runner per round.")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if args.smoke:
        args.python_runs, args.cpp_runs, args.rounds = 8, 2, 1
    p = args.parallelism
    cores = min(p, os.cpu_count() or 1)
    box = Sandbox(SandboxSettings(parallelism=p))
    pch_dir = box.pch_dir()
    fj = firejail_works()
    print(f"sandbox level {box.level}, parallelism {p} on {cores} cores, precompiled header {pch_dir or 'none'}, "
          f"firejail {fj}")
    py, cpp = python_samples(args.python_runs), cpp_samples(args.cpp_runs)
    run_ours(box, python_samples(2) + cpp_samples(1))  # warm the page cache for every runner
    rounds: dict[str, list] = {k: [] for k in ("ours_py", "bare_py", "fj_py", "ours_cpp", "bare_cpp")}
    for r in range(args.rounds):
        print(f"round {r + 1}/{args.rounds}")
        measure("ours python", lambda: run_ours(box, py), rounds["ours_py"], len(py))
        measure("bare python", lambda: run_plain(py, p, pch_dir, False), rounds["bare_py"], len(py))
        if fj == "ok":
            measure("firejail python", lambda: run_plain(py, p, pch_dir, True), rounds["fj_py"], len(py))
        measure("ours c++", lambda: run_ours(box, cpp), rounds["ours_cpp"], len(cpp))
        measure("bare c++", lambda: run_plain(cpp, p, pch_dir, False), rounds["bare_cpp"], len(cpp))
    latencies = [box.run(s).duration_s for s in cpp_samples(3 if args.smoke else 7)]
    ours_py, bare_py = rate(rounds["ours_py"], len(py), cores), rate(rounds["bare_py"], len(py), cores)
    fj_py = rate(rounds["fj_py"], len(py), cores)
    ours_cpp, bare_cpp = rate(rounds["ours_cpp"], len(cpp), cores), rate(rounds["bare_cpp"], len(cpp), cores)
    ratio = bare_py / ours_py
    vs_fj = ours_py / fj_py
    compile_run = statistics.median(latencies)
    print(f"python: ours {ours_py:.1f}/s/core, bare {bare_py:.1f}, firejail {fj_py:.1f}; overhead ratio "
          f"{ratio:.2f} (goal <= 2.0: {'met' if ratio <= 2.0 else 'NOT met'}); ours/firejail {vs_fj:.2f} "
          f"(goal >= 1.5: {'met' if vs_fj >= 1.5 else 'NOT met'})")
    print(f"c++: ours {ours_cpp:.2f}/s/core, bare {bare_cpp:.2f}; one compile-and-run {compile_run:.2f}s "
          f"(goal < 1 s: {'met' if compile_run < 1.0 else 'NOT met'})")
    if args.smoke:
        print("smoke run: a check that the bench runs, not a measurement")
    print(f"RESULT python_execs_per_s={ours_py:.2f} cpp_execs_per_s={ours_cpp:.3f} sandbox_overhead_ratio={ratio:.3f} "
          f"firejail_python_execs_per_s={fj_py:.2f} cpp_compile_run_s={compile_run:.3f} "
          f"bare_python_execs_per_s={bare_py:.2f} bare_cpp_execs_per_s={bare_cpp:.3f} "
          f"cpp_overhead_ratio={bare_cpp / ours_cpp:.3f} ours_vs_firejail_python={vs_fj:.3f} parallelism={p} "
          f"cores={cores} level={box.level} firejail_status={fj.split(':')[0]}")


if __name__ == "__main__":
    main()
