"""Benchmark near-duplicate detection against datatrove's MinhashDedup, on real pages with planted copies.

Reads ../shared/data (or $SYNCODE_SHARED_DATA) and exits 0 with a message when it is missing. The datatrove peer
runs under $SYNCODE_PEER_PYTHON (default .bench-venv/bin/python, built by bench/setup_peers.sh) in a subprocess.

Measures, at Jaccard threshold 0.8 on word 5-gram sets (ground truth: exact Jaccard of every pair):
- pair precision/recall of the edges our clustering keeps (verified pairs) and of datatrove's duplicate pairs;
- document precision/recall: is each removed document a true duplicate of a kept one, over the ideal removals;
- throughput per core (CPU seconds) of shingling + signatures + bucketing, ours vs MinhashDedupSignature +
  MinhashDedupBuckets on the same documents in this run;
- peak RSS of the clustering step (ConnectedComponents) per worker on two corpus sizes and on more edges.
The last line is `RESULT key=value ...`."""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

# This file is bench/dedup.py: its folder must not shadow the `dedup` package, so the repo root replaces it.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from bench.dedup_corpus import (  # noqa: E402
    REPO,
    build_corpus,
    doc_metrics,
    pair_metrics,
    real_pages,
    require_shared,
    true_pairs,
)

THRESHOLD = 0.8


def our_signatures_and_buckets(docs: list[tuple[str, str]]) -> tuple[float, int]:
    """CPU seconds for shingling + signatures + bucketing (the same functions the Beam DoFns call), and the number
    of candidate pairs the buckets give."""
    from dedup.minhash import SignatureMaker, bucket_pairs, lsh_params

    maker = SignatureMaker(lsh_params(THRESHOLD))
    started = time.process_time()
    buckets: dict[tuple[int, int], list[str]] = defaultdict(list)
    for i in range(0, len(docs), 256):
        batch = docs[i:i + 256]
        sets = [maker.shingles(text) for _, text in batch]
        for (doc_id, _), sig in zip(batch, maker.signatures(sets), strict=True):
            for key in maker.band_keys(sig):
                buckets[key].append(doc_id)
    candidates = {pair for ids in buckets.values() if len(ids) > 1 for pair in bucket_pairs(ids, 64)}
    return time.process_time() - started, len(candidates)


def run_ours(docs: list[tuple[str, str]], work: Path) -> tuple[set, set, set, float]:
    """The Beam MinHashDedup on the local runner (2 workers), reading the documents from JSONL as the dedup job
    does: verified edges, removed ids, kept ids, wall seconds."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from dedup.records import DocView
    from pipeline.options import LOCAL_RUNNER_FLAGS
    from transforms.dedup import MinHashDedup, NearDedupConfig
    from transforms.read_docs import text_doc_from_json

    path = work / "ours.jsonl"
    path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in docs))
    started = time.monotonic()
    with beam.Pipeline(options=PipelineOptions(list(LOCAL_RUNNER_FLAGS))) as p:
        out = (p | beam.io.ReadFromText(str(path)) | beam.Map(text_doc_from_json)
               | MinHashDedup(NearDedupConfig(threshold=THRESHOLD), DocView()))
        out["edges"] | "E" >> beam.Map(json.dumps) | "WE" >> beam.io.WriteToText(str(work / "edges"))
        (out["clusters"] | "C" >> beam.Map(lambda r: json.dumps([r.id, r.kept]))
         | "WC" >> beam.io.WriteToText(str(work / "clusters")))
    wall = time.monotonic() - started
    edges = {tuple(sorted(json.loads(x))) for f in work.glob("edges*") for x in f.read_text().splitlines()}
    rows = [json.loads(x) for f in work.glob("clusters*") for x in f.read_text().splitlines()]
    return edges, {i for i, k in rows if not k}, {i for i, k in rows if k}, wall


def run_datatrove(docs: list[tuple[str, str]], work: Path) -> dict | None:
    python = os.environ.get("SYNCODE_PEER_PYTHON", str(REPO / ".bench-venv" / "bin" / "python"))
    if not Path(python).exists():
        print(f"datatrove peer interpreter {python} not found (run bench/setup_peers.sh or set SYNCODE_PEER_PYTHON)")
        return None
    path = work / "docs.jsonl"
    path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in docs))
    proc = subprocess.run([python, str(Path(__file__).with_name("peer_datatrove_minhash.py")), str(path),
                           str(work / "datatrove"), str(work / "datatrove.json")], capture_output=True, text=True)
    if proc.returncode != 0:
        print("datatrove failed:\n" + proc.stderr[-3000:])
        return None
    return json.loads((work / "datatrove.json").read_text())


def cluster_memory(edges_path: str) -> None:
    """Child mode: run the clustering step alone in this process (one in-memory worker) and print its peak RSS
    (VmHWM, which exec resets, unlike ru_maxrss that keeps the forking parent's size)."""
    import apache_beam as beam
    import psutil
    from apache_beam.options.pipeline_options import PipelineOptions

    from dedup.components import ConnectedComponents

    edges = [tuple(e) for e in json.loads(Path(edges_path).read_text())]
    before = psutil.Process().memory_info().rss
    options = PipelineOptions(["--runner=FnApiRunner", "--direct_running_mode=in_memory", "--direct_num_workers=1"])
    with beam.Pipeline(options=options) as p:
        _ = p | beam.Create(edges) | ConnectedComponents(8) | beam.combiners.Count.Globally()
    status = Path("/proc/self/status").read_text()
    peak = int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) * 1024
    print(json.dumps({"rss_before_mb": before / 2**20, "peak_rss_mb": peak / 2**20}))


def measure_cluster_memory(edges: list[tuple[str, str]], work: Path, name: str) -> dict:
    path = work / f"cc-{name}.json"
    path.write_text(json.dumps(edges))
    proc = subprocess.run([sys.executable, __file__, "--cluster-memory", str(path)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def replicate(edges: list[tuple[str, str]], times: int) -> list[tuple[str, str]]:
    """The same duplicate graph `times` over with fresh ids: a corpus with that many more duplicates."""
    return [(f"{a}#{k}", f"{b}#{k}") for k in range(times) for a, b in edges]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", type=int, default=250, help="real pages that get planted copies")
    parser.add_argument("--copies", type=int, default=4, help="planted copies per family")
    parser.add_argument("--cluster-memory", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cluster_memory:
        cluster_memory(args.cluster_memory)
        return
    require_shared()
    started = time.monotonic()
    texts = real_pages()
    docs = build_corpus(texts, args.families, args.copies)
    truth, ideal = true_pairs(docs, THRESHOLD)
    print(f"corpus: {len(texts)} real pages from ../shared/data (debian-docs, trafilatura-eval, article-benchmark) "
          f"+ {len(docs) - len(texts)} planted copies = {len(docs)} docs; {len(truth)} true pairs with Jaccard >= "
          f"{THRESHOLD}; ideal removals {ideal} (prepared in {time.monotonic() - started:.0f}s)")
    random.Random(1).shuffle(docs)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cpu_ours, n_cand = our_signatures_and_buckets(docs)
        edges, removed, kept, wall = run_ours(docs, work)
        peer = run_datatrove(docs, work)

        precision, recall = pair_metrics(edges, truth)
        doc_p, doc_r = doc_metrics(removed, kept, truth, ideal)
        docs_per_s = len(docs) / cpu_ours
        print(f"ours: {len(edges)} verified edges from {n_cand} candidate pairs; pair precision {precision:.4f} "
              f"recall {recall:.4f}; removed {len(removed)}, doc precision {doc_p:.4f} recall {doc_r:.4f}")
        print(f"ours: shingles+signatures+buckets {cpu_ours:.2f} CPU s = {docs_per_s:.0f} docs/s per core; whole "
              f"Beam MinHashDedup on the local runner {wall:.1f}s wall ({len(docs) / wall:.0f} docs/s, 2 workers)")
        result = {"precision": precision, "recall": recall, "doc_precision": doc_p, "doc_recall": doc_r,
                  "beam_wall_s": wall}
        if peer:
            pairs = {tuple(x) for x in peer["pairs"]}
            dt_kept = set(peer["kept"])
            dt_removed = {i for i, _ in docs} - dt_kept
            dtp, dtr = pair_metrics(pairs, truth)
            dt_doc_p, dt_doc_r = doc_metrics(dt_removed, dt_kept, truth, ideal)
            cpu_dt = peer["cpu_s_signature"] + peer["cpu_s_buckets"]
            dt_docs_per_s = len(docs) / cpu_dt
            print(f"datatrove ({peer['config']}): {len(pairs)} duplicate pairs; pair precision {dtp:.4f} recall "
                  f"{dtr:.4f}; removed {len(dt_removed)}, doc precision {dt_doc_p:.4f} recall {dt_doc_r:.4f}")
            planted = {k: v for k, v in truth.items() if "-c" in k[0] or "-c" in k[1]}
            natural = {k: v for k, v in truth.items() if k not in planted}
            print(f"pair recall on the {len(planted)} planted / {len(natural)} natural (page-to-page) true pairs: "
                  f"ours {pair_metrics(edges, planted)[1]:.4f} / {pair_metrics(edges, natural)[1]:.4f}, datatrove "
                  f"{pair_metrics(pairs, planted)[1]:.4f} / {pair_metrics(pairs, natural)[1]:.4f} (the truth is "
                  "Jaccard on our \\w+ word 5-grams; datatrove shingles spaCy tokens of simplified text)")
            print(f"datatrove: signature {peer['cpu_s_signature']:.2f} + buckets {peer['cpu_s_buckets']:.2f} CPU s = "
                  f"{dt_docs_per_s:.0f} docs/s per core")
            result.update(datatrove_precision=dtp, datatrove_recall=dtr, datatrove_doc_precision=dt_doc_p,
                          datatrove_doc_recall=dt_doc_r, docs_per_s=docs_per_s, datatrove_docs_per_s=dt_docs_per_s,
                          speedup_vs_datatrove=docs_per_s / dt_docs_per_s)
        else:
            result.update(docs_per_s=docs_per_s)

        real_ids = sorted(i for i, _ in docs if "-c" not in i)
        family_bases = {i.split("-c")[0] for i, _ in docs if "-c" in i}
        small_ids = set(real_ids[: len(real_ids) // 4]) | family_bases | {i for i, _ in docs if "-c" in i}
        small_edges = sorted(e for e in edges if e[0] in small_ids and e[1] in small_ids)
        sizes = [("small", len(small_ids), small_edges), ("large", len(docs), sorted(edges)),
                 ("large_x100_dups", len(docs) + 99 * (len(docs) - len(texts)), replicate(sorted(edges), 100))]
        for name, n_docs, sample in sizes:
            mem = measure_cluster_memory(sample, work, name)
            print(f"clustering step, {name}: {n_docs} docs, {len(sample)} edges -> peak RSS "
                  f"{mem['peak_rss_mb']:.0f} MiB per worker ({mem['peak_rss_mb'] - mem['rss_before_mb']:.0f} MiB "
                  f"above the worker's baseline)")
            result[f"cluster_rss_mb_{name}"] = mem["peak_rss_mb"]
            result[f"cluster_edges_{name}"] = len(sample)
            result[f"cluster_docs_{name}"] = n_docs
    print("RESULT " + " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
