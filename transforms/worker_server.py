"""One vLLM server per worker VM for `--serve_model` on a distributed runner, started in a generation DoFn's setup().

Every SDK process on a VM (Dataflow runs several) calls `shared_server`: the first takes a file lock, starts the
server detached, waits for readiness and writes a port file; the others wait on the lock, then read the port file
and reuse the server. This is the pattern of Beam's own vLLM handler (apache_beam.ml.inference.vllm_inference with
multi_process_shared: a cross-process lock beside an address file). The server lives as long as the VM.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import json
import logging
import os
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ledger.ids import stable_id
from transforms.vllm_process import ServerError, VLLMServer, models_ready

_LOG = logging.getLogger("syncode.worker_server")
STATE_DIR_ENV = "SYNCODE_WORKER_SERVER_DIR"  # where the lock and port files live (default: the temp dir)


@dataclass(frozen=True)
class ServeSpec:
    """What a worker starts for `--serve_model`: the model, the vLLM interpreter and arguments, the readiness wait."""

    model: str
    python: str | None = None  # None: chosen on the worker (its GPU build where a GPU is visible)
    extra_args: str = ""
    ready_timeout_s: float = 900.0
    state_dir: str = ""  # "": $SYNCODE_WORKER_SERVER_DIR, else <tmp>/syncode-vllm

    @property
    def tag(self) -> str:
        """The same model and arguments share one server per VM; anything else gets its own."""
        return stable_id(self.model, self.python or "", self.extra_args, size=12)

    def directory(self) -> Path:
        return Path(self.state_dir or os.environ.get(STATE_DIR_ENV) or Path(tempfile.gettempdir()) / "syncode-vllm")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def read_port_file(path: Path) -> dict | None:
    """The server a port file names ({"url", "pid", "host", ...}), or None when absent or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _lock(path: Path, deadline: float) -> int:
    """Take an exclusive flock on `path`, polling until `deadline` (a server start holds it for minutes)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise ServerError(f"waited too long for another process on this worker to start vLLM "
                                  f"(lock {path}); raise --serve_timeout_s") from None
            time.sleep(0.5)


def shared_server(spec: ServeSpec) -> str:
    """The /v1 URL of this VM's vLLM server for `spec`: reused when its port file names a live, answering server,
    else started here (under the lock) and waited for. Raises ServerError with the log's tail when it fails."""
    directory = spec.directory()
    directory.mkdir(parents=True, exist_ok=True)
    lock_path, port_path = directory / f"{spec.tag}.lock", directory / f"{spec.tag}.port"
    waited = time.monotonic()
    fd = _lock(lock_path, waited + spec.ready_timeout_s)
    try:
        info = read_port_file(port_path)
        if info and _alive(int(info.get("pid", 0))) and models_ready(info["url"]):
            _LOG.info("worker %s (pid %d): reusing vLLM for %s at %s, started by pid %s (waited %.0fs)",
                      socket.gethostname(), os.getpid(), spec.model, info["url"], info["pid"],
                      time.monotonic() - waited)
            return info["url"]
        server = VLLMServer(spec.model, spec.python, spec.extra_args, ready_timeout_s=spec.ready_timeout_s,
                            log_path=str(directory / f"{spec.tag}.log"))
        _LOG.info("worker %s (pid %d): starting vLLM for %s on %s; waiting up to %.0fs for it (log %s)",
                  socket.gethostname(), os.getpid(), spec.model, server.base_url, spec.ready_timeout_s,
                  directory / f"{spec.tag}.log")
        server.start(detach=True)
        url = server.wait_ready()
        tmp = port_path.with_suffix(".port.tmp")
        tmp.write_text(json.dumps({"url": url, "pid": server.pid, "host": socket.gethostname(),
                                   "started_by": os.getpid(), "parent": os.getppid(), "model": spec.model}))
        tmp.replace(port_path)
        return url
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def stop_shared_servers(state_dir: str) -> list[int]:
    """Stop the servers whose port files are under `state_dir` (tests, and a VM being reused); their pids."""
    stopped = []
    for port_path in Path(state_dir).glob("*.port"):
        info = read_port_file(port_path) or {}
        pid = int(info.get("pid", 0))
        if pid and _alive(pid):
            try:
                os.killpg(pid, 15)  # its own session: vLLM's engine processes go with it
            except OSError:
                os.kill(pid, 15)
            stopped.append(pid)
        port_path.unlink(missing_ok=True)
    return stopped


def with_worker_server(role):
    """The role as this worker calls it: with `serve` set, its endpoints are this VM's shared server."""
    spec = getattr(role, "serve", None)
    if spec is None:
        return role
    return dataclasses.replace(role, endpoints=(shared_server(spec),))
