"""Run a bench the way bench/README.md writes it: a subprocess of this interpreter, nothing on PYTHONPATH."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

README = (REPO / "bench" / "README.md").read_text()


def run_bench(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """`python <args>` in `cwd` with PYTHONPATH unset: the script must find the repo itself."""
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env={**clean, **env}, capture_output=True, text=True,
                          timeout=300)


def result(proc: subprocess.CompletedProcess) -> dict[str, str]:
    """The keys of the last line, which must be `RESULT key=value ...`."""
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    last = proc.stdout.splitlines()[-1]
    assert last.startswith("RESULT "), last
    return dict(kv.split("=", 1) for kv in last.split()[1:])


def documented_keys(first_keys: str) -> list[str]:
    """The keys of the one `RESULT first_keys ...` span in bench/README.md."""
    spans = re.findall(r"`RESULT (" + re.escape(first_keys) + r"(?: [^`]*)?)`", README)
    assert len(spans) == 1, f"bench/README.md documents `RESULT {first_keys} ...` {len(spans)} times"
    return spans[0].split()
