"""Run datatrove's Trafilatura extractor (the peer) on JSON lines of HTML from stdin; print JSON lines of text.

Runs under the peer interpreter ($SYNCODE_PEER_PYTHON, a venv with datatrove 0.10.1), never under ours.
"""

import json
import sys
import time

from datatrove.pipeline.extractors import Trafilatura


def main() -> None:
    extractor = Trafilatura(favour_precision=True, timeout=10.0)  # datatrove's defaults, with room for big pages
    for line in sys.stdin:
        html = json.loads(line)["html"]
        start = time.perf_counter()
        try:
            text = extractor.extract(html) or ""
        except Exception as exc:  # noqa: BLE001 - report the peer's failure as an empty result, as datatrove does
            text = ""
            print(f"datatrove error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.stdout.write(json.dumps({"text": text, "seconds": time.perf_counter() - start}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
