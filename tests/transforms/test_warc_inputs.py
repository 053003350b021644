from __future__ import annotations

import gzip

import pytest

from transforms.warc_inputs import InputError, is_listing, read_listing, resolve_inputs


def test_listing_paths_become_absolute(tmp_path):
    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(gzip.compress(b"crawl-data/CC-MAIN-2024-22/segments/1/warc/a.warc.gz\n\n/abs/b.warc.gz\n"))
    assert is_listing(str(listing))
    assert read_listing(str(listing)) == [
        "https://data.commoncrawl.org/crawl-data/CC-MAIN-2024-22/segments/1/warc/a.warc.gz", "/abs/b.warc.gz"]


def test_globs_and_commas_expand_in_order_without_duplicates(tmp_path):
    for name in ("b.warc.gz", "a.warc.gz"):
        (tmp_path / name).write_bytes(b"")
    got = resolve_inputs([f"{tmp_path}/*.warc.gz,{tmp_path}/a.warc.gz"])
    assert got == [f"{tmp_path}/a.warc.gz", f"{tmp_path}/b.warc.gz"]


def test_pattern_matching_nothing_is_an_error(tmp_path):
    with pytest.raises(InputError, match="matches no files"):
        resolve_inputs([f"{tmp_path}/*.warc.gz"])


def test_empty_listing_is_an_error(tmp_path):
    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(gzip.compress(b"\n"))
    with pytest.raises(InputError, match="names no WARC"):
        resolve_inputs([str(listing)])


def test_listing_over_http_is_read(tmp_path):
    import functools
    import http.server
    import threading

    (tmp_path / "warc.paths.gz").write_bytes(gzip.compress(b"crawl-data/CC-MAIN-2024-22/a.warc.gz\n"))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        got = resolve_inputs([f"{base}/warc.paths.gz"], base_url=base)
        assert got == [f"{base}/crawl-data/CC-MAIN-2024-22/a.warc.gz"]
        with pytest.raises(InputError, match="cannot be read"):
            resolve_inputs([f"{base}/missing.paths.gz"])
    finally:
        server.shutdown()
        server.server_close()


def test_the_launch_check_reads_only_a_listing_head_and_the_workers_expand_it(tmp_path):
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to

    from tests.conftest import local_pipeline
    from transforms.warc_inputs import WarcFiles, check_inputs

    listing = tmp_path / "warc.paths.gz"
    names = [f"crawl-data/CC-MAIN-2024-22/segments/1/warc/f-{i:06d}.warc.gz" for i in range(50_000)]
    listing.write_bytes(gzip.compress(("\n".join(names) + "\n").encode()))
    (tmp_path / "a.warc.gz").write_bytes(b"")
    pieces = check_inputs([f"{listing},{tmp_path}/*.warc.gz", str(listing)])
    assert pieces == [str(listing), f"{tmp_path}/*.warc.gz"]  # pieces, not files: nothing listed in full
    p = local_pipeline()
    files = p | WarcFiles(pieces, "https://data.commoncrawl.org")
    count = files | beam.combiners.Count.Globally()
    assert_that(count, equal_to([50_001]))
    p.run().wait_until_finish()
    with pytest.raises(InputError, match="matches no files"):
        check_inputs([f"{tmp_path}/*.arc.gz"])
    empty = tmp_path / "empty.paths"
    empty.write_text("# nothing\n")
    with pytest.raises(InputError, match="names no WARC"):
        check_inputs([str(empty)])
