"""`python -m pipeline execute`: run JSONL samples (id, language, program, tests) in the sandbox, one row each."""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from pipeline.errors import EXIT_OK, UsageError
from pipeline.sandbox_flags import add_sandbox_flags, settings_from_flags
from sandbox import Outcome, RemoteSandbox, Sample, Sandbox, SandboxUnavailable
from sandbox.remote import sample_from_json
from sandbox.samples import error_outcome

_LOG = logging.getLogger("syncode.execute")
PROGRESS_EVERY_S = 10.0


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="JSONL, one sample a line: id, language, program, tests.")
    parser.add_argument("--output", required=True, help="JSONL, one row per input line: id, status, passed, "
                        "duration_s, stdout, stderr (first KiB each), level, reason. Rows already there are kept "
                        "and their ids not run again.")
    parser.add_argument("--remote", default="", help="Run on a `python -m pipeline sandbox-serve` at this URL "
                        "instead of a local sandbox (token from $SYNCODE_SANDBOX_TOKEN).")
    add_sandbox_flags(parser)


def _done_ids(path: Path) -> set[str]:
    """Ids already written by an earlier, killed run; a torn last line is cut off."""
    if not path.exists():
        return set()
    data = path.read_bytes()
    cut = data.rfind(b"\n") + 1
    if cut != len(data):
        with open(path, "r+b") as f:
            f.truncate(cut)
    done = set()
    for line in data[:cut].splitlines():
        try:
            done.add(str(json.loads(line)["id"]))
        except (ValueError, KeyError, TypeError):
            continue
    return done


def read_samples(path: Path, done: set[str], errors: list[Outcome], duplicates: Counter[str]) -> Iterator[Sample]:
    """Samples to run, streamed; a malformed line becomes an error row in `errors`, a repeated id is counted."""
    seen = set(done)
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                errors.append(error_outcome(f"line-{number}", f"line {number}: invalid JSON: {exc}"))
                continue
            sample, why = sample_from_json(row)
            raw_id = row.get("id") if isinstance(row, dict) else None
            row_id = str(raw_id) if raw_id not in (None, "") else f"line-{number}"
            if sample is None:
                if row_id not in seen:
                    seen.add(row_id)
                    errors.append(error_outcome(row_id, f"line {number}: {why}"))
                continue
            if sample.id in seen:
                if sample.id not in done:
                    duplicates["lines"] += 1
                    _LOG.warning("line %d: duplicate id %r, run once", number, sample.id)
                continue
            seen.add(sample.id)
            yield sample


def run(ns: argparse.Namespace, _beam_argv: list[str]) -> int:
    """Run every sample of --input, write its outcome to --output, print the counts per status."""
    source, out = Path(ns.input), Path(ns.output)
    if not source.is_file():
        raise UsageError(f"--input {source}: no such file")
    try:
        sandbox = (RemoteSandbox(ns.remote, parallelism=ns.parallelism,
                                 token=os.environ.get("SYNCODE_SANDBOX_TOKEN", ""))
                   if ns.remote else Sandbox(settings_from_flags(ns)))
    except SandboxUnavailable as exc:
        raise UsageError(f"the sandbox cannot start here, so nothing ran: {exc}") from exc
    except OSError as exc:
        raise UsageError(f"--remote {ns.remote}: {exc}") from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    done = _done_ids(out)
    if done:
        _LOG.info("execute: %d ids already in %s, not run again", len(done), out)
    errors: list[Outcome] = []
    duplicates: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    started = last = time.monotonic()
    with open(out, "a", encoding="utf-8") as sink:
        def write(outcome: Outcome) -> None:
            nonlocal last
            sink.write(json.dumps(outcome.to_json(), ensure_ascii=False) + "\n")
            sink.flush()
            counts[outcome.status] += 1
            if time.monotonic() - last > PROGRESS_EVERY_S:
                last = time.monotonic()
                _LOG.info("execute: %d done (%s)", sum(counts.values()), _summary(counts))
        for outcome in sandbox.run_many(read_samples(source, done, errors, duplicates)):
            write(outcome)
            while errors:
                write(errors.pop(0))
        while errors:
            write(errors.pop(0))
    sandbox.close()
    print(f"execute: {sum(counts.values())} samples in {time.monotonic() - started:.1f}s at level {sandbox.level}: "
          f"{_summary(counts) or 'none'}"
          + (f"; {duplicates['lines']} line(s) repeated an id and did not run again" if duplicates else "")
          + f" -> {out}", flush=True)
    return EXIT_OK


def _summary(counts: Counter[str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
