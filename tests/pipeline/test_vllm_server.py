"""Starting vLLM for --serve_model: the arguments we add, and clear errors when it cannot start (no vLLM needed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline.vllm_server import STRUCTURED_OUTPUTS, ServerError, VLLMServer, server_args, vllm_python
from tests.conftest import REPO


def test_cpu_defaults_are_added_unless_given():
    args = server_args(["--max-model-len", "2048"], gpu=False)
    assert args[:2] == ["--max-model-len", "2048"]
    assert ["--structured-outputs-config", STRUCTURED_OUTPUTS] == args[2:4]
    assert "--enforce-eager" in args and args[args.index("--dtype") + 1] == "float32"
    mine = server_args(["--dtype=bfloat16", "--structured-outputs-config", "{}"], gpu=False)
    assert "float32" not in mine and STRUCTURED_OUTPUTS not in mine


def test_gpu_gets_only_the_structured_output_setting():
    assert server_args([], gpu=True) == ["--structured-outputs-config", STRUCTURED_OUTPUTS]


def test_vllm_python_prefers_the_flag_then_the_environment(monkeypatch, tmp_path):
    assert vllm_python("/x/python") == "/x/python"
    monkeypatch.setenv("SYNCODE_VLLM_PYTHON", "/y/python")
    assert vllm_python() == "/y/python"
    monkeypatch.delenv("SYNCODE_VLLM_PYTHON")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").write_text("")
    monkeypatch.setenv("SYNCODE_VLLM_VENV", str(tmp_path))
    assert vllm_python() == str(tmp_path / "bin" / "python")


def test_a_server_that_exits_is_a_clear_error_with_its_log():
    # this interpreter has no vLLM: the server exits at once, and the error shows why
    with pytest.raises(ServerError, match=r"(?s)exited with code 1 before it was ready.*No module named"):
        with VLLMServer("some-model", python=sys.executable, ready_timeout_s=60):
            pass


def test_a_server_that_never_answers_times_out_and_is_stopped(tmp_path):
    sleeper = tmp_path / "python"
    sleeper.write_text("#!/bin/sh\nexec sleep 60\n")
    sleeper.chmod(0o755)
    server = VLLMServer("some-model", python=str(sleeper), ready_timeout_s=2)
    with pytest.raises(ServerError, match="not ready after 2s"):
        server.__enter__()
    assert server._proc is None


def test_the_cli_reports_a_missing_vllm_interpreter(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pipeline", "synth", "--output", str(tmp_path), "--seeds",
                           str(REPO / "tests" / "data" / "seeds"), "--serve_model", "m",
                           "--vllm_python", str(tmp_path / "missing-python")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "cannot start vLLM" in proc.stderr and "--vllm_python" in proc.stderr
