"""bench/scale.py runs as bench/README.md says: `--smoke` replicates the bundled real WARC 1x/4x/16x with distinct
record ids and URLs, runs the seeds job on each, translates the 100,000-path listing, and ends with its RESULT."""

from __future__ import annotations

from pathlib import Path

from bench.scale import SMOKE_WARC, replicate
from tests.bench.bench_run import documented_keys, result, run_bench
from tests.conftest import REPO


def test_copies_keep_the_payloads_and_get_their_own_ids_and_urls(tmp_path):
    from warcio.archiveiterator import ArchiveIterator

    def records(path: Path) -> list[tuple[str, str, bytes]]:
        with open(path, "rb") as fh:
            return [(r.rec_headers.get_header("WARC-Record-ID"), r.rec_headers.get_header("WARC-Target-URI") or "",
                     r.content_stream().read()) for r in ArchiveIterator(fh)]
    first, second = (records(p) for p in replicate(SMOKE_WARC, 2, tmp_path))
    assert [r[2] for r in first] == [r[2] for r in records(SMOKE_WARC)]
    assert [r[2] for r in second] == [r[2] for r in first]  # the same real payloads
    assert not {r[0] for r in first} & {r[0] for r in second}
    assert all(b[1].endswith("syncode_copy=1") for a, b in zip(first, second, strict=True) if a[1])


def test_the_smoke_run_reports_the_documented_keys(tmp_path):
    proc = run_bench(["bench/scale.py", "--smoke"], cwd=REPO)
    keys = result(proc)
    assert set(documented_keys("rss_ratio_16x")) <= set(keys)
    ours, peer = int(keys["job_request_bytes_100k_paths"]), int(keys["job_request_bytes_100k_paths_create_peer"])
    assert ours < 1_000_000 < peer
    assert int(keys["pages_16x"]) == 16 * int(keys["pages_1x"]) > 0
    assert float(keys["rss_ratio_16x"]) > 0 and "cpu_per_page_ratio_16x" in keys  # nan when 1x is in the noise
    assert int(keys["dropped_shards_16x"]) >= 1
