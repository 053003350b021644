"""datatrove's MinhashDedup end to end (JSONL in, signature, buckets, cluster, filter, JSONL out), timed per stage.

Runs under the peer interpreter ($SYNCODE_PEER_PYTHON, a venv with datatrove 0.10.1), never under ours.
Usage: python peer_datatrove_minhash.py DOCS.jsonl WORKDIR OUT.json
Each stage runs in this one process (one core), as a datatrove user chains them: JsonlReader -> MinhashDedupSignature;
MinhashDedupBuckets (its num_buckets tasks one after another, as datatrove requires a task count that is a multiple of
the band count); MinhashDedupCluster; JsonlReader -> MinhashDedupFilter -> JsonlWriter. The caller times the whole
process; the per-stage CPU and wall seconds here say where the time went."""

from __future__ import annotations

import json
import struct
import sys
import time
from pathlib import Path

from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
    MinhashDedupSignature,
)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter


def _timed(times: dict, name: str, fn) -> object:
    cpu, wall = time.process_time(), time.monotonic()
    out = fn()
    times[f"cpu_s_{name}"] = time.process_time() - cpu
    times[f"wall_s_{name}"] = time.monotonic() - wall
    return out


def _drain(steps: list, rank: int = 0, world_size: int = 1) -> list:
    """Chains pipeline steps as datatrove's executor does (each step's run() takes the previous one's generator)."""
    data = None
    for step in steps:
        data = step.run(data, rank, world_size)
    return list(data) if data is not None else []


def main(docs_path: str, workdir: str, out_path: str) -> None:
    folder, name, work = Path(docs_path).parent, Path(docs_path).name, Path(workdir)
    config = MinhashConfig()  # 5-grams, 14 buckets x 8 hashes, 64-bit xxhash: datatrove's defaults
    times: dict[str, float] = {}

    def reader() -> JsonlReader:
        return JsonlReader(str(folder), glob_pattern=name, compression=None, add_file_path=False)

    sig = MinhashDedupSignature(output_folder=str(work / "sigs"), config=config)
    sig.word_tokenizer.word_tokenize("warm up the tokenizer before timing the stage (the caller's clock counts it)")
    _timed(times, "signature", lambda: _drain([reader(), sig]))

    def buckets() -> None:
        for rank in range(config.num_buckets):
            MinhashDedupBuckets(input_folder=str(work / "sigs"), output_folder=str(work / "buckets"),
                                config=config).run(None, rank=rank, world_size=config.num_buckets)

    _timed(times, "buckets", buckets)
    _timed(times, "cluster", lambda: MinhashDedupCluster(input_folder=str(work / "buckets"),
                                                         output_folder=str(work / "remove"),
                                                         config=config).run(None, 0, 1))
    writer = JsonlWriter(str(work / "kept"), output_filename="${rank}.jsonl", compression=None)
    kept = _timed(times, "filter", lambda: _drain([reader(), MinhashDedupFilter(input_folder=str(work / "remove")),
                                                   writer]))
    ids = [json.loads(line)["id"] for line in Path(docs_path).read_text().splitlines() if line.strip()]
    pairs = set()
    for dups in sorted((work / "buckets").glob("*.dups")):
        for _f1, d1, _f2, d2 in struct.iter_unpack("<4I", dups.read_bytes()):
            a, b = ids[d1], ids[d2]
            pairs.add((min(a, b), max(a, b)))
    written = sum(1 for f in (work / "kept").glob("*.jsonl") for line in f.read_text().splitlines() if line.strip())
    Path(out_path).write_text(json.dumps({
        "docs": len(ids), **times, "pairs": sorted(pairs), "kept": [d.id for d in kept], "written": written,
        "config": {"n_grams": config.n_grams, "num_buckets": config.num_buckets,
                   "hashes_per_bucket": config.hashes_per_bucket}}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
