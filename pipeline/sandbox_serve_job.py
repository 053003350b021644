"""`python -m pipeline sandbox-serve`: the sandbox as an HTTP service, for workers whose container forbids bwrap."""

from __future__ import annotations

import argparse
import logging
import os

from pipeline.errors import EXIT_OK, UsageError
from pipeline.sandbox_flags import add_sandbox_flags, settings_from_flags
from sandbox import Sandbox, SandboxUnavailable
from sandbox.remote import SandboxServer

_LOG = logging.getLogger("syncode.sandbox_serve")


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (0.0.0.0 to serve other nodes; "
                        "then set $SYNCODE_SANDBOX_TOKEN so only the pipeline may call it).")
    parser.add_argument("--port", type=int, default=8377, help="Port to listen on (0: any free port).")
    parser.add_argument("--max_inflight", type=int, default=0,
                        help="Requests held at once (default 2 x parallelism); past it the server answers 503.")
    add_sandbox_flags(parser)


def run(ns: argparse.Namespace, _beam_argv: list[str]) -> int:
    """Serve POST /run and GET /health until interrupted."""
    try:
        sandbox = Sandbox(settings_from_flags(ns))
    except SandboxUnavailable as exc:
        raise UsageError(f"the sandbox cannot start here: {exc}") from exc
    token = os.environ.get("SYNCODE_SANDBOX_TOKEN", "")
    if ns.host not in ("127.0.0.1", "localhost", "::1") and not token:
        _LOG.warning("sandbox-serve: listening on %s without $SYNCODE_SANDBOX_TOKEN: anyone who reaches it can run "
                     "code in the sandbox", ns.host)
    server = SandboxServer((ns.host, ns.port), sandbox, max_inflight=ns.max_inflight or None, token=token)
    print(f"sandbox-serve: {server.url} level={sandbox.level} parallelism={sandbox.settings.parallelism}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sandbox.close()
    return EXIT_OK
