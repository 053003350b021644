"""Start a vLLM OpenAI-compatible server for `--serve_model`, wait until it answers, and stop it afterwards."""

from __future__ import annotations

import json
import logging
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

_LOG = logging.getLogger("syncode.vllm")


class ServerError(RuntimeError):
    """vLLM did not become ready; the message carries the tail of its log."""


def free_port() -> int:
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


class VLLMServer:
    """A vLLM server as a context manager: `with VLLMServer(model) as url:` yields its /v1 base URL."""

    def __init__(self, model: str, python: str | None = None, extra_args: str = "", ready_timeout_s: float = 600.0,
                 port: int | None = None):
        self.model = model
        self.python = python or os.environ.get("SYNCODE_VLLM_PYTHON") or sys.executable
        self.extra_args = shlex.split(extra_args)
        self.ready_timeout_s = ready_timeout_s
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._proc: subprocess.Popen | None = None
        self._log = Path(tempfile.mkstemp(prefix="syncode-vllm-", suffix=".log")[1])

    def command(self) -> list[str]:
        return [self.python, "-m", "vllm.entrypoints.openai.api_server", "--model", self.model, "--host", "127.0.0.1",
                "--port", str(self.port), *self.extra_args]

    def __enter__(self) -> str:
        _LOG.info("starting vLLM for %s on %s (log: %s)", self.model, self.base_url, self._log)
        with self._log.open("wb") as log:
            self._proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                raise ServerError(f"vLLM exited with code {code} before it was ready:\n{self._tail()}")
            if models_ready(self.base_url):
                _LOG.info("vLLM is ready at %s", self.base_url)
                return self.base_url
            time.sleep(1.0)
        self.__exit__(None, None, None)
        raise ServerError(f"vLLM was not ready after {self.ready_timeout_s:.0f}s:\n{self._tail()}")

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
