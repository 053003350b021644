"""The status of a run from what the parent saw: a pure function, so every limit's verdict has a unit test."""

from __future__ import annotations

from dataclasses import dataclass

# What a runtime prints when it stops at its own heap cap (set by the sandbox: -Xmx, --max-old-space-size,
# GOMEMLIMIT). Reading the program's stderr can only turn a run into a non-pass, never into a pass.
OUT_OF_MEMORY_SIGNS = (b"Terminating due to java.lang.OutOfMemoryError", b"JavaScript heap out of memory",
                       b"fatal error: runtime: out of memory", b"\nMemoryError")


def runtime_out_of_memory(stderr_tail: bytes, exit_code: int | None) -> bool:
    """Whether a run that failed ended at its runtime's own memory cap."""
    return exit_code not in (0, None) and any(sign in stderr_tail for sign in OUT_OF_MEMORY_SIGNS)


@dataclass(frozen=True)
class RunFacts:
    """What the parent observed of one run."""

    started: bool  # the driver inside the sandbox signalled that the sandbox was set up
    compiled: bool  # it signalled that compiling succeeded (or that nothing needed compiling) and the run began
    compile_failed: bool  # it signalled that the compiler failed
    exit_code: int | None  # the sandbox's exit status (None when the parent killed it)
    timed_out: bool = False  # the parent's wall clock (compile or run) ran out
    output_exceeded: bool = False  # stdout + stderr passed the output cap
    memory_exceeded: bool = False  # the memory limit was hit (cgroup OOM kill)
    processes_exceeded: bool = False  # the process limit was hit (cgroup pids.max)


def decide_status(facts: RunFacts) -> tuple[str, str]:
    """(status, reason). An exhausted limit never passes, even when the program caught the error and exited 0."""
    if facts.output_exceeded:
        return "output_limit", "stdout and stderr passed the output cap"
    if facts.memory_exceeded:
        return "memory_limit", "the memory limit was hit"
    if facts.processes_exceeded:
        return "failed", "the process limit was hit"
    if facts.timed_out:
        return "timeout", "the compile timeout ran out" if not facts.compiled else "the wall timeout ran out"
    if not facts.started:
        return "sandbox_error", f"the sandbox did not start (exit status {facts.exit_code})"
    if facts.compile_failed:
        return "compile_error", "the compiler failed"
    if not facts.compiled:
        return "compile_error", f"the compile step ended without a verdict (exit status {facts.exit_code})"
    if facts.exit_code == 0:
        return "passed", ""
    return "failed", f"exit status {facts.exit_code}"
