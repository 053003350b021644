from __future__ import annotations

import hashlib
import json

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from ledger.records import SEED_SCHEMA, Seed
from tests.conftest import local_pipeline
from transforms.write_parquet import INDEX_DIR, WriteParquetShards, parquet_bytes, shard_of, shards_for


def _seed(i: int) -> Seed:
    return Seed(id=f"s{i:03d}", url=f"https://e.org/{i}", domain="e.org", record_id=f"<urn:{i}>", warc_date="",
                crawl_id="", warc_file="f", offset=i, title="t", text="x " * i, text_chars=2 * i, text_words=i)


def _write(tmp_path, seeds, **kw):
    p = local_pipeline()
    _ = p | beam.Create(seeds) | WriteParquetShards(str(tmp_path), SEED_SCHEMA, **kw)
    p.run().wait_until_finish()


def test_shard_of_is_stable_and_spread():
    assert shard_of("abc", 8) == shard_of("abc", 8)
    assert len({shard_of(f"id{i}", 8) for i in range(200)}) == 8


def test_shard_count_from_target_size():
    assert shards_for(1000, 0, 300, 0) == 4
    assert shards_for(10, 5000, 0, 1000) == 5
    assert shards_for(0, 0, 100, 0) == 1


def test_same_rows_give_the_same_bytes_in_any_order():
    rows = [_seed(i)._asdict() for i in range(20)]
    assert parquet_bytes(rows, SEED_SCHEMA, 1 << 20) == parquet_bytes(rows[::-1], SEED_SCHEMA, 1 << 20)


def test_an_empty_shard_has_the_schema_and_no_row_group():
    data = parquet_bytes([], SEED_SCHEMA, 1 << 20)
    meta = pq.ParquetFile(pa.BufferReader(data)).metadata
    assert (meta.num_rows, meta.num_row_groups) == (0, 0)
    assert pq.read_table(pa.BufferReader(data)).schema.remove_metadata() == SEED_SCHEMA


def test_every_shard_is_written_with_hash_membership_and_an_index(tmp_path):
    seeds = [_seed(i) for i in range(3)]
    _write(tmp_path, seeds, num_shards=5, token_columns=("text_words",))
    names = sorted(p.name for p in tmp_path.glob("*.parquet"))
    assert names == [f"train-{i:05d}-of-00005.parquet" for i in range(5)]  # empty shards too: the set is complete
    for seed in seeds:
        table = pq.read_table(tmp_path / f"train-{shard_of(seed.id, 5):05d}-of-00005.parquet")
        assert seed.id in table.column("id").to_pylist()
    entry = json.loads((tmp_path / INDEX_DIR / "train-00000-of-00005.parquet.json").read_text())
    data = (tmp_path / "train-00000-of-00005.parquet").read_bytes()
    assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["num_shards"] == 5
    assert not list(tmp_path.glob(".tmp-*"))


def test_target_rows_derives_the_shard_count(tmp_path):
    _write(tmp_path, [_seed(i) for i in range(25)], target_rows=10)
    assert len(list(tmp_path.glob("train-*-of-00003.parquet"))) == 3
    assert pq.read_table(tmp_path).num_rows == 25


def test_only_shards_rewrites_those_and_nothing_else(tmp_path):
    seeds = [_seed(i) for i in range(40)]
    _write(tmp_path, seeds, num_shards=4)
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in tmp_path.glob("*.parquet")}
    changed = [s._replace(title="new") for s in seeds]
    _write(tmp_path, changed, num_shards=4, only_shards=[2])
    for p in tmp_path.glob("*.parquet"):
        if p.name.startswith("train-00002"):
            assert set(pq.read_table(p).column("title").to_pylist()) <= {"new"}
        else:
            assert (p.stat().st_mtime_ns, p.read_bytes()) == before[p.name]


def test_a_shard_streams_in_bounded_runs_and_row_groups_yet_its_bytes_do_not_depend_on_order(tmp_path):
    import random

    from transforms.write_parquet import write_shard

    rows = [_seed(i % 400)._replace(id=f"id{i:05d}")._asdict() for i in range(3000)]
    random.Random(1).shuffle(rows)
    a = write_shard(str(tmp_path / "a.parquet"), iter(rows), SEED_SCHEMA, 50_000, ("text_words",))
    b = write_shard(str(tmp_path / "b.parquet"), iter(rows[::-1]), SEED_SCHEMA, 50_000, ("text_words",))
    assert a["sha256"] == b["sha256"] == hashlib.sha256((tmp_path / "a.parquet").read_bytes()).hexdigest()
    meta = pq.ParquetFile(tmp_path / "a.parquet").metadata
    assert meta.num_rows == a["rows"] == 3000 and meta.num_row_groups > 5  # 50 kB row groups, not one table
    ids = pq.read_table(tmp_path / "a.parquet").column("id").to_pylist()
    assert ids == sorted(ids) and a["tokens"]["text_words"] == sum(r["text_words"] for r in rows)
    assert not list(tmp_path.glob(".tmp-*"))
