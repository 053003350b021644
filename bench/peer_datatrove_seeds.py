"""The peer: datatrove's WarcReader -> Trafilatura -> LanguageFilter -> GopherQualityFilter on a folder of WARCs.

Runs under the peer interpreter ($SYNCODE_PEER_PYTHON, a venv with datatrove 0.10.1), never under ours.
Usage: peer_datatrove_seeds.py WARC_DIR LID_MODEL; prints one JSON line: pages, kept, CPU and wall seconds, drops.
LanguageFilter gets the same lid.176 model we use (it would download lid.176.bin, and this machine is offline).
"""

import json
import resource
import sys
import time

from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.filters import GopherQualityFilter, LanguageFilter
from datatrove.pipeline.readers import WarcReader
from fasttext.FastText import _FastText


def _cpu() -> float:
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def main() -> None:
    folder, lid_model = sys.argv[1], sys.argv[2]
    cpu0, wall0 = _cpu(), time.perf_counter()
    reader = WarcReader(folder, glob_pattern="*.warc.gz")
    language = LanguageFilter(languages=["en", "zh"])
    language.model._model = _FastText(model_path=lid_model)
    # datatrove defaults, but 10 s per page instead of 1 s: a timed-out page would skip the work we measure
    steps = [Trafilatura(favour_precision=True, timeout=10.0), language, GopherQualityFilter()]
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
    stats = {type(step).__name__: {k: v.get("total", v) if isinstance(v, dict) else v
                                   for k, v in step.stats.to_dict().get("stats", step.stats.to_dict()).items()}
             for step in steps}
    print(json.dumps({"pages": pages, "kept": kept, "cpu_s": cpu, "wall_s": wall, "stats": stats}))


if __name__ == "__main__":
    main()
