"""Run datatrove's Trafilatura extractor (the peer) on JSON lines of HTML from stdin; print JSON lines of text.

Runs under the peer interpreter ($SYNCODE_PEER_PYTHON, a venv with datatrove 0.10.1), never under ours. Each line
carries the page's `error` ("" when none), so the bench can tell a peer that did not run from one that found nothing.
"""

import json
import sys
import time

from datatrove.pipeline.extractors import Trafilatura


def main() -> None:
    extractor = Trafilatura(favour_precision=True, timeout=10.0)  # datatrove's defaults, with room for big pages
    for line in sys.stdin:
        html = json.loads(line)["html"]
        start, error = time.perf_counter(), ""
        try:
            text = extractor.extract(html) or ""
        except Exception as exc:  # noqa: BLE001 - an empty result, as datatrove makes it, with the error for the bench
            text, error = "", f"{type(exc).__name__}: {exc}"
            print(f"datatrove error: {error}", file=sys.stderr)
        sys.stdout.write(json.dumps({"text": text, "seconds": time.perf_counter() - start, "error": error}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
