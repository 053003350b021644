"""The isolation around one run: bubblewrap's arguments per level, the run's cgroup, its uid and rlimits."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass

CGROUP_ROOT = "/sys/fs/cgroup"
CGROUP_PARENT = "syncode-sandbox"
BWRAP = "/usr/bin/bwrap"
WORKDIR = "/tmp/w"  # the run's files; go refuses a go.mod in the temp root itself
# Files under the read-only /etc that an unprivileged uid cannot read anyway, masked all the same.
MASKED = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/sudoers", "/etc/ssh")
SANDBOX_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
               "LC_ALL": "C.UTF-8", "USER": "sandbox"}


@dataclass(frozen=True)
class Limits:
    """The rlimits and cgroup limits of one run."""

    cpu_s: int
    memory_bytes: int
    address_space_bytes: int | None  # RLIMIT_AS of the program (None: its runtime does not start under one)
    processes: int
    open_files: int
    file_bytes: int
    tmpfs_bytes: int


def root_usable() -> bool:
    return os.geteuid() == 0


class Cgroup:
    """A v1 memory + pids cgroup per run (v2 when that is what is mounted): limits, hits, and kill-all at the end."""

    def __init__(self, name: str, limits: Limits, version: int) -> None:
        self.version = version
        if version == 2:
            self.dirs = {"unified": os.path.join(CGROUP_ROOT, CGROUP_PARENT, name)}
        else:
            self.dirs = {c: os.path.join(CGROUP_ROOT, c, CGROUP_PARENT, name) for c in ("memory", "pids")}
        for path in self.dirs.values():
            os.makedirs(path, exist_ok=True)
        if version == 2:
            self._write("unified", "memory.max", limits.memory_bytes)
            self._write("unified", "memory.swap.max", 0, optional=True)
            self._write("unified", "pids.max", limits.processes)
        else:
            self._write("memory", "memory.limit_in_bytes", limits.memory_bytes)
            self._write("memory", "memory.memsw.limit_in_bytes", limits.memory_bytes, optional=True)
            self._write("pids", "pids.max", limits.processes)
        self.procs_files = [os.path.join(d, "cgroup.procs") for d in self.dirs.values()]

    def _write(self, ctl: str, name: str, value: int, optional: bool = False) -> None:
        try:
            with open(os.path.join(self.dirs[ctl], name), "w") as f:
                f.write(str(value))
        except OSError:
            if not optional:
                raise

    def _read(self, ctl: str, name: str) -> str:
        try:
            with open(os.path.join(self.dirs["unified" if self.version == 2 else ctl], name)) as f:
                return f.read()
        except OSError:
            return ""

    def memory_hit(self) -> bool:
        """Whether the OOM killer ran in this cgroup."""
        text = self._read("memory", "memory.events" if self.version == 2 else "memory.oom_control")
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip() not in ("", "0"):
                return True
        return False

    def processes_hit(self) -> bool:
        """Whether a fork or clone was refused at pids.max."""
        for line in self._read("pids", "pids.events").splitlines():
            key, _, value = line.partition(" ")
            if key == "max" and value.strip() not in ("", "0"):
                return True
        return False

    def pids(self) -> set[int]:
        found: set[int] = set()
        for path in self.procs_files:
            with contextlib.suppress(OSError), open(path) as f:
                found.update(int(x) for x in f.read().split())
        return found

    def kill_all(self, outer: int | None = None, timeout_s: float = 5.0) -> bool:
        """SIGKILL everything in the cgroup until it is empty, then remove it; True when it emptied.

        `outer`, bwrap's monitor (our child), dies last: it reaps the sandbox's init, which would otherwise be
        reparented to a PID 1 that never reaps it.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            pids = self.pids()
            if outer in pids and len(pids) > 1 and time.monotonic() < deadline:
                pids.discard(outer)
            elif not pids:
                break
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        for path in self.dirs.values():
            for _ in range(50):
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)
        return True


def cgroup_version() -> int | None:
    """2 or 1 when this process may create memory and pids cgroups, else None."""
    if not root_usable():
        return None
    unified = os.path.join(CGROUP_ROOT, "cgroup.controllers")
    if os.path.exists(unified):
        with contextlib.suppress(OSError), open(unified) as f:
            if {"memory", "pids"} <= set(f.read().split()):
                with contextlib.suppress(OSError):
                    with open(os.path.join(CGROUP_ROOT, "cgroup.subtree_control"), "w") as sub:
                        sub.write("+memory +pids")
                    os.makedirs(os.path.join(CGROUP_ROOT, CGROUP_PARENT), exist_ok=True)
                    with open(os.path.join(CGROUP_ROOT, CGROUP_PARENT, "cgroup.subtree_control"), "w") as sub:
                        sub.write("+memory +pids")
                    return 2
        return None
    for ctl in ("memory", "pids"):
        base = os.path.join(CGROUP_ROOT, ctl)
        if not os.path.isdir(base):
            return None
        try:
            os.makedirs(os.path.join(base, CGROUP_PARENT), exist_ok=True)
        except OSError:
            return None
    return 1


def remove_stale_cgroups(version: int) -> None:
    """Remove the run cgroups that a killed process left behind (named `<pid>-<slot>-<n>`, that pid gone)."""
    parents = ([os.path.join(CGROUP_ROOT, CGROUP_PARENT)] if version == 2
               else [os.path.join(CGROUP_ROOT, c, CGROUP_PARENT) for c in ("memory", "pids")])
    for parent in parents:
        with contextlib.suppress(OSError):
            for name in os.listdir(parent):
                pid = name.split("-", 1)[0]
                if not pid.isdigit() or os.path.exists(f"/proc/{pid}"):
                    continue
                path = os.path.join(parent, name)
                with contextlib.suppress(OSError), open(os.path.join(path, "cgroup.procs")) as f:
                    for member in f.read().split():
                        with contextlib.suppress(OSError):
                            os.kill(int(member), signal.SIGKILL)
                with contextlib.suppress(OSError):
                    os.rmdir(path)


PRLIMIT = "/usr/bin/prlimit"
SETPRIV = "/usr/bin/setpriv"


def launcher(limits: Limits, uid: int | None, cgroup_procs: list[str],
             run_limits: tuple[int, int | None] | None = None) -> list[str]:
    """The commands that put bwrap in its cgroup, under its rlimits and the slot's uid, before it starts.

    Exec'd wrappers (sh, util-linux's prlimit and setpriv) rather than a preexec_fn: a preexec_fn makes Python
    fork() instead of vfork(), and forking a large worker process (Beam, pyarrow, a client's buffers) costs
    hundreds of milliseconds per run. `run_limits` (CPU seconds, address space) are the program's own, set here
    when no driver shell inside sets them.
    """
    prefix: list[str] = []
    if cgroup_procs:
        joins = " && ".join(f'echo $$ > "${i + 1}"' for i in range(len(cgroup_procs)))
        prefix += ["/bin/sh", "-c", f'{joins} && shift {len(cgroup_procs)} && exec "$@"', "sh", *cgroup_procs]
    cpu = run_limits[0] if run_limits else limits.cpu_s
    nproc = limits.processes + (64 if cgroup_procs else 0)  # with a cgroup, pids.max is the limit that counts
    prefix += [PRLIMIT, f"--cpu={cpu}", f"--nproc={nproc}", f"--nofile={limits.open_files}",
               f"--fsize={limits.file_bytes}", "--core=0"]
    if run_limits and run_limits[1]:
        prefix.append(f"--as={run_limits[1]}")
    prefix.append("--")
    if uid is not None:
        prefix += [SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]
    return prefix


def bwrap_args(level: str, limits: Limits, files: dict[str, int], binds: tuple[tuple[str, str], ...],
               env: dict[str, str], uid: int | None) -> list[str]:
    """bwrap's arguments for `level`: every namespace, a read-only root, a private size-limited /tmp."""
    args = [BWRAP, "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid", "--unshare-net",
            "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
    if level == "bwrap-nouserns":
        args += []  # bwrap runs as root without a user namespace; the driver drops to the slot uid with setpriv
    else:
        args += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
    args += ["--tmpfs", "/", "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for link, target in (("/bin", "usr/bin"), ("/sbin", "usr/sbin"), ("/lib", "usr/lib"), ("/lib64", "usr/lib64"),
                         ("/lib32", "usr/lib32"), ("/libx32", "usr/libx32")):
        if os.path.islink(link):
            args += ["--symlink", target, link]
    for path in MASKED:
        if os.path.isdir(path):
            args += ["--tmpfs", path]
        elif os.path.exists(path):
            args += ["--ro-bind", "/dev/null", path]
    for host, inside in binds:
        args += ["--ro-bind", host, inside]
    # /dev is bwrap's own tmpfs, writable by the sandbox's uid and unbounded: made read-only, with a small /dev/shm
    args += ["--dev", "/dev", "--remount-ro", "/dev", "--size", str(max(limits.tmpfs_bytes // 4, 1 << 20)),
             "--tmpfs", "/dev/shm", "--chmod", "1777", "/dev/shm",
             "--proc", "/proc", "--size", str(limits.tmpfs_bytes), "--tmpfs", "/tmp"]
    args += ["--perms", "1777", "--dir", WORKDIR, "--chmod", "1777", "/tmp"]
    for name, fd in files.items():
        args += ["--perms", "0644", "--file", str(fd), f"{WORKDIR}/{name}"]
    args += ["--remount-ro", "/", "--chdir", WORKDIR]
    for key, value in {**SANDBOX_ENV, **env}.items():
        args += ["--setenv", key, value]
    return args
