"""The peer side of bench/seeds.py: each datatrove run under a time limit, and whether its result is fair to compare.

A peer that stalls, or whose extractor never extracts (every page timed out, as when trafilatura cannot import in its
sandbox), gives a verdict instead of a rate, so a broken peer is never reported as a speedup.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_limited(cmd: list[str], limit_s: float) -> dict | None:
    """The command's last stdout line as JSON, or None when it ran past `limit_s` (its process group is killed)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=limit_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def peer_verdict(run: dict | None, limit_s: float) -> str:
    """Why a peer run gives no fair rate ('' when it does): it stalled past its limit, or its extractor did not
    extract (every page timed out or its child broke, as when trafilatura cannot import there)."""
    if run is None:
        return f"stall: no result within {limit_s:.0f} s"
    stats = run.get("stats", {})
    extractor = stats.get("Trafilatura", {})
    # the pages that should reach the extractor: all of them, or those the code classifier forwarded
    expected = stats.get("FastTextClassifierFilter", {}).get("forwarded", 0) if "FastTextClassifierFilter" in stats \
        else run.get("pages", 0)
    total, extracted = extractor.get("total", 0), extractor.get("extracted", 0)
    failed = sum(extractor.get(k, 0) for k in ("timeout", "broken_process"))
    if expected and not total:
        return f"stall: the extractor saw none of {expected} pages"
    if total and (not extracted or failed > total / 10):
        return f"stall: {failed} of {total} pages timed out or broke the extractor, {extracted} extracted"
    return ""


PEERS = ("datatrove", "datatrove_prefiltered")


def peer_command(peer_python: str, side: str, folder: str) -> list[str]:
    """The peer run: plain datatrove, or prefiltered by datatrove's fastText filter with our model at our threshold."""
    from pipeline.config import load_config

    cmd = [peer_python, str(REPO / "bench" / "peer_datatrove_seeds.py"), folder, str(REPO / "models" / "lid.176.ftz")]
    if side == "datatrove_prefiltered":
        config = load_config().code_classifier
        cmd += [str(REPO / config.model_path), str(config.threshold)]
    return cmd
