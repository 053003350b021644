"""A real bubblewrap sandbox for the tests; toolchains that are missing skip, except under CI=true."""

from __future__ import annotations

import os

import pytest

from sandbox import Sandbox, SandboxSettings, SandboxUnavailable

IN_CI = os.environ.get("CI") == "true"
# The attacks: a short clock so loops end fast, a small memory limit so bombs hit it fast.
ATTACK_SETTINGS = SandboxSettings(parallelism=2, wall_timeout_s=4.0, compile_timeout_s=90.0, memory_mb=256)
# The verdicts: clocks that a JVM or go build on a loaded 2-core box stays well inside.
VERDICT_SETTINGS = SandboxSettings(parallelism=2, wall_timeout_s=30.0, compile_timeout_s=120.0)


def make_sandbox(settings: SandboxSettings = VERDICT_SETTINGS) -> Sandbox:
    try:
        return Sandbox(settings)
    except SandboxUnavailable as exc:
        if IN_CI:
            raise
        pytest.skip(f"no sandbox here: {exc}")


@pytest.fixture(scope="session")
def box() -> Sandbox:
    sb = make_sandbox()
    yield sb
    sb.close()


@pytest.fixture(scope="session")
def attack_box() -> Sandbox:
    sb = make_sandbox(ATTACK_SETTINGS)
    yield sb
    sb.close()


def need(box: Sandbox, language: str) -> None:
    """Skip when `language`'s toolchain is missing (run_tests.sh installs them; under CI=true it must be there)."""
    if not box.toolchains.get(language):
        if IN_CI:
            pytest.fail(f"CI=true but the {language} toolchain is missing (run_tests.sh installs it)")
        pytest.skip(f"no {language} toolchain here (run_tests.sh installs it with apt-get)")


def slot_processes(box: Sandbox) -> list[str]:
    """Processes (zombies too) of this sandbox's slots: none may outlive a run.

    As root each slot has its own uid; otherwise every slot runs as our uid, and a sandbox process is one of ours in
    another PID namespace.
    """
    uids = ({box._uid_base + slot for slot in range(box.settings.parallelism)} if os.geteuid() == 0
            else {os.getuid()})
    own_ns = os.readlink("/proc/self/ns/pid")
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                status = f.read()
            ns = os.readlink(f"/proc/{pid}/ns/pid") if os.geteuid() != 0 else ""
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("Uid", "-1").split()[0]) in uids and (os.geteuid() == 0 or ns != own_ns):
            found.append(f"{pid} {fields.get('Name', '').strip()} {fields.get('State', '').strip()}")
    return found


def has_cgroup(box: Sandbox) -> bool:
    """Whether this box's level has cgroup limits (the process and memory limits are then observed exactly)."""
    return box._uses_cgroup(box.level)
