"""ReadSeeds on seed files a run can be handed: good, truncated, garbage, without the seed columns, one damaged
row group. Each bad part is one counted drop that names the file; the good rows still come through."""

from __future__ import annotations

import io

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam import pvalue
from apache_beam.testing.util import assert_that, equal_to

from ledger.records import Seed
from pipeline.funnel import accounting_problems, counters_from_result, funnel_from_counters
from tests.conftest import DATA, local_pipeline
from transforms.read_seeds import STAGE, ReadSeedFileFn, ReadSeeds
from transforms.stage import DROPPED_TAG, KEPT_TAG

REAL = DATA / "seeds" / "train-00000-of-00001.parquet"


def _in_row_groups(rows_per_group: int) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pq.read_table(REAL), buf, row_group_size=rows_per_group, compression="zstd")
    return buf.getvalue()


def _damage_row_group(data: bytes, group: int) -> bytes:
    """Zero every byte of one row group's column chunks; the footer still describes it."""
    meta = pq.ParquetFile(io.BytesIO(data)).metadata.row_group(group)
    chunks = [meta.column(i) for i in range(meta.num_columns)]
    start = min(c.dictionary_page_offset or c.data_page_offset for c in chunks)
    end = max((c.dictionary_page_offset or c.data_page_offset) + c.total_compressed_size for c in chunks)
    return data[:start] + b"\0" * (end - start) + data[end:]


@pytest.fixture
def seed_files(tmp_path):
    real = REAL.read_bytes()
    no_seed_columns = io.BytesIO()
    pq.write_table(pa.table({"id": ["a"], "text": ["no url, no title"]}), no_seed_columns)
    files = {"good": real, "truncated": real[: len(real) // 2], "garbage": bytes(range(256)) * 40,
             "empty": b"", "no_seed_columns": no_seed_columns.getvalue(),
             "damaged_group": _damage_row_group(_in_row_groups(4), 1)}
    out = {}
    for name, data in files.items():
        out[name] = tmp_path / f"{name}.parquet"
        out[name].write_bytes(data)
    return out


def _read(path) -> tuple[list[Seed], list]:
    fn = ReadSeedFileFn(STAGE)
    fn.setup()
    kept, dropped = [], []
    for out in fn.process(str(path)):
        (dropped.append(out.value) if isinstance(out, pvalue.TaggedOutput) else kept.append(out))
    return kept, dropped


def test_a_good_file_gives_every_seed():
    kept, dropped = _read(REAL)
    assert [s.id for s in kept] == pq.read_table(REAL).column("id").to_pylist() and not dropped


@pytest.mark.parametrize("name", ["truncated", "garbage", "empty"])
def test_a_file_that_is_not_parquet_is_one_unreadable_drop_naming_it(seed_files, name):
    kept, dropped = _read(seed_files[name])
    assert kept == []
    assert [(d.stage, d.reason, d.url) for d in dropped] == [(STAGE, "unreadable", str(seed_files[name]))]
    assert dropped[0].detail.startswith(f"{seed_files[name]}: not a readable Parquet file: ArrowInvalid")


def test_a_file_without_the_seed_columns_is_a_missing_columns_drop(seed_files):
    kept, dropped = _read(seed_files["no_seed_columns"])
    assert kept == [] and [d.reason for d in dropped] == ["missing_columns"]
    assert "'url'" in dropped[0].detail and str(seed_files["no_seed_columns"]) in dropped[0].detail


def test_a_damaged_row_group_is_dropped_and_the_others_are_read(seed_files):
    kept, dropped = _read(seed_files["damaged_group"])
    ids = pq.read_table(REAL).column("id").to_pylist()
    assert [s.id for s in kept] == ids[:4] + ids[8:]
    assert [d.reason for d in dropped] == ["unreadable"]
    assert dropped[0].detail.startswith(f"{seed_files['damaged_group']}: row group 1 (4 rows) cannot be read")


def test_the_stage_reads_a_glob_and_balances(seed_files):
    p = local_pipeline()
    out = p | ReadSeeds(str(seed_files["good"].parent / "*.parquet"))
    ids = pq.read_table(REAL).column("id").to_pylist()
    assert_that(out[KEPT_TAG] | beam.Map(lambda s: s.id), equal_to(ids + ids[:4] + ids[8:]), label="Kept")
    assert_that(out[DROPPED_TAG] | beam.Map(lambda d: (d.reason, d.url.rsplit("/", 1)[-1])),
                equal_to([("unreadable", "truncated.parquet"), ("unreadable", "garbage.parquet"),
                          ("unreadable", "empty.parquet"), ("missing_columns", "no_seed_columns.parquet"),
                          ("unreadable", "damaged_group.parquet")]), label="Dropped")
    result = p.run()
    result.wait_until_finish()
    (stage,) = funnel_from_counters(counters_from_result(result), [STAGE])
    assert (stage.total, stage.kept, stage.dropped) == (len(ids) * 2 - 4 + 5, len(ids) * 2 - 4,
                                                        {"unreadable": 4, "missing_columns": 1})
    assert accounting_problems([stage]) == []
