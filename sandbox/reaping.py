"""Reaping what the sandbox leaves to its parent: bwrap's init, when bwrap's monitor exits before it is reaped."""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal

PR_SET_CHILD_SUBREAPER = 36


def read_rest(fd: int) -> bytes:
    os.set_blocking(fd, False)
    data = b""
    with contextlib.suppress(OSError):
        while chunk := os.read(fd, 4096):
            data += chunk
    return data


def child_pid(status: bytes) -> int | None:
    """The host pid of the sandbox's init, from bwrap's --json-status-fd."""
    found = re.search(rb'"child-pid"\s*:\s*(\d+)', status)
    return int(found.group(1)) if found else None


def reap_init(pid: int | None, uid: int | None) -> None:
    """Reap the sandbox's init when bwrap's monitor left it to us (we are a child subreaper): PID 1 here never does.

    Only a child of ours with the slot's uid is touched, so no other subprocess of this process loses its status.
    """
    if pid is None:
        return
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if info is None:  # still alive: our child now, tearing the namespace down or stuck
            if uid is not None and uid_of(pid) != uid:
                return
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        if uid is None or info.si_uid == uid:
            os.waitid(os.P_PID, pid, os.WEXITED)
    except ChildProcessError:  # bwrap's monitor reaped it, as it should
        return


def uid_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def become_subreaper() -> bool:
    """Orphans of our sandboxes are reparented to this process, not to a PID 1 that may never reap them."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False
