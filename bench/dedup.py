"""Benchmark near-duplicate detection against datatrove's MinhashDedup, on real pages with planted copies.

Reads ../shared/data (or $SYNCODE_SHARED_DATA) and exits 0 with a message when it is missing; `--smoke` runs on the
8 bundled tutorial pages (tests/data/dedup) instead, in well under a minute. The datatrove peer runs under
$SYNCODE_PEER_PYTHON (default .bench-venv/bin/python, built by bench/setup_peers.sh) in a subprocess with a time limit.

Measures, at Jaccard threshold 0.8 on word 5-gram sets, with the truth taken from the planting (bench/dedup_corpus.py:
each copy knows its original and its edit rate; <= 2% edits is a duplicate, >= 5% a distinct document, in between
is not scored):
- document precision/recall on the planted families, of our whole dedup job and of datatrove's;
- the whole dedup job end to end (`python -m pipeline dedup`: read, exact + MinHash dedup, joins, Parquet writes)
  against datatrove's four MinHash stages end to end (JSONL read, signature, buckets, cluster, filter, JSONL write),
  CPU seconds of each process tree and wall seconds, on the same JSONL in this run;
- throughput per core (CPU seconds) of shingling + signatures + bucketing, ours vs MinhashDedupSignature +
  MinhashDedupBuckets on the same documents in this run;
- peak RSS of the clustering step (ConnectedComponents) per worker on two corpus sizes and on more edges.
The last line is `RESULT key=value ...`."""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
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
    DISTINCT_MIN_RATE,
    DUPLICATE_MAX_RATE,
    REPO,
    build_corpus,
    doc_metrics,
    fixture_pages,
    pair_recall,
    real_pages,
    require_shared,
)

THRESHOLD = 0.8
# The smoke run's job: one in-process worker, which starts in seconds (the full run uses the job's default: all cores).
SMOKE_RUNNER = ("--runner=FnApiRunner", "--direct_running_mode=in_memory", "--direct_num_workers=1")


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


def _timed_run(cmd: list[str], timeout_s: float, **kwargs) -> tuple[subprocess.CompletedProcess | None, float, float]:
    """Runs a command in its own process group, killed (the whole group) past `timeout_s`; returns the completed
    process (None on a stall), its wall seconds, and the CPU seconds of its process tree (user + system of every
    descendant it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            **kwargs)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None, time.monotonic() - started, 0.0
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), wall, cpu


def run_job(docs_path: Path, work: Path, timeout_s: float, runner_flags: tuple[str, ...] = ()) -> dict | None:
    """Our whole dedup job on the JSONL, as a user runs it (decontamination off: datatrove has none); the removed
    and kept ids from OUT/clusters, and its wall and process-tree CPU seconds."""
    import pyarrow.parquet as pq

    out = work / "job"
    cmd = [sys.executable, "-m", "pipeline", "dedup", "--input", str(docs_path), "--output", str(out),
           "--set", "dedup.decontam.enabled=false", "--set", f"dedup.near.threshold={THRESHOLD}",
           "--log_level", "warning", *runner_flags]
    proc, wall, cpu = _timed_run(cmd, timeout_s, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    if proc is None:
        print(f"ours: the dedup job stalled: killed after {wall:.0f}s (--job_timeout_s)")
        return None
    if proc.returncode != 0:
        print("ours: the dedup job failed:\n" + proc.stderr[-3000:])
        return None
    rows = pq.read_table(str(out / "clusters")).to_pylist()
    return {"removed": {r["id"] for r in rows if not r["kept"]}, "kept": {r["id"] for r in rows if r["kept"]},
            "wall_s": wall, "cpu_s": cpu}


def run_datatrove(docs_path: Path, work: Path, n_docs: int, timeout_s: float) -> dict | None:
    """datatrove's four MinHash stages end to end under the peer interpreter, killed past `timeout_s`; None (and
    why, printed) unless it ran to the end and wrote every document it kept."""
    python = os.environ.get("SYNCODE_PEER_PYTHON", str(REPO / ".bench-venv" / "bin" / "python"))
    if not Path(python).exists():
        print(f"datatrove peer interpreter {python} not found (run bench/setup_peers.sh or set SYNCODE_PEER_PYTHON)")
        return None
    out_json = work / "datatrove.json"
    cmd = [python, str(Path(__file__).with_name("peer_datatrove_minhash.py")), str(docs_path), str(work / "datatrove"),
           str(out_json)]
    proc, wall, cpu = _timed_run(cmd, timeout_s)
    if proc is None:
        print(f"datatrove peer STALLED: killed after {wall:.0f}s (--peer_timeout_s); no ratio is reported")
        return {"stalled": True}
    if proc.returncode != 0:
        print("datatrove failed:\n" + proc.stderr[-3000:])
        return None
    peer = json.loads(out_json.read_text())
    if peer["docs"] != n_docs or not peer["kept"] or peer["written"] != len(peer["kept"]):
        print(f"datatrove peer output is not whole (read {peer['docs']} of {n_docs} docs, kept {len(peer['kept'])}, "
              f"wrote {peer['written']}); no ratio is reported")
        return None
    return {**peer, "wall_s": wall, "cpu_s": cpu}


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


def planted_summary(name: str, m: dict) -> str:
    return (f"{name}: doc precision {m['precision']:.4f} recall {m['recall']:.4f} on the planted families "
            f"(removed {m['distinct_removed']} of {m['distinct']} distinct copies; {m['boundary_removed']} of "
            f"{m['boundary']} boundary copies, not scored; {m['unjudged_removed']} removals outside the families, "
            "not judged)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", type=int, default=250, help="real pages that get planted copies")
    parser.add_argument("--copies", type=int, default=4, help="planted copies per family")
    parser.add_argument("--smoke", action="store_true",
                        help="the 8 bundled tutorial pages (tests/data/dedup), 8 copies each; no clustering memory")
    parser.add_argument("--peer_timeout_s", type=float, default=1800, help="kill the datatrove peer past this")
    parser.add_argument("--job_timeout_s", type=float, default=1800, help="kill our dedup job past this")
    parser.add_argument("--cluster-memory", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cluster_memory:
        cluster_memory(args.cluster_memory)
        return
    if args.smoke:
        texts, source, families, copies = fixture_pages(), "tests/data/dedup (smoke)", 8, 8
    else:
        require_shared()
        texts = real_pages()
        source = "../shared/data (debian-docs, trafilatura-eval, article-benchmark)"
        families, copies = args.families, args.copies
    docs, planted = build_corpus(texts, families, copies)
    kinds = [p.kind for p in planted.values()]
    print(f"corpus: {len(texts)} real pages from {source} + {len(planted)} planted copies = {len(docs)} docs; "
          f"copies with <= {DUPLICATE_MAX_RATE:.0%} of words edited are duplicates ({kinds.count('duplicate')}), "
          f">= {DISTINCT_MIN_RATE:.0%} distinct ({kinds.count('distinct')}), in between boundary "
          f"({kinds.count('boundary')}, not scored)")
    random.Random(1).shuffle(docs)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        docs_path = work / "docs.jsonl"
        docs_path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in docs))
        cpu_ours, n_cand = our_signatures_and_buckets(docs)
        job = run_job(docs_path, work, args.job_timeout_s, SMOKE_RUNNER if args.smoke else ())
        peer = run_datatrove(docs_path, work, len(docs), args.peer_timeout_s)
        docs_per_s = len(docs) / cpu_ours
        result: dict = {"docs": len(docs)}
        print(f"ours: shingles+signatures+buckets {cpu_ours:.2f} CPU s = {docs_per_s:.0f} docs/s per core "
              f"({n_cand} candidate pairs)")
        if job:
            ours = doc_metrics(job["removed"], planted)
            print(planted_summary("ours (python -m pipeline dedup)", ours))
            print(f"ours end to end: {job['cpu_s']:.1f} CPU s, {job['wall_s']:.1f}s wall "
                  f"({len(docs) / job['cpu_s']:.0f} docs per CPU s)")
            result.update(doc_precision_planted=ours["precision"], doc_recall_planted=ours["recall"],
                          end_to_end_cpu_s=job["cpu_s"], end_to_end_wall_s=job["wall_s"])
        else:
            result.update(job_failed=1)
        result.update(docs_per_s=docs_per_s)
        if peer and peer.get("stalled"):
            result.update(datatrove_stalled=1)
        elif peer:
            dt_kept = set(peer["kept"])
            theirs = doc_metrics({i for i, _ in docs} - dt_kept, planted)
            pairs = {tuple(x) for x in peer["pairs"]}
            cpu_dt = peer["cpu_s_signature"] + peer["cpu_s_buckets"]
            dt_docs_per_s = len(docs) / cpu_dt
            print(planted_summary(f"datatrove ({peer['config']})", theirs))
            stages = ", ".join(f"{s} {peer[f'cpu_s_{s}']:.2f}" for s in ("signature", "buckets", "cluster", "filter"))
            print(f"datatrove end to end: {peer['cpu_s']:.1f} CPU s, {peer['wall_s']:.1f}s wall (stages, CPU s: "
                  f"{stages}; the rest is start-up: interpreter, imports, spaCy); signature + buckets = "
                  f"{dt_docs_per_s:.0f} docs/s per core")
            result.update(datatrove_doc_precision_planted=theirs["precision"],
                          datatrove_doc_recall_planted=theirs["recall"],
                          datatrove_pair_recall_planted=pair_recall(pairs, planted, "duplicate"),
                          datatrove_end_to_end_cpu_s=peer["cpu_s"], datatrove_end_to_end_wall_s=peer["wall_s"],
                          datatrove_docs_per_s=dt_docs_per_s, speedup_vs_datatrove=docs_per_s / dt_docs_per_s)
            if job:
                result.update(end_to_end_speedup_vs_datatrove=peer["cpu_s"] / job["cpu_s"],
                              end_to_end_wall_speedup_vs_datatrove=peer["wall_s"] / job["wall_s"])
        if not args.smoke:
            cluster_section(docs, texts, planted, work, result)
    print("RESULT " + " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))


def cluster_section(docs: list[tuple[str, str]], texts: list[str], planted: dict, work: Path, result: dict) -> None:
    """Our MinHashDedup alone (for its verified edges: planted pair recall), then the clustering step's peak RSS
    on two corpus sizes and on 100x the duplicate edges."""
    edges, _removed, _kept, wall = run_ours(docs, work)
    result["pair_recall_planted"] = pair_recall(edges, planted, "duplicate")
    print(f"ours: MinHashDedup alone on the local runner {wall:.1f}s wall, {len(edges)} verified edges; pair recall "
          f"on the planted duplicates {result['pair_recall_planted']:.4f}")
    real_ids = sorted(i for i, _ in docs if "-c" not in i)
    family_bases = {p.original for p in planted.values()}
    small_ids = set(real_ids[: len(real_ids) // 4]) | family_bases | set(planted)
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


if __name__ == "__main__":
    main()
