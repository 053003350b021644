"""datatrove's MinhashDedup (signature, buckets, cluster, filter) on the benchmark's documents, timed per stage.

Runs under the peer interpreter ($SYNCODE_PEER_PYTHON, a venv with datatrove 0.10.1), never under ours.
Usage: python peer_datatrove_minhash.py DOCS.jsonl WORKDIR OUT.json
Each stage runs in this one process (one core); the buckets stage runs its num_buckets tasks one after another,
as datatrove requires a task count that is a multiple of the band count."""

from __future__ import annotations

import json
import struct
import sys
import time
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
    MinhashDedupSignature,
)


def main(docs_path: str, workdir: str, out_path: str) -> None:
    work = Path(workdir)
    rows = [json.loads(line) for line in Path(docs_path).read_text().splitlines() if line.strip()]
    docs = [Document(text=r["text"], id=r["id"]) for r in rows]
    config = MinhashConfig()  # 5-grams, 14 buckets x 8 hashes, 64-bit xxhash: datatrove's defaults
    sig = MinhashDedupSignature(output_folder=str(work / "sigs"), config=config)
    sig.word_tokenizer.word_tokenize("warm up the tokenizer before timing")
    started = time.process_time()
    sig.run(iter(docs), rank=0, world_size=1)
    t_sig = time.process_time() - started
    started = time.process_time()
    for rank in range(config.num_buckets):
        MinhashDedupBuckets(input_folder=str(work / "sigs"), output_folder=str(work / "buckets"),
                            config=config).run(None, rank=rank, world_size=config.num_buckets)
    t_buckets = time.process_time() - started
    started = time.process_time()
    MinhashDedupCluster(input_folder=str(work / "buckets"), output_folder=str(work / "remove"),
                        config=config).run(None, 0, 1)
    kept = [d.id for d in MinhashDedupFilter(input_folder=str(work / "remove")).run(iter(docs), 0, 1)]
    t_cluster = time.process_time() - started
    pairs = set()
    for dups in sorted((work / "buckets").glob("*.dups")):
        data = dups.read_bytes()
        for _f1, d1, _f2, d2 in struct.iter_unpack("<4I", data):
            a, b = docs[d1].id, docs[d2].id
            pairs.add((min(a, b), max(a, b)))
    Path(out_path).write_text(json.dumps({
        "docs": len(docs), "cpu_s_signature": t_sig, "cpu_s_buckets": t_buckets, "cpu_s_cluster_filter": t_cluster,
        "pairs": sorted(pairs), "kept": kept,
        "config": {"n_grams": config.n_grams, "num_buckets": config.num_buckets,
                   "hashes_per_bucket": config.hashes_per_bucket}}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
