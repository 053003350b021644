"""What goes into the sandbox and what comes out: samples, outcomes, statuses and the settings of the limits."""

from __future__ import annotations

from dataclasses import dataclass, field

STATUSES = ("passed", "failed", "compile_error", "timeout", "memory_limit", "output_limit", "no_runtime",
            "sandbox_error")

# The isolation levels of the fallback ladder, strongest first (docs/sandbox.md, "The fallback ladder").
LEVELS = ("bwrap-full", "bwrap-rlimit", "bwrap-nouserns")

KIB = 1024
MIB = 1024 * 1024

# Per-language memory limits (MiB) that the JVM, Go's toolchain and Node start under; the rest get the default.
DEFAULT_MEMORY_MB = {"java": 1536, "go": 1536, "rust": 1024, "typescript": 1024, "javascript": 1024, "cpp": 1024}


class SandboxUnavailable(RuntimeError):
    """No allowed isolation level could start: fail closed, nothing runs."""


@dataclass(frozen=True)
class SandboxSettings:
    """Limits and knobs of one Sandbox; the defaults tolerate a slow, shared 2-core CPU."""

    parallelism: int = 2
    wall_timeout_s: float = 20.0  # the run of the program with its tests, enforced by the parent
    compile_timeout_s: float = 60.0  # compiling (gcc, javac, rustc, go, tsc), enforced by the parent
    output_limit_bytes: int = 1 * MIB  # stdout + stderr together; past it the run is killed: output_limit
    memory_mb: int = 512  # the default memory limit of one run (cgroup), its tmpfs included
    memory_mb_by_language: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_MEMORY_MB))
    tmpfs_mb: int = 128  # the private, writable /tmp of a run
    max_processes: int = 128  # processes and threads of one run (cgroup pids.max and RLIMIT_NPROC of its uid)
    max_open_files: int = 256
    max_file_mb: int = 64  # RLIMIT_FSIZE
    uid_base: int | None = None  # first uid of the slots; None: derived from the pid so processes do not share uids
    levels: tuple[str, ...] = LEVELS  # the levels of the ladder this sandbox may use, strongest first
    cpp_precompiled_header: bool = True  # C++: -include bits/stdc++.h from a precompiled header (built once)
    cache_dir: str | None = None  # where the precompiled header is kept; None: $XDG_CACHE_HOME or ~/.cache

    def memory_for(self, language: str) -> int:
        """The memory limit of one run of `language` in MiB."""
        return self.memory_mb_by_language.get(language, self.memory_mb)


@dataclass(frozen=True)
class Sample:
    """A program and its tests, run together as one source unit; exit status 0 is a pass."""

    id: str
    language: str
    program: str
    tests: str


@dataclass(frozen=True)
class Outcome:
    """How one sample ran: the status, the first KiB of its output and the isolation level it ran under."""

    id: str
    status: str
    passed: bool
    duration_s: float
    stdout: str = ""
    stderr: str = ""
    level: str = ""
    reason: str = ""  # why, when the status alone does not say (sandbox_error, no_runtime, a limit)

    def to_json(self) -> dict:
        return {"id": self.id, "status": self.status, "passed": self.passed, "duration_s": round(self.duration_s, 4),
                "stdout": self.stdout, "stderr": self.stderr, "level": self.level, "reason": self.reason}

    @classmethod
    def from_json(cls, row: dict) -> Outcome:
        return cls(id=str(row["id"]), status=row["status"], passed=bool(row["passed"]),
                   duration_s=float(row["duration_s"]), stdout=row.get("stdout", ""), stderr=row.get("stderr", ""),
                   level=row.get("level", ""), reason=row.get("reason", ""))


def error_outcome(sample_id: str, reason: str, level: str = "", status: str = "sandbox_error") -> Outcome:
    """An outcome for a sample that did not run (bad input, no runtime, the sandbox failed)."""
    return Outcome(id=sample_id, status=status, passed=False, duration_s=0.0, level=level, reason=reason)
