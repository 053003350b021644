"""Starting vLLM for --serve_model: the arguments we add, and clear errors when it cannot start (no vLLM needed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO
from transforms import vllm_process as vllm_server
from transforms.vllm_process import (
    REPO_VLLM_GPU_VENV,
    REPO_VLLM_VENV,
    STRUCTURED_OUTPUTS,
    ServerError,
    VLLMChoice,
    VLLMServer,
    choose_vllm,
    gpu_visible,
    server_args,
    vllm_python,
)


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


def test_a_gpu_is_a_device_node_that_cuda_visible_devices_does_not_hide():
    assert gpu_visible(["null", "nvidia0", "nvidiactl", "nvidia-uvm"], None)
    assert gpu_visible(["nvidia3", "nvidiactl"], "0")  # a container lent only the host's fourth GPU
    assert not gpu_visible(["null", "nvidiactl", "nvidia-uvm"], None)  # the driver's control nodes, no GPU
    assert not gpu_visible(["nvidia0"], "")
    assert not gpu_visible(["nvidia0"], "-1")


def _choose(gpu: bool, have: set[str], this_has_vllm: bool = False, explicit: str | None = None, **env):
    return choose_vllm(explicit, env, gpu, lambda path: path in have, "/this/python", this_has_vllm)


def test_with_a_gpu_the_gpu_build_runs():
    both = {"/gpu/bin/python", "/cpu/bin/python"}
    env = {"SYNCODE_VLLM_GPU_VENV": "/gpu", "SYNCODE_VLLM_VENV": "/cpu"}
    assert _choose(True, both, **env) == VLLMChoice("/gpu/bin/python", True)
    assert _choose(False, both, **env) == VLLMChoice("/cpu/bin/python", False)
    assert _choose(True, {f"{REPO_VLLM_GPU_VENV}/bin/python", f"{REPO_VLLM_VENV}/bin/python"}) == VLLMChoice(
        f"{REPO_VLLM_GPU_VENV}/bin/python", True)


def test_with_a_gpu_and_no_gpu_venv_this_interpreter_runs_when_it_has_vllm():
    assert _choose(True, {"/cpu/bin/python"}, this_has_vllm=True, SYNCODE_VLLM_VENV="/cpu") == VLLMChoice(
        "/this/python", True)


def test_with_a_gpu_and_only_the_cpu_build_the_cpu_build_runs_with_its_defaults():
    assert _choose(True, {"/cpu/bin/python"}, SYNCODE_VLLM_VENV="/cpu") == VLLMChoice("/cpu/bin/python", False)
    assert _choose(True, set()) == VLLMChoice("/this/python", True)


def test_the_flag_and_the_python_variable_win_on_either_machine():
    have = {"/gpu/bin/python"}
    assert _choose(True, have, explicit="/x/python", SYNCODE_VLLM_GPU_VENV="/gpu") == VLLMChoice("/x/python", True)
    assert _choose(False, have, SYNCODE_VLLM_PYTHON="/y/python") == VLLMChoice("/y/python", False)


def test_the_server_starts_the_gpu_build_where_a_gpu_is_visible(monkeypatch, tmp_path):
    for name in ("cpu", "gpu"):
        (tmp_path / name / "bin").mkdir(parents=True)
        (tmp_path / name / "bin" / "python").write_text("")
    monkeypatch.delenv("SYNCODE_VLLM_PYTHON", raising=False)
    monkeypatch.setenv("SYNCODE_VLLM_VENV", str(tmp_path / "cpu"))
    monkeypatch.setenv("SYNCODE_VLLM_GPU_VENV", str(tmp_path / "gpu"))
    monkeypatch.setattr(vllm_server, "has_gpu", lambda: True)
    server = VLLMServer("some-model")
    assert (server.python, server.gpu) == (str(tmp_path / "gpu" / "bin" / "python"), True)
    assert "--enforce-eager" not in server.command()
    monkeypatch.setattr(vllm_server, "has_gpu", lambda: False)
    server = VLLMServer("some-model")
    assert (server.python, server.gpu) == (str(tmp_path / "cpu" / "bin" / "python"), False)
    assert "--enforce-eager" in server.command()


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
