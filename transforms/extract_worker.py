"""A per-page time limit for extraction, which trafilatura lacks: the work runs in a child process that is killed
and restarted when a page takes too long (signals cannot interrupt lxml in a Beam worker thread)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

from pipeline.config import ExtractConfig
from transforms.stage import Drop

_START_TIMEOUT_S = 120.0  # importing trafilatura and lxml in a fresh interpreter


def _serve(conn, config: ExtractConfig, target: Callable | None) -> None:
    """The child's loop: receive (html, url), send back the extraction or the error it raised."""
    if target is None:
        import trafilatura  # noqa: F401 - imported before "ready", so no page pays for it against its time limit

        from transforms.extract_code import extract_code_page as target

    conn.send(("ready", None))
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        html, url = task
        try:
            conn.send(("ok", target(html, url, config)))
        except Exception as exc:  # noqa: BLE001 - any failure is this page's, reported as a counted drop
            conn.send(("error", f"{type(exc).__name__}: {exc}"[:2000]))


class ExtractionWorker:
    """Runs `extract_code_page` in a child process with `config.timeout_s` per page; restarts the child after a kill."""

    def __init__(self, config: ExtractConfig, target: Callable | None = None):
        self.config = config
        self.target = target  # a module-level function(html, url, config); None: extract_code_page
        self._ctx = multiprocessing.get_context("spawn")  # fork is unsafe in a threaded Beam worker
        self._proc = None
        self._conn = None
        self.restarts = 0
        self._start()

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_serve, args=(child, self.config, self.target), daemon=True,
                                       name="syncode-extract")
        self._proc.start()
        child.close()
        self._conn = parent
        if not parent.poll(_START_TIMEOUT_S):
            raise RuntimeError(f"the extraction worker did not start within {_START_TIMEOUT_S:.0f}s")
        parent.recv()

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(5)
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    def extract(self, html: str, url: str) -> Any:
        """The ExtractedPage or Drop for one page; `extract_timeout` when it ran past the limit."""
        if self._proc is None or not self._proc.is_alive():
            self._kill()
            self._start()
        try:
            self._conn.send((html, url))
            ready = self._conn.poll(self.config.timeout_s) if self.config.timeout_s > 0 else self._conn.poll(None)
            if not ready:
                self._kill()
                self.restarts += 1
                self._start()
                return Drop("extract_timeout", f"over {self.config.timeout_s:g}s")
            status, value = self._conn.recv()
        except (EOFError, OSError, BrokenPipeError) as exc:  # the child died (memory, a crash in C code)
            self._kill()
            self.restarts += 1
            self._start()
            return Drop("extract_crash", f"{type(exc).__name__}: {exc}")
        if status == "error":
            return Drop("extract_error", value)
        return value

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send(None)
            except OSError:
                pass
        if self._proc is not None:
            self._proc.join(2)
        self._kill()
