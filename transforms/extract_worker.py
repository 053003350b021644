"""A per-page time limit for extraction, which trafilatura lacks: the work runs in a child process that is killed
and restarted when a page takes too long (signals cannot interrupt lxml in a Beam worker thread)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from multiprocessing.connection import Connection
from typing import Any

from ledger.drop import Drop
from transforms.extract_page import ExtractConfig

_START_TIMEOUT_S = 120.0  # a fresh interpreter importing trafilatura and lxml on a busy machine
DEFAULT_TARGET = "transforms.extract_page:extract_code_page"
_WARM_UP_PAGE = ("<html><head><title>warm-up</title><meta name='date' content='2024-01-01'></head><body><article>"
                 "<p>A short page that exercises the extractor once.</p><pre>x = 1\ny = 2</pre></article>"
                 "</body></html>")


def _load(target: str):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def serve(read_fd: int, write_fd: int, target: str) -> None:
    """The child's loop: receive the config, then (html, url) pairs; send back each result or the error it raised."""
    tasks, results = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    function = _load(target)  # imports trafilatura before "ready", so no page pays for it against its limit
    config = tasks.recv()
    try:
        function(_WARM_UP_PAGE, "https://example.org/", config)  # first-call set-up (htmldate, lxml) off the clock
    except Exception:  # noqa: BLE001 - a warm-up failure shows again, counted, on a real page
        pass
    results.send(("ready", None))
    while True:
        try:
            task = tasks.recv()
        except EOFError:
            return
        if task is None:
            return
        html, url = task
        try:
            results.send(("ok", function(html, url, config)))
        except Exception as exc:  # noqa: BLE001 - any failure is this page's, reported as a counted drop
            results.send(("error", f"{type(exc).__name__}: {exc}"[:2000]))


class ExtractionWorker:
    """Runs the extraction in a child interpreter with `config.timeout_s` per page; a page over it kills the child,
    which is started again for the next page."""

    def __init__(self, config: ExtractConfig, target: str = DEFAULT_TARGET):
        self.config = config
        self.target = target  # "module:function(html, url, config)", importable in the child
        self._proc: subprocess.Popen | None = None
        self._tasks: Connection | None = None
        self._results: Connection | None = None
        self.restarts = 0
        self._start()

    def _start(self) -> None:
        task_r, task_w = os.pipe()
        result_r, result_w = os.pipe()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        code = f"from transforms.extract_worker import serve; serve({task_r}, {result_w}, {self.target!r})"
        self._proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=(task_r, result_w), env=env,
                                      stdin=subprocess.DEVNULL)
        os.close(task_r)
        os.close(result_w)
        self._tasks, self._results = Connection(task_w, readable=False), Connection(result_r, writable=False)
        self._tasks.send(self.config)
        if not self._results.poll(_START_TIMEOUT_S):
            self._kill()
            raise RuntimeError(f"the extraction worker did not start within {_START_TIMEOUT_S:.0f}s")
        try:
            self._results.recv()
        except EOFError as exc:
            self._kill()
            raise RuntimeError("the extraction worker exited at start (see its stderr above)") from exc

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)
        for conn in (self._tasks, self._results):
            if conn is not None:
                conn.close()
        self._proc = self._tasks = self._results = None

    def _restart(self) -> None:
        self._kill()
        self.restarts += 1
        self._start()

    def extract(self, html: str, url: str) -> Any:
        """The target's result for one page; Drop `extract_timeout` when it ran past the limit."""
        if self._proc is None or self._proc.poll() is not None:
            self._restart()
        try:
            self._tasks.send((html, url))
            limit = self.config.timeout_s if self.config.timeout_s > 0 else None
            if not self._results.poll(limit):
                self._restart()
                return Drop("extract_timeout", f"over {self.config.timeout_s:g}s")
            status, value = self._results.recv()
        except (EOFError, OSError) as exc:  # the child died: out of memory, a crash in C code
            self._restart()
            return Drop("extract_crash", f"{type(exc).__name__}: {exc}")
        if status == "error":
            return Drop("extract_error", value)
        return value

    def close(self) -> None:
        if self._tasks is not None:
            try:
                self._tasks.send(None)
                self._proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()
