"""The sandbox as a service: a small HTTP server over a Sandbox, and RemoteSandbox, a client with run/run_many."""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sandbox.samples import Outcome, Sample, error_outcome

_LOG = logging.getLogger("syncode.sandbox.service")
MAX_BODY = 8 * 1024 * 1024
SAMPLE_FIELDS = ("id", "language", "program", "tests")


def sample_from_json(row: object) -> tuple[Sample | None, str]:
    """(sample, '') from a JSON object, or (None, why) when it is not a valid sample."""
    if not isinstance(row, dict):
        return None, "not a JSON object"
    missing = [k for k in SAMPLE_FIELDS if not isinstance(row.get(k), str)]
    if missing:
        return None, "missing or non-string field(s): " + ", ".join(missing)
    if not row["id"]:
        return None, "id is empty"
    return Sample(**{k: row[k] for k in SAMPLE_FIELDS}), ""


class _Handler(BaseHTTPRequestHandler):
    server: SandboxServer

    def log_message(self, fmt: str, *args: object) -> None:  # the access log goes to logging, at debug
        _LOG.debug("%s " + fmt, self.address_string(), *args)

    def _reply(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        token = self.server.token
        if not token:
            return True
        given = self.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path != "/health":
            self._reply(404, {"error": "not found"})
            return
        sb = self.server.sandbox
        self._reply(200, {"level": sb.level, "runtimes": sorted(k for k, v in sb.toolchains.items() if v),
                          "parallelism": sb.settings.parallelism})

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        if self.path != "/run":
            self._reply(404, {"error": "not found"})
            return
        if not self._authorized():
            self._reply(401, {"error": "unauthorized"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > MAX_BODY:
            self._reply(413, {"error": f"the body must be 1 byte to {MAX_BODY} bytes"})
            return
        try:
            row = json.loads(self.rfile.read(length))
        except ValueError as exc:
            self._reply(400, {"error": f"invalid JSON: {exc}"})
            return
        sample, why = sample_from_json(row)
        if sample is None:
            self._reply(400, {"error": why})
            return
        if not self.server.inflight.acquire(timeout=self.server.queue_wait_s):
            self._reply(503, {"error": "busy"})
            return
        try:
            outcome = self.server.sandbox.run(sample)
        finally:
            self.server.inflight.release()
        self._reply(200, outcome.to_json())


class SandboxServer(ThreadingHTTPServer):
    """HTTP over one Sandbox: POST /run (a sample as JSON, the outcome back), GET /health; bounded concurrency."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], sandbox: object, max_inflight: int | None = None,
                 token: str = "", queue_wait_s: float = 30.0) -> None:
        super().__init__(address, _Handler)
        self.sandbox = sandbox
        self.token = token
        self.queue_wait_s = queue_wait_s
        self.inflight = threading.BoundedSemaphore(max_inflight or sandbox.settings.parallelism * 2)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class RemoteSandbox:
    """A client of `python -m pipeline sandbox-serve` with the Sandbox's run/run_many; a failed call is an outcome."""

    def __init__(self, url: str, parallelism: int = 4, timeout_s: float = 600.0, retries: int = 5,
                 token: str = "") -> None:
        self.url = url.rstrip("/")
        self.parallelism = parallelism
        self.timeout_s = timeout_s
        self.retries = retries
        self._token = token
        health = self._get("/health")
        self.level = health["level"]
        self.toolchains = {k: True for k in health["runtimes"]}

    def _get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=self.timeout_s) as reply:
            return json.loads(reply.read())

    def run(self, sample: Sample) -> Outcome:
        body = json.dumps({k: getattr(sample, k, None) for k in SAMPLE_FIELDS}).encode()
        headers = {"Content-Type": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        delay, last = 0.5, ""
        for _ in range(self.retries + 1):
            request = urllib.request.Request(self.url + "/run", data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
                    return Outcome.from_json(json.loads(reply.read()))
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}: {exc.read()[:200].decode('utf-8', 'replace')}"
                if exc.code not in (429, 502, 503, 504):
                    break
            except (urllib.error.URLError, OSError, ValueError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
        return error_outcome(str(getattr(sample, "id", "")), f"remote sandbox {self.url}: {last}", self.level)

    def run_many(self, samples: Iterable[Sample]) -> Iterator[Outcome]:
        with ThreadPoolExecutor(max_workers=self.parallelism, thread_name_prefix="remote-sandbox") as pool:
            pending: set = set()
            for sample in samples:
                pending.add(pool.submit(self.run, sample))
                if len(pending) >= self.parallelism * 2:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    yield from (f.result() for f in done)
            for future in pending:
                yield future.result()

    def close(self) -> None:
        pass
