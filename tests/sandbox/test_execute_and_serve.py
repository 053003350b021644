"""`python -m pipeline execute` (every input line gets its row, exit 0) and the sandbox-serve path on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pipeline.cli import main
from sandbox import Outcome, RemoteSandbox, Sample, Sandbox, SandboxSettings, SandboxUnavailable
from sandbox.remote import SandboxServer
from tests.conftest import REPO
from tests.sandbox.conftest import make_sandbox, need

LINES = [
    {"id": "ok", "language": "python", "program": "def f(x):\n    return x + 1\n", "tests": "assert f(1) == 2\n"},
    {"id": "wrong", "language": "python", "program": "def f(x):\n    return x\n", "tests": "assert f(1) == 2\n"},
    "this line is not JSON",
    {"id": "cobol", "language": "cobol", "program": "x", "tests": "y"},
    {"id": "no-tests", "language": "python", "program": "x = 1"},
    ["a", "list"],
    {"id": "loops", "language": "python", "program": "while True:\n    pass\n", "tests": ""},
    {"id": "ok", "language": "python", "program": "raise SystemExit(1)", "tests": ""},  # a repeated id: runs once
]


def _write(path: Path, lines: list) -> None:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))


def _rows(path: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), ids
    return {r["id"]: r for r in rows}


def test_execute_gives_every_line_its_row(tmp_path: Path, box, capsys) -> None:
    need(box, "python")
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write(source, LINES)
    code = main(["execute", "--input", str(source), "--output", str(out), "--wall_timeout_s", "2",
                 "--parallelism", "2"])
    assert code == 0
    rows = _rows(out)
    assert set(rows) == {"ok", "wrong", "line-3", "cobol", "no-tests", "line-6", "loops"}
    assert rows["ok"]["status"] == "passed" and rows["ok"]["passed"] is True
    assert rows["wrong"]["status"] == "failed" and "AssertionError" in rows["wrong"]["stderr"]
    assert rows["line-3"]["status"] == "sandbox_error" and "invalid JSON" in rows["line-3"]["reason"]
    assert rows["cobol"]["status"] == "no_runtime"
    assert rows["no-tests"]["status"] == "sandbox_error" and "tests" in rows["no-tests"]["reason"]
    assert rows["line-6"]["status"] == "sandbox_error"
    assert rows["loops"]["status"] == "timeout"
    assert "1 line(s) repeated an id" in capsys.readouterr().out
    for row in rows.values():
        assert {"id", "status", "passed", "duration_s", "stdout", "stderr"} <= set(row)


def test_execute_rerun_runs_only_what_is_missing(tmp_path: Path, box) -> None:
    need(box, "python")
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write(source, LINES[:2])
    done = {"id": "ok", "status": "passed", "passed": True, "duration_s": 0.1, "stdout": "kept", "stderr": ""}
    out.write_text(json.dumps(done) + "\n" + '{"id": "torn", "sta')  # a killed run's torn last line
    assert main(["execute", "--input", str(source), "--output", str(out)]) == 0
    rows = _rows(out)
    assert set(rows) == {"ok", "wrong"} and rows["ok"]["stdout"] == "kept"


def test_execute_without_input_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["execute", "--input", str(tmp_path / "missing.jsonl"), "--output", str(tmp_path / "o")]) == 2


def test_fails_closed_when_bwrap_cannot_start(monkeypatch) -> None:
    import sandbox.runner as runner

    monkeypatch.setattr(runner, "BWRAP", "/nonexistent/bwrap")
    with pytest.raises(SandboxUnavailable, match="not installed"):
        Sandbox(SandboxSettings())


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown sandbox level"):
        Sandbox(SandboxSettings(levels=("chroot",)))


@pytest.mark.parametrize("level", ["bwrap-rlimit", "bwrap-nouserns"])
def test_lower_levels_still_isolate_and_record_themselves(level: str) -> None:
    box = make_sandbox(SandboxSettings(levels=(level,), wall_timeout_s=10))
    program = ("import os, socket, sys\nassert socket.if_nameindex() == [(1, 'lo')]\n"
               "assert not os.path.exists('/work') and not os.path.exists('/root/.cache')\n"
               "try:\n    open('/etc/shadow').read()\n    sys.exit(3)\nexcept PermissionError:\n    pass\n")
    outcome = box.run(Sample("iso", "python", program, "assert os.getuid() != 0\n"))
    assert outcome.status == "passed", (outcome.reason, outcome.stderr)
    assert outcome.level == level
    bomb = box.run(Sample("mem", "python", "x = []\nwhile True:\n    x.append(bytearray(16 << 20))\n", ""))
    assert bomb.status == "memory_limit"


@pytest.fixture
def server(box):
    srv = SandboxServer(("127.0.0.1", 0), box, max_inflight=4)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_remote_sandbox_matches_the_local_one(server, box) -> None:
    need(box, "python")
    remote = RemoteSandbox(server.url, parallelism=2)
    assert remote.level == box.level
    samples = [Sample("r-ok", "python", "x = 2", "assert x == 2"), Sample("r-bad", "python", "x = 2", "assert x == 3"),
               Sample("r-none", "cobol", "", "")]
    outcomes = {o.id: o for o in remote.run_many(samples)}
    assert {k: v.status for k, v in outcomes.items()} == {"r-ok": "passed", "r-bad": "failed", "r-none": "no_runtime"}
    assert all(isinstance(o, Outcome) and o.level == box.level for o in outcomes.values())


def test_remote_rejects_bad_requests_and_tokens(box) -> None:
    import urllib.error
    import urllib.request

    srv = SandboxServer(("127.0.0.1", 0), box, token="s3cret")
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        assert RemoteSandbox(srv.url, token="wrong").run(Sample("t", "python", "", "")).status == "sandbox_error"
        assert RemoteSandbox(srv.url, token="s3cret").run(Sample("t", "python", "", "")).status == "passed"
        bad = urllib.request.Request(srv.url + "/run", data=b'{"id": "x"}', method="POST",
                                     headers={"Authorization": "Bearer s3cret"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(bad, timeout=30)
        assert err.value.code == 400
    finally:
        srv.shutdown()
        srv.server_close()


def test_remote_down_is_an_outcome_not_a_crash(server) -> None:
    remote = RemoteSandbox(server.url, retries=0)
    server.shutdown()
    server.server_close()
    outcome = remote.run(Sample("gone", "python", "", ""))
    assert outcome.status == "sandbox_error" and outcome.id == "gone"


def test_sandbox_serve_command_on_localhost(tmp_path: Path, box) -> None:
    """The real `python -m pipeline sandbox-serve`, and `execute --remote` against it."""
    need(box, "python")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "sandbox-serve", "--port", "0", "--parallelism", "2"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("sandbox-serve: http://127.0.0.1:"), first + proc.stderr.read()
        url = first.split()[1]
        source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
        _write(source, LINES[:4])
        assert main(["execute", "--input", str(source), "--output", str(out), "--remote", url]) == 0
        rows = _rows(out)
        assert {k: v["status"] for k, v in rows.items()} == {"ok": "passed", "wrong": "failed",
                                                             "line-3": "sandbox_error", "cobol": "no_runtime"}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
