"""C++'s precompiled bits/stdc++.h: built once per g++ version and flags on the host, bound read-only inside."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import threading
import time

from sandbox.languages import CPP_FLAGS, stdcpp_header

_LOG = logging.getLogger("syncode.sandbox")


def default_cache_root(root: bool) -> str:
    if root:
        return "/var/cache/syncode-sandbox"  # the slots' uids must reach it to bind it, unlike /root/.cache
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "syncode-sandbox")


def build_pch(cache_root: str) -> str | None:
    """The directory with bits/stdc++.h.gch under cache_root (built now when missing), or None when it cannot be."""
    try:
        return _build(cache_root)
    except (OSError, subprocess.SubprocessError) as exc:  # C++ still compiles, only slower
        _LOG.warning("no C++ precompiled header: %s", exc)
        return None


def _build(cache_root: str) -> str | None:
    header = stdcpp_header()
    if not header:
        return None
    version = subprocess.run(["/usr/bin/g++", "--version"], capture_output=True, text=True).stdout
    key = hashlib.sha256(f"{version}{CPP_FLAGS}{header}{os.path.getmtime(header)}".encode()).hexdigest()[:16]
    target = os.path.join(cache_root, f"pch-{key}")
    gch = os.path.join(target, "bits", "stdc++.h.gch")
    if os.path.exists(gch):
        return target
    tmp = f"{target}.tmp{os.getpid()}-{threading.get_ident()}"
    os.makedirs(os.path.join(tmp, "bits"), exist_ok=True)
    started = time.monotonic()
    built = subprocess.run(["/usr/bin/g++", *CPP_FLAGS, "-x", "c++-header", header, "-o",
                            os.path.join(tmp, "bits", "stdc++.h.gch")], capture_output=True, text=True)
    if built.returncode != 0:
        _LOG.warning("no C++ precompiled header: %s", built.stderr[-500:])
        shutil.rmtree(tmp, ignore_errors=True)
        return None
    for path in (cache_root, tmp, os.path.join(tmp, "bits")):
        os.chmod(path, 0o755)
    os.chmod(os.path.join(tmp, "bits", "stdc++.h.gch"), 0o644)
    try:
        os.rename(tmp, target)
    except OSError:  # another process built it first
        shutil.rmtree(tmp, ignore_errors=True)
    _LOG.info("built the C++ precompiled header in %.1fs at %s", time.monotonic() - started, target)
    return target
