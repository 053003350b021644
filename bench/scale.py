"""Memory and CPU of the seeds job as its input grows, and the size of the Dataflow job request for a big listing.

The seeds job runs on 1x, 4x and 16x one input: real WARCs replicated with distinct record ids and URLs (copy k of a
record gets a new WARC-Record-ID and `?syncode_copy=k` on its URL; the payloads stay real). One FnApiRunner worker
process (`--direct_num_workers=1`), so "the worker" is one process: its peak RSS is sampled every 50 ms. CPU is
user + sys of the whole process tree; the CPU of a start-up run on two documentation pages that become seeds (so
every stage starts and loads its models: Beam, fastText, the classifier) is subtracted, measured in the same run
(the least of two), so CPU per page is the cost of a page over the job's fixed start-up. Shards: the files each output
has, sharded by target size (`output.*_num_shards=0`, a target small enough that the sizes shard differently).

The job request: `--runner DataflowRunner --dry_run` of the seeds job on a listing of 100,000 WARC paths, against
the peer graph this job used to build (`beam.Create` of the 100,000 paths, then ReadWarc), translated the same way.

Reads ../shared/data (or $SYNCODE_SHARED_DATA): the three trafilatura-eval WARCs, 744 real pages (a Common-Crawl-like
mix, ~5% with code) as 1x;
exits 0 with a message when it is missing. `--smoke` uses the bundled sample/warc/cc-resiliparse__warcfile.warc.gz
(16 real CC pages) instead. Goals: rss_ratio_16x <= 1.25, cpu_per_page_ratio_16x within 0.85..1.15.

Usage: python bench/scale.py [--data DIR] [--sizes 1,4,16] [--smoke]
Last line: RESULT rss_ratio_16x=... cpu_per_page_ratio_16x=... job_request_bytes_100k_paths=...
           job_request_bytes_100k_paths_create_peer=... peak_rss_mb_1x=... peak_rss_mb_16x=...
           cpu_ms_per_page_1x=... cpu_ms_per_page_16x=... pages_1x=... pages_16x=... seeds_shards_16x=...
           dropped_shards_16x=... cpu_marginal_ratio_16x=...
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SMOKE_WARC = REPO / "sample" / "warc" / "cc-resiliparse__warcfile.warc.gz"
# the start-up run reads two real documentation pages that become seeds, so every stage starts (and loads its
# models) as in the measured runs, while the pages themselves cost a few milliseconds
STARTUP_SOURCE = REPO / "sample" / "warc" / "debian-docs-sample.warc.gz"
_CANDIDATES = (REPO.parent / "shared" / "data", Path("/work/shared/data"))


def shared_data(explicit: str | None) -> Path:
    return Path(explicit or os.environ.get("SYNCODE_SHARED_DATA")
                or next((c for c in _CANDIDATES if c.is_dir()), _CANDIDATES[0]))


def replicate(source: Path, copies: int, out_dir: Path) -> list[Path]:
    """`copies` WARC files, copy k of every record with its own record id and URL; payloads byte for byte."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.warcwriter import WARCWriter

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(copies):
        path = out_dir / f"copy-{k:03d}-{source.name}"
        with open(source, "rb") as fh, open(path, "wb") as out:
            writer = WARCWriter(out, gzip=True)
            for record in ArchiveIterator(fh):
                headers = record.rec_headers
                old_id = headers.get_header("WARC-Record-ID") or ""
                new_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{old_id}/{k}")
                headers.replace_header("WARC-Record-ID", f"<urn:uuid:{new_id}>")
                url = headers.get_header("WARC-Target-URI")
                if url and k:
                    headers.replace_header("WARC-Target-URI", f"{url}{'&' if '?' in url else '?'}syncode_copy={k}")
                body = record.raw_stream.read()
                new = writer.create_warc_record(headers.get_header("WARC-Target-URI") or "", record.rec_type,
                                                payload=io.BytesIO(body), warc_headers=headers,
                                                http_headers=record.http_headers)
                writer.write_record(new)
        paths.append(path)
    return paths


def startup_warc(out: Path, pages: int = 2) -> Path:
    """The first `pages` HTML pages of STARTUP_SOURCE (with their request and metadata records) as a WARC."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.warcwriter import WARCWriter

    path = out / "startup.warc.gz"
    out.mkdir(parents=True, exist_ok=True)
    seen = 0
    with open(STARTUP_SOURCE, "rb") as fh, open(path, "wb") as sink:
        writer = WARCWriter(sink, gzip=True)
        for record in ArchiveIterator(fh):
            if record.rec_type == "response":
                seen += 1
                if seen > pages:
                    break
            body = record.raw_stream.read()
            writer.write_record(writer.create_warc_record(record.rec_headers.get_header("WARC-Target-URI") or "",
                                                          record.rec_type, payload=io.BytesIO(body),
                                                          warc_headers=record.rec_headers,
                                                          http_headers=record.http_headers))
    return path


def _tree(proc) -> list:
    try:
        return [proc, *proc.children(recursive=True)]
    except Exception:  # noqa: BLE001 - the process ended between two samples
        return [proc]


def run_measured(cmd: list[str], env: dict) -> dict:
    """Run a command; peak RSS of its largest process, CPU (user + sys) of the whole tree, wall seconds."""
    import psutil

    started = time.monotonic()
    child = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    root = psutil.Process(child.pid)
    peak, cpu = 0, {}
    while child.poll() is None:
        for proc in _tree(root):
            try:
                with proc.oneshot():
                    peak = max(peak, proc.memory_info().rss)
                    t = proc.cpu_times()
                    cpu[proc.pid] = t.user + t.system + getattr(t, "children_user", 0) + getattr(
                        t, "children_system", 0)
            except psutil.Error:
                continue
        time.sleep(0.05)
    log = child.stdout.read()
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed:\n{log[-3000:]}")
    return {"peak_rss": peak, "cpu_s": sum(cpu.values()), "wall_s": time.monotonic() - started, "log": log}


def seeds_run(inputs: list[Path], out: Path, target_bytes: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(REPO)
    cmd = [sys.executable, "-m", "pipeline", "seeds", "--output", str(out), "--log_level", "warning",
           "--runner=FnApiRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=1",
           "--set", "output.seeds_num_shards=0", "--set", f"output.target_shard_bytes={target_bytes}",
           "--set", "dedup.clusters_num_shards=0"]
    for path in inputs:
        cmd += ["--input", str(path)]
    measured = run_measured(cmd, env)
    job = json.loads((out / "manifest.json").read_text())["jobs"]["seeds"]
    funnel = {s["stage"]: s for s in job["funnel"]}

    def shards(directory: Path) -> int:
        return len(list(directory.glob("*.parquet"))) if directory.is_dir() else 0
    read = funnel.get("ReadWarc", {"kept": 0, "in": 0})
    return {**measured, "pages": read["kept"], "records": read["in"],
            "seeds": funnel.get("WriteSeeds", {}).get("kept", 0), "seeds_shards": shards(out / "seeds"),
            "dropped_shards": shards(out / "dropped" / "seeds"), "cluster_shards": shards(out / "seed_clusters")}


def job_request_bytes(tmp: Path, n_paths: int = 100_000) -> tuple[int, int]:
    """(ours, the peer graph's) Dataflow request + pipeline proto bytes for a listing of `n_paths` WARC paths."""
    import random

    listing = tmp / "warc.paths.gz"
    rng = random.Random(13)  # Common Crawl's names: a segment id per ~1,000 files, a crawl timestamp per file
    paths = [f"crawl-data/CC-MAIN-2024-22/segments/17159710{i // 1000:05d}.{rng.randrange(100):02d}/warc/"
             f"CC-MAIN-202405{rng.randrange(10**8):08d}-202405{rng.randrange(10**8):08d}-{i:05d}.warc.gz"
             for i in range(n_paths)]
    with gzip.open(listing, "wt") as fh:
        fh.write("\n".join(paths) + "\n")
    flags = ["--runner", "DataflowRunner", "--project", "my-project", "--region", "us-central1",
             "--temp_location", "gs://my-bucket/tmp", "--experiments=use_runner_v2", "--dry_run=True"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    ours = tmp / "ours"
    proc = subprocess.run([sys.executable, "-m", "pipeline", "seeds", "--input", str(listing), "--output",
                           "gs://my-bucket/out", "--log_level", "warning", "--dry_run_dir", str(ours), *flags],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-3000:])
    peer = tmp / "peer"
    # the peer: the same seeds graph with the listing put in it, as `beam.Create(files)` did before issue 13
    code = ("import sys, apache_beam as beam\n"
            "from apache_beam.options.pipeline_options import PipelineOptions\n"
            "from pipeline import seeds_job\n"
            "from pipeline.config import load_config\n"
            "from pipeline.dataflow_dry_run import dry_run_of, report_dry_run\n"
            "files = ['https://data.commoncrawl.org/' + line.strip() for line in open(sys.argv[1])]\n"
            "seeds_job.WarcFiles = lambda _inputs, _base: beam.Create(files)\n"
            "p = beam.Pipeline(options=PipelineOptions(sys.argv[3:]))\n"
            "seeds_job.build_seeds(p, [], load_config(), 'gs://my-bucket/out')\n"
            "report_dry_run(dry_run_of('seeds', p.run()), sys.argv[2])\n")
    plain = tmp / "warc.paths"
    plain.write_text("\n".join(paths) + "\n")
    proc = subprocess.run([sys.executable, "-c", code, str(plain), str(peer), *flags], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-3000:])

    def size(directory: Path) -> int:
        return sum(f.stat().st_size for f in directory.glob("seeds.*"))
    return size(ours), size(peer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="shared data directory (default ../shared/data)")
    parser.add_argument("--sizes", default="1,4,16", help="replication factors (the last one is reported as 16x)")
    parser.add_argument("--smoke", action="store_true", help="the bundled sample WARC instead of shared data")
    args = parser.parse_args(argv)
    if args.smoke:
        bases = [SMOKE_WARC]
    else:
        data = shared_data(args.data)
        found = sorted((data / "warc" / "trafilatura-eval").glob("*.warc.gz"))
        if not found:
            print(f"shared data not found at {data} (set SYNCODE_SHARED_DATA or pass --data); nothing to measure")
            print("RESULT skipped=shared_data_missing")
            return 0
        bases = found
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="syncode-scale-") as tmp_dir:
        tmp = Path(tmp_dir)
        target = 1 << 16  # 64 KiB of rows a shard: small, so that the shard counts follow the input
        # start-up CPU: the least of two runs on a WARC without code pages (other load only ever adds CPU)
        first_pages = startup_warc(tmp / "startup-in")
        startup = min((seeds_run([first_pages], tmp / f"startup-{i}", target) for i in range(1 if args.smoke else 2)),
                      key=lambda r: r["cpu_s"])
        print(f"start-up run: {startup['cpu_s']:.1f} CPU-s, peak RSS {startup['peak_rss'] / 2**20:.0f} MB "
              f"({startup['pages']} pages, {startup['seeds']} seeds: every stage started)", flush=True)
        rows = {}
        for n in sizes:
            inputs = [p for base in bases for p in replicate(base, n, tmp / f"in-{n}")]
            run = seeds_run(inputs, tmp / f"out-{n}", target)
            pages = max(1, run["pages"] - startup["pages"])
            run["cpu_ms_per_page"] = 1000 * max(0.0, run["cpu_s"] - startup["cpu_s"]) / pages
            rows[n] = run
            print(f"{n:>3}x {len(bases)} WARC(s): {run['records']} records, {run['pages']} HTML pages, "
                  f"{run['seeds']} seeds; "
                  f"peak worker RSS {run['peak_rss'] / 2**20:.0f} MB; {run['cpu_s']:.1f} CPU-s "
                  f"({run['cpu_ms_per_page']:.1f} ms/page over start-up); wall {run['wall_s']:.1f}s; shards: seeds "
                  f"{run['seeds_shards']}, dropped {run['dropped_shards']}, clusters {run['cluster_shards']}",
                  flush=True)
        ours, peer = job_request_bytes(tmp)
    first, last = rows[sizes[0]], rows[sizes[-1]]
    rss_ratio = last["peak_rss"] / first["peak_rss"]
    # on a tiny input (--smoke) the 1x run's CPU is within the start-up noise: no ratio then, never a made-up one
    cpu_ratio = last["cpu_ms_per_page"] / first["cpu_ms_per_page"] if first["cpu_ms_per_page"] > 0 else float("nan")
    # the marginal cost of a page between the two largest sizes over that between the two smallest: free of any
    # start-up or warm-up cost, a check that a page costs the same however much input the job has
    if len(sizes) >= 3:
        lo = (rows[sizes[1]]["cpu_s"] - first["cpu_s"]) / max(1, rows[sizes[1]]["pages"] - first["pages"])
        hi = (last["cpu_s"] - rows[sizes[-2]]["cpu_s"]) / max(1, last["pages"] - rows[sizes[-2]]["pages"])
        marginal = hi / lo if lo > 0 else float("nan")
    else:
        marginal = float("nan")
    print(f"job request for 100,000 WARC paths: {ours:,} bytes (the peer graph with beam.Create: {peer:,} bytes)")
    print(f"goals: rss_ratio_16x {rss_ratio:.2f} (<= 1.25: {'met' if rss_ratio <= 1.25 else 'NOT met'}), "
          f"cpu_per_page_ratio_16x {cpu_ratio:.2f} (0.85..1.15: {'met' if 0.85 <= cpu_ratio <= 1.15 else 'NOT met'})")
    tag = f"{sizes[-1]}x"
    print(f"RESULT rss_ratio_16x={rss_ratio:.3f} cpu_per_page_ratio_16x={cpu_ratio:.3f} "
          f"job_request_bytes_100k_paths={ours} job_request_bytes_100k_paths_create_peer={peer} "
          f"peak_rss_mb_1x={first['peak_rss'] / 2**20:.0f} peak_rss_mb_{tag}={last['peak_rss'] / 2**20:.0f} "
          f"cpu_ms_per_page_1x={first['cpu_ms_per_page']:.2f} cpu_ms_per_page_{tag}={last['cpu_ms_per_page']:.2f} "
          f"pages_1x={first['pages']} pages_{tag}={last['pages']} seeds_shards_{tag}={last['seeds_shards']} "
          f"dropped_shards_{tag}={last['dropped_shards']} cpu_marginal_ratio_{tag}={marginal:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
