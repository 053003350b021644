"""Remote reads survive resets: a local HTTP server cuts the connection mid-file and honours Range; the reader
resumes at the last byte, and when the server keeps failing the rest of the file is one read_error at its offset."""

from __future__ import annotations

import http.server
import re
import socket
import struct
import threading

import pytest

from tests.conftest import SAMPLE_WARCS
from tests.transforms.test_read_warc import _read
from transforms.read_warc import ReadConfig
from transforms.resuming_read import ReadFailed, ResumingReader, open_http

WARC = next(p for p in SAMPLE_WARCS if "resiliparse" in p.name)


class _CuttingServer(http.server.ThreadingHTTPServer):
    """Serves one file; `cut_at` bytes into the file the connection is reset (once, or on every request past it)."""

    daemon_threads = True

    def __init__(self, data: bytes, cut_at: int, always: bool):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.data, self.cut_at, self.always = data, cut_at, always
        self.cuts, self.ranges = 0, []

    def handle_error(self, request, client_address) -> None:
        pass  # the resets are the point


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        server: _CuttingServer = self.server
        data, start = server.data, 0
        match = re.match(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match:
            start = int(match.group(1))
            server.ranges.append(start)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        cut = server.cut_at if (server.always or server.cuts == 0) and start <= server.cut_at else None
        if cut is None:
            self.wfile.write(data[start:])
            return
        self.wfile.write(data[start:cut])
        self.wfile.flush()
        server.cuts += 1
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()  # linger 0: a reset, not a clean end


@pytest.fixture
def serve():
    servers = []

    def start(cut_at: int, always: bool = False) -> tuple[_CuttingServer, str]:
        server = _CuttingServer(WARC.read_bytes(), cut_at, always)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server, f"http://127.0.0.1:{server.server_address[1]}/{WARC.name}"
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_reset_mid_file_is_resumed_with_range_and_loses_nothing(serve):
    cut = len(WARC.read_bytes()) // 2
    server, url = serve(cut)
    pages, dropped = _read(url, ReadConfig(audit_non_responses=True, retry_backoff_s=0.01))
    local_pages, local_dropped = _read(str(WARC), ReadConfig(audit_non_responses=True))
    # bytes in flight when the reset came are lost on the way: the resume starts at the last byte received
    assert server.cuts == 1 and len(server.ranges) == 1 and 0 < server.ranges[0] <= cut
    assert [p.id for p in pages] == [p.id for p in local_pages] and len(pages) == 16
    assert [d.reason for d in dropped] == [d.reason for d in local_dropped]


def test_a_server_that_keeps_failing_makes_the_rest_one_read_error_with_the_offset(serve):
    cut = len(WARC.read_bytes()) // 2
    server, url = serve(cut, always=True)
    pages, dropped = _read(url, ReadConfig(audit_non_responses=True, read_retries=2, retry_backoff_s=0.01))
    # each retry resumed where the last byte arrived, and failed there again
    at = server.ranges[-1]
    assert len(server.ranges) == 2 and server.ranges[0] == at and 0 < at <= cut
    errors = [d for d in dropped if d.reason == "read_error"]
    assert len(errors) == 1 and f"read failed at byte {at} after 3 attempt(s)" in errors[0].detail
    assert 0 < len(pages) < 16  # what came before the cut is kept


def test_the_reader_hands_out_exact_bytes_across_resets(serve):
    data = WARC.read_bytes()
    server, url = serve(1000)
    with ResumingReader(url, lambda offset: open_http(url, offset), backoff_s=0.01) as fh:
        got = b"".join(iter(lambda: fh.read(4096), b""))
    assert got == data and fh.resumes == 1


def test_retries_run_out_with_the_offset(serve):
    server, url = serve(1000, always=True)
    with ResumingReader(url, lambda offset: open_http(url, offset), retries=1, backoff_s=0.01) as fh:
        with pytest.raises(ReadFailed, match=r"at byte \d+ after 2 attempt") as info:
            while fh.read(4096):
                pass
    assert info.value.offset <= 1000 and f"at byte {info.value.offset} " in str(info.value)
