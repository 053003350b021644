"""The Sandbox: run samples under bubblewrap, at most `parallelism` at once, each slot its own uid."""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import queue
import selectors
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from sandbox.cpp_header import build_pch, default_cache_root
from sandbox.jail import (
    BWRAP,
    PRLIMIT,
    SETPRIV,
    Cgroup,
    Limits,
    bwrap_args,
    cgroup_version,
    launcher,
    remove_stale_cgroups,
    root_usable,
)
from sandbox.languages import (
    TOLERATES_RLIMIT_AS,
    Recipe,
    canonical_language,
    discover_toolchains,
    recipe,
)
from sandbox.reaping import become_subreaper, child_pid, read_rest, reap_init
from sandbox.samples import KIB, LEVELS, MIB, Outcome, Sample, SandboxSettings, SandboxUnavailable, error_outcome
from sandbox.verdict import RunFacts, decide_status, runtime_out_of_memory

_LOG = logging.getLogger("syncode.sandbox")
POLL_S = 0.05  # how often the parent looks at the clock and the cgroup's limit counters
MAX_SLOTS = 128  # uids per process: uid_base + slot


class Sandbox:
    """Runs samples isolated by bubblewrap; fails closed (SandboxUnavailable) when no allowed level starts."""

    def __init__(self, settings: SandboxSettings | None = None) -> None:
        self.settings = settings or SandboxSettings()
        if not 1 <= self.settings.parallelism <= MAX_SLOTS:
            raise ValueError(f"parallelism must be 1 to {MAX_SLOTS} (one uid per slot)")
        self.toolchains = discover_toolchains()
        self._root = root_usable()
        self.subreaper = become_subreaper()
        self._cgroup_version = cgroup_version()
        base = self.settings.uid_base
        self._uid_base = base if base is not None else 100_000 + (os.getpid() % 20_000) * MAX_SLOTS
        self._slots: queue.Queue[int] = queue.Queue()
        for slot in range(self.settings.parallelism):
            self._slots.put(slot)
        self._counter = itertools.count()
        self._pch_lock = threading.Lock()
        self._pch_dir: str | None | bool = False  # False: not built yet
        self._closed = False
        self._status: dict[int, bytes] = {}  # bwrap's status lines per run, read by _watch, used to reap
        if self._cgroup_version:
            remove_stale_cgroups(self._cgroup_version)
        self.level, self.refusals = self._choose_level()
        _LOG.info("sandbox level %s; runtimes: %s", self.level,
                  ", ".join(k for k, v in self.toolchains.items() if v) or "none")

    # --- the fallback ladder -------------------------------------------------------------------------------------
    def _level_possible(self, level: str) -> str:
        """Why `level` cannot be used here ('' when it may be probed)."""
        if not os.access(BWRAP, os.X_OK):
            return f"{BWRAP} is not installed"
        if level == "bwrap-full" and not (self._root and self._cgroup_version):
            return "needs root and writable memory+pids cgroups (one uid per slot, cgroup limits)"
        if not os.access(PRLIMIT, os.X_OK) or (self._root and not os.access(SETPRIV, os.X_OK)):
            return f"needs {PRLIMIT} and {SETPRIV} (util-linux) to set the rlimits and the slot's uid"
        if level == "bwrap-nouserns" and not self._root:
            return "needs root (bwrap without a user namespace)"
        return ""

    def _choose_level(self) -> tuple[str, dict[str, str]]:
        refusals: dict[str, str] = {}
        for level in self.settings.levels:
            if level not in LEVELS:
                raise ValueError(f"unknown sandbox level {level!r} (known: {', '.join(LEVELS)})")
            why = self._level_possible(level)
            if not why:
                probe = self._execute("probe", "probe", Recipe({}, "", ["/bin/true"]), level, 256)
                if probe.status == "passed":
                    return level, refusals
                why = f"probe {probe.status}: {probe.reason} {probe.stderr.strip()[:300]}"
            refusals[level] = why
        tried = "; ".join(f"{k}: {v}" for k, v in refusals.items())
        raise SandboxUnavailable(f"no sandbox level could start; {tried}")

    def _uses_cgroup(self, level: str) -> bool:
        return level in ("bwrap-full", "bwrap-nouserns") and self._cgroup_version is not None

    # --- C++ precompiled header ----------------------------------------------------------------------------------
    def pch_dir(self) -> str | None:
        """The directory holding bits/stdc++.h.gch, built once per g++ version and flags (trusted input only)."""
        with self._pch_lock:
            if self._pch_dir is False:
                enabled = self.settings.cpp_precompiled_header and bool(self.toolchains.get("cpp"))
                self._pch_dir = build_pch(self.settings.cache_dir or default_cache_root(self._root)) if enabled \
                    else None
            return self._pch_dir or None

    # --- running ---------------------------------------------------------------------------------------------------
    def run(self, sample: Sample) -> Outcome:
        """Run one sample (thread-safe; at most `parallelism` run at once)."""
        if self._closed:
            raise RuntimeError("the sandbox is closed")
        problem = _invalid(sample)
        if problem:
            return error_outcome(str(getattr(sample, "id", "")), problem, self.level)
        language = canonical_language(sample.language)
        if not self.toolchains.get(language):
            known = language in self.toolchains
            return error_outcome(sample.id, f"no toolchain for {language!r}" + ("" if known else " (unsupported)"),
                                 self.level, status="no_runtime")
        memory_mb = self.settings.memory_for(language)
        try:
            unit = recipe(language, sample.program, sample.tests, memory_mb,
                          self.pch_dir() if language == "cpp" else None)
        except Exception as exc:  # noqa: BLE001 - a recipe bug must not lose the sample
            return error_outcome(sample.id, f"could not prepare the run: {exc}", self.level)
        return self._execute(sample.id, language, unit, self.level, memory_mb)

    def run_many(self, samples: Iterable[Sample]) -> Iterator[Outcome]:
        """Run samples `parallelism` at a time; yields in completion order, every id exactly once."""
        window = self.settings.parallelism * 2
        with ThreadPoolExecutor(max_workers=self.settings.parallelism, thread_name_prefix="sandbox") as pool:
            pending: dict = {}
            for sample in samples:
                pending[pool.submit(self.run, sample)] = sample
                while len(pending) >= window:
                    yield from self._drain(pending, block=True)
            while pending:
                yield from self._drain(pending, block=True)

    @staticmethod
    def _drain(pending: dict, block: bool) -> Iterator[Outcome]:
        done, _ = wait(list(pending), return_when=FIRST_COMPLETED, timeout=None if block else 0)
        for future in done:
            sample = pending.pop(future)
            try:
                yield future.result()
            except Exception as exc:  # noqa: BLE001 - every id comes out once, whatever happened
                yield error_outcome(str(getattr(sample, "id", "")), f"sandbox failure: {exc!r}")

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _limits(self, language: str, memory_mb: int, level: str) -> Limits:
        s = self.settings
        # With a cgroup the address-space cap is only a backstop; without one it is the memory limit.
        address_mb = memory_mb * 4 + 1024 if self._uses_cgroup(level) else memory_mb + 256
        return Limits(cpu_s=int(s.compile_timeout_s + s.wall_timeout_s) + 5, memory_bytes=memory_mb * MIB,
                      address_space_bytes=address_mb * MIB if language in TOLERATES_RLIMIT_AS else None,
                      processes=s.max_processes, open_files=s.max_open_files, file_bytes=s.max_file_mb * MIB,
                      tmpfs_bytes=s.tmpfs_mb * MIB)

    def _execute(self, sample_id: str, language: str, unit: Recipe, level: str, memory_mb: int) -> Outcome:
        slot = self._slots.get()
        try:
            return self._execute_in_slot(sample_id, language, unit, level, memory_mb, slot)
        finally:
            self._slots.put(slot)

    def _execute_in_slot(self, sample_id: str, language: str, unit: Recipe, level: str, memory_mb: int,
                         slot: int) -> Outcome:
        limits = self._limits(language, memory_mb, level)
        uid = self._uid_base + slot if self._root else None
        started = time.monotonic()
        fds: list[int] = []
        cgroup = None
        proc = None
        try:
            files = {}
            for name, text in unit.files.items():
                fd = os.memfd_create(name)
                os.write(fd, text.encode("utf-8", "surrogateescape"))
                os.lseek(fd, 0, os.SEEK_SET)
                fds.append(fd)
                files[name] = fd
            marker_r, marker_w = os.pipe()
            fds += [marker_r, marker_w]
            os.fchmod(marker_w, 0o622)  # the driver reopens it by /proc/self/fd as the slot's uid
            status_r, status_w = os.pipe()  # bwrap's JSON status: the pid of the sandbox's init, to reap it
            fds += [status_r, status_w]
            direct = not unit.compile  # nothing to compile: bwrap execs the program itself, no driver shell
            command = list(unit.run) if direct else ["/bin/sh", "-c", _driver(unit, marker_w, limits,
                                                                               self.settings.wall_timeout_s)]
            if level == "bwrap-nouserns":
                command = [SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                           "--bounding-set=-all", "--no-new-privs", "--", *command]
            if self._uses_cgroup(level):
                cgroup = Cgroup(f"{os.getpid()}-{slot}-{next(self._counter)}", limits, self._cgroup_version)
            drop_to = None if level == "bwrap-nouserns" else uid
            run_limits = (int(self.settings.wall_timeout_s) + 2, limits.address_space_bytes) if direct else None
            args = launcher(limits, drop_to, cgroup.procs_files if cgroup else [], run_limits) + bwrap_args(
                level, limits, files, unit.binds, unit.env, uid) + ["--json-status-fd", str(status_w), "--", *command]
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    pass_fds=(status_w, *files.values()) if direct else (marker_w, status_w,
                                                                                         *files.values()),
                                    env={}, close_fds=True)
            for fd in (marker_w, status_w):
                os.close(fd)
                fds.remove(fd)
            facts, out, err = self._watch(proc, marker_r, status_r, cgroup, started, direct)
        except Exception as exc:  # noqa: BLE001 - the sample gets its row, the error its reason
            _LOG.exception("sandbox failure on %s", sample_id)
            return error_outcome(sample_id, f"sandbox failure: {exc!r}", level)
        finally:
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(OSError):
                    proc.kill()
            if cgroup is not None:
                cgroup.kill_all(outer=proc.pid if proc is not None else None)
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=10)
                reap_init(child_pid(self._status.pop(status_r, b"") + read_rest(status_r)), uid)
                for stream in (proc.stdout, proc.stderr):
                    stream.close()
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
        status, reason = decide_status(facts)
        return Outcome(id=sample_id, status=status, passed=status == "passed", duration_s=time.monotonic() - started,
                       stdout=_first_kib(out), stderr=_first_kib(err), level=level, reason=reason)

    def _watch(self, proc: subprocess.Popen, marker_r: int, status_r: int, cgroup: Cgroup | None,
               started: float, direct: bool) -> tuple[RunFacts, bytes, bytes]:
        """Read output and markers until the sandbox ends, enforcing the clocks, the output cap and the cgroup's."""
        s = self.settings
        sel = selectors.DefaultSelector()
        streams = {proc.stdout.fileno(): "out", proc.stderr.fileno(): "err", marker_r: "marker", status_r: "status"}
        for fd in streams:
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
        head = {"out": bytearray(), "err": bytearray()}
        tail = b""
        status = b""
        total = 0
        marks = ""
        deadline = started + s.compile_timeout_s
        run_started = False
        timed_out = output_exceeded = memory_hit = processes_hit = False
        next_poll = time.monotonic() + POLL_S
        try:
            while sel.get_map() or proc.poll() is None:  # a program that closed its output still runs to the clock
                now = time.monotonic()
                if now >= deadline:
                    timed_out = True
                    break
                for key, _ in sel.select(timeout=max(0.0, min(deadline, next_poll) - now)):
                    try:
                        data = os.read(key.fd, 65536)
                    except BlockingIOError:
                        continue
                    if not data:
                        sel.unregister(key.fd)
                        continue
                    name = streams[key.fd]
                    if name == "status":  # bwrap's JSON lines; without a driver, the child's pid means it runs
                        status += data
                        if direct and not run_started and b'"child-pid"' in status:
                            marks, run_started = "SR", True
                            deadline = time.monotonic() + s.wall_timeout_s
                        continue
                    if name == "marker":
                        if not run_started:
                            marks += data.decode("ascii", "replace")
                            if "R" in marks:
                                run_started = True
                                deadline = time.monotonic() + s.wall_timeout_s
                        continue
                    total += len(data)
                    if len(head[name]) < KIB:
                        head[name] += data[:KIB - len(head[name])]
                    tail = (tail + data)[-4 * KIB:]  # stdout and stderr: the JVM prints its OOM to stdout
                if total > s.output_limit_bytes:
                    output_exceeded = True
                    break
                if cgroup is not None and time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + POLL_S
                    memory_hit = memory_hit or cgroup.memory_hit()
                    processes_hit = processes_hit or cgroup.processes_hit()
                    if memory_hit or processes_hit:
                        break
                elif time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + POLL_S
        finally:
            sel.close()
        if cgroup is not None:
            if proc.poll() is None:
                cgroup.kill_all(outer=proc.pid)
            memory_hit = memory_hit or cgroup.memory_hit()
            processes_hit = processes_hit or cgroup.processes_hit()
        elif proc.poll() is None:
            with contextlib.suppress(OSError):
                os.kill(proc.pid, signal.SIGKILL)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        memory_hit = memory_hit or runtime_out_of_memory(tail, code)
        self._status[status_r] = status
        if direct and code == 1 and head["err"].startswith(b"bwrap: "):  # bwrap could not set the sandbox up
            marks = ""
        killed = timed_out or output_exceeded or ((memory_hit or processes_hit) and code is None)
        facts = RunFacts(started="S" in marks, compiled=run_started, compile_failed="C" in marks and not run_started,
                         exit_code=None if killed else code, timed_out=timed_out, output_exceeded=output_exceeded,
                         memory_exceeded=memory_hit, processes_exceeded=processes_hit)
        return facts, bytes(head["out"]), bytes(head["err"])


def _driver(unit: Recipe, marker_fd: int, limits: Limits, wall_timeout_s: float) -> str:
    """The shell inside the sandbox: signal start, compile, signal the verdict, then exec the run under its limits."""
    mark = f"/proc/self/fd/{marker_fd}"
    lines = [f"printf S >{mark}"]
    if unit.compile:
        lines.append(f"if ! {unit.compile} >&2; then printf C >{mark}; exit 1; fi")
    lines.append(f"printf R >{mark}")
    lines.append(f"ulimit -t {int(wall_timeout_s) + 2}")
    if limits.address_space_bytes:
        lines.append(f"ulimit -v {limits.address_space_bytes // KIB}")
    lines.append("exec " + " ".join(shlex.quote(a) for a in unit.run))
    return "\n".join(lines)


def _first_kib(data: bytes) -> str:
    return data[:KIB].decode("utf-8", "replace")


def _invalid(sample: object) -> str:
    """Why a sample cannot run as given ('' when it can)."""
    for name in ("id", "language", "program", "tests"):
        if not isinstance(getattr(sample, name, None), str):
            return f"{name} must be a string"
    if not sample.id:
        return "id is empty"
    if "\x00" in sample.program or "\x00" in sample.tests:
        return "the program or tests contain a NUL byte"
    return ""
