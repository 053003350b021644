"""The peers: datatrove's WarcReader -> [FastTextClassifierFilter] -> Trafilatura -> LanguageFilter -> Gopher.

Runs under the peer interpreter ($SYNCODE_PEER_PYTHON, a venv with datatrove 0.10.1), never under ours.
Usage: peer_datatrove_seeds.py WARC_DIR LID_MODEL [CODE_MODEL THRESHOLD]; prints one JSON line: pages, kept, CPU and
wall seconds, each step's stats. With CODE_MODEL the pipeline is the strongest a datatrove user could build for code
pages: datatrove's own fastText classifier filter with our code model, before the costly extraction, keeping pages
whose `code` score reaches THRESHOLD (ours). LanguageFilter gets the same lid.176 model we use (it would download
lid.176.bin, and this machine is offline).
"""

import json
import resource
import sys
import time

from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.filters import FastTextClassifierFilter, GopherQualityFilter, LanguageFilter
from datatrove.pipeline.readers import WarcReader
from fasttext.FastText import _FastText


def _cpu() -> float:
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def _stats(step) -> dict:
    raw = step.stats.to_dict()
    return {k: v.get("total", v) if isinstance(v, dict) else v for k, v in raw.get("stats", raw).items()}


def main() -> None:
    folder, lid_model = sys.argv[1], sys.argv[2]
    code_model, threshold = (sys.argv[3], float(sys.argv[4])) if len(sys.argv) > 4 else (None, 0.0)
    cpu0, wall0 = _cpu(), time.perf_counter()
    reader = WarcReader(folder, glob_pattern="*.warc.gz")
    language = LanguageFilter(languages=["en", "zh"])
    language.model._model = _FastText(model_path=lid_model)
    # datatrove defaults, but 10 s per page instead of 1 s: a timed-out page would skip the work we measure
    steps = [Trafilatura(favour_precision=True, timeout=10.0), language, GopherQualityFilter()]
    if code_model:
        classifier = FastTextClassifierFilter(code_model, keep_labels=("code", threshold),
                                              save_labels_in_metadata=False)
        classifier._model = _FastText(model_path=code_model)  # a local file: nothing to download
        steps.insert(0, classifier)
    pages = kept = 0

    def counted(docs):
        nonlocal pages
        for doc in docs:
            pages += 1
            yield doc

    docs = counted(reader.run(None, 0, 1))
    for step in steps:
        docs = step.run(docs, 0, 1)
    for _ in docs:
        kept += 1
    cpu, wall = _cpu() - cpu0, time.perf_counter() - wall0
    stats = {type(step).__name__: _stats(step) for step in steps}
    print(json.dumps({"pages": pages, "kept": kept, "cpu_s": cpu, "wall_s": wall, "stats": stats}))


if __name__ == "__main__":
    main()
