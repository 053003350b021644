"""Entry point: `python -m pipeline JOB [flags]`."""

import os
import sys

from pipeline.cli import main

if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Leave without interpreter teardown: Beam's gRPC threads can abort ("terminate called without an active
    # exception") while the interpreter shuts down, turning a finished job into exit code -6.
    os._exit(code)
