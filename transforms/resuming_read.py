"""Reads that survive the network: a remote file (http(s), gs://, s3://) read as one stream that, when a read fails,
reopens with backoff at the last byte it handed out (an HTTP Range request, or a seek) and goes on from there.

When the retries run out, the read raises ReadFailed with the offset, so the reader counts the rest of the file as
one `read_error` that says where it stopped, and keeps what came before.
"""

from __future__ import annotations

import http.client
import logging
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import BinaryIO

_LOG = logging.getLogger("syncode.read")
HTTP_TIMEOUT_S = 60.0
USER_AGENT = "syncode/0.1 (+https://github.com/syncode; Common Crawl reader)"
# what a cut connection raises from urllib, http.client, ssl and Beam's gcs/s3 readers
RETRYABLE = (OSError, http.client.HTTPException, socket.timeout, TimeoutError, EOFError)
_CONTENT_RANGE = re.compile(r"bytes (\d+)-")


class ReadFailed(OSError):
    """A remote read that still failed after every retry, at `offset` bytes into the file."""

    def __init__(self, path: str, offset: int, attempts: int, cause: BaseException):
        super().__init__(f"{path}: read failed at byte {offset} after {attempts} attempt(s): "
                         f"{type(cause).__name__}: {cause}")
        self.offset = offset


def open_http(url: str, offset: int = 0, timeout_s: float = HTTP_TIMEOUT_S) -> BinaryIO:
    """A response body from `offset` on: a Range request, and bytes skipped when a server ignores it (200)."""
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout_s)  # noqa: S310
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range") or "")
    start = int(match.group(1)) if response.status == 206 and match else 0
    length = response.headers.get("Content-Length")
    if length and length.isdigit():
        response.syncode_end = start + int(length)  # http.client returns b"" on a cut body: the reader checks
    if offset:
        skip = offset - start
        while skip > 0:  # the server sent from an earlier byte (or from the start): skip to where we were
            chunk = response.read(min(skip, 1 << 20))
            if not chunk:
                raise EOFError(f"{url}: the body ended before byte {offset}")
            skip -= len(chunk)
    return response


class ResumingReader:
    """A read-only stream over `open_at(offset)` that reopens at the current offset when a read fails, waiting
    `backoff_s`, then twice as long, up to `retries` times in a row (a successful read resets the count)."""

    def __init__(self, path: str, open_at: Callable[[int], BinaryIO], retries: int = 5, backoff_s: float = 1.0,
                 max_backoff_s: float = 30.0):
        self.path = path
        self.open_at = open_at
        self.retries = max(0, retries)
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.offset = 0
        self.resumes = 0  # reopenings after a failure, for the reader's counters
        self._fh: BinaryIO | None = self._open()

    def _open(self) -> BinaryIO:
        return self._retry(lambda: self.open_at(self.offset), first=True)

    def _retry(self, action, first: bool = False):
        failures, delay = 0, self.backoff_s
        while True:
            try:
                return action()
            except urllib.error.HTTPError as exc:
                if exc.code < 500 and exc.code not in (408, 429):
                    raise  # 404, 403: retrying will not help, and the caller reports it as it is
                cause = exc
            except RETRYABLE as exc:
                cause = exc
            failures += 1
            if failures > self.retries:
                raise ReadFailed(self.path, self.offset, failures, cause) from cause
            _LOG.warning("%s: %s at byte %d: %s; retrying in %.1fs (%d of %d)", self.path,
                         "open failed" if first else "read failed", self.offset, cause, delay, failures,
                         self.retries)
            time.sleep(delay)
            delay = min(delay * 2, self.max_backoff_s)
            self._close_fh()  # the next attempt reopens at self.offset

    def read(self, size: int = -1) -> bytes:
        def attempt() -> bytes:
            if self._fh is None:
                self._fh = self.open_at(self.offset)
                self.resumes += 1
            data = self._fh.read(size)
            end = getattr(self._fh, "syncode_end", None)
            if not data and size != 0 and end is not None and self.offset < end:  # closed before its length
                raise http.client.IncompleteRead(b"", end - self.offset)
            return data

        data = self._retry(attempt)
        self.offset += len(data)
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.offset

    def _close_fh(self) -> None:
        fh, self._fh = self._fh, None
        if fh is not None:
            try:
                fh.close()
            except Exception:  # noqa: BLE001 - a broken connection may fail to close; it is dropped either way
                pass

    def close(self) -> None:
        self._close_fh()

    def __enter__(self) -> ResumingReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
