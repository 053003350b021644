"""WriteParquetShards: records to zstd Parquet shards whose membership is a hash of a stable id, written atomically,
streamed row group by row group (an external sort by id keeps the bytes deterministic in bounded memory)."""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import json
import math
import os
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from ledger.ids import bucket_of

SHARD_PREFIX = "train"
INDEX_DIR = ".index"  # one JSON per shard (rows, bytes, sha256, tokens); hidden so dataset readers skip it


def shard_of(key: str, num_shards: int) -> int:
    """The shard a row belongs to: a hash of its stable key, so one shard can be regenerated alone."""
    return bucket_of(key, num_shards)


def shard_name(prefix: str, index: int, num_shards: int) -> str:
    """Hugging Face style: train-00003-of-00016.parquet."""
    return f"{prefix}-{index:05d}-of-{num_shards:05d}.parquet"


def shards_for(total_rows: int, total_bytes: int, target_rows: int, target_bytes: int) -> int:
    """How many shards a target size asks for; at least one."""
    by_rows = math.ceil(total_rows / target_rows) if target_rows > 0 else 0
    by_bytes = math.ceil(total_bytes / target_bytes) if target_bytes > 0 else 0
    return max(1, by_rows, by_bytes)


def rows_per_group(table: pa.Table, row_group_bytes: int) -> int:
    """Rows per row group so that one group holds about `row_group_bytes` of uncompressed data."""
    if table.num_rows == 0:
        return 1
    per_row = max(1, table.nbytes // table.num_rows)
    return max(1, row_group_bytes // per_row)


class _HashingSink:
    """A write-only file object that counts and hashes what passes to the real one (the shard's temp file)."""

    def __init__(self, fh):
        self.fh, self.size, self.digest, self.closed = fh, 0, hashlib.sha256(), False

    def write(self, data) -> int:
        data = bytes(data)
        self.fh.write(data)
        self.size += len(data)
        self.digest.update(data)
        return len(data)

    def flush(self) -> None:
        pass

    def tell(self) -> int:
        return self.size

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


def _row_key(row: dict[str, Any]) -> str:
    return str(row.get("id", ""))


class _SortedRuns:
    """Rows in, sorted by id out, in bounded memory: rows are sorted in runs of about `run_bytes` and spilled to
    local temporary Arrow files; the runs are merged back lazily (an external sort)."""

    def __init__(self, schema: pa.Schema, run_bytes: int):
        self.schema, self.run_bytes = schema, max(1, run_bytes)
        self.buffer: list[dict[str, Any]] = []
        self.buffered = 0
        self.files: list[str] = []
        self.rows = 0

    def add(self, row: dict[str, Any]) -> None:
        self.buffer.append(row)
        self.buffered += _row_size(row)
        self.rows += 1
        if self.buffered >= self.run_bytes:
            self._spill()

    def _spill(self) -> None:
        fd, path = tempfile.mkstemp(prefix="syncode-run-", suffix=".arrow")
        os.close(fd)
        table = pa.Table.from_pylist(sorted(self.buffer, key=_row_key), schema=self.schema)
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, self.schema) as writer:
            for batch in table.to_batches(max_chunksize=1024):
                writer.write_batch(batch)
        self.files.append(path)
        self.buffer, self.buffered = [], 0

    def _read_run(self, path: str) -> Iterator[dict[str, Any]]:
        with pa.memory_map(path) as source:
            reader = pa.ipc.open_file(source)
            for i in range(reader.num_record_batches):
                yield from reader.get_batch(i).to_pylist()

    def sorted_rows(self) -> Iterator[dict[str, Any]]:
        if not self.files:
            yield from sorted(self.buffer, key=_row_key)
            return
        if self.buffer:
            self._spill()
        yield from heapq.merge(*(self._read_run(f) for f in self.files), key=_row_key)

    def close(self) -> None:
        for path in self.files:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self.files, self.buffer = [], []


def write_rows(rows: Iterable[dict[str, Any]], schema: pa.Schema, sink, row_group_bytes: int) -> int:
    """Rows (already in order) to Parquet on `sink`, one row group per ~`row_group_bytes`; returns the row count.
    Only one row group is held at a time; a shard without rows has the schema and no row group (readers such as
    `datasets` choke on a zero-row group)."""
    writer = pq.ParquetWriter(sink, schema, compression="zstd", write_statistics=True)
    group: list[dict[str, Any]] = []
    size = count = 0
    try:
        for row in rows:
            group.append(row)
            size += _row_size(row)
            count += 1
            if size >= row_group_bytes:
                writer.write_table(pa.Table.from_pylist(group, schema=schema), row_group_size=len(group))
                group, size = [], 0
        if group:
            writer.write_table(pa.Table.from_pylist(group, schema=schema), row_group_size=len(group))
    finally:
        writer.close()
    return count


def parquet_bytes(rows: list[dict[str, Any]], schema: pa.Schema, row_group_bytes: int) -> bytes:
    """One shard as Parquet bytes, rows ordered by id: the same rows always give the same bytes."""
    sink = pa.BufferOutputStream()
    write_rows(sorted(rows, key=_row_key), schema, sink, row_group_bytes)
    return sink.getvalue().to_pybytes()


def _temp_name(path: str) -> str:
    directory, name = path.rsplit("/", 1)
    return f"{directory}/.tmp-{uuid.uuid4().hex}-{name}"


def _replace(tmp: str, path: str) -> None:
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])


def write_atomically(path: str, data: bytes) -> None:
    """Write to a temp name, then rename: a crash never leaves a half-written file under the final name."""
    tmp = _temp_name(path)
    with FileSystems.create(tmp) as fh:
        fh.write(data)
    _replace(tmp, path)


def write_shard(path: str, rows: Iterable[dict[str, Any]], schema: pa.Schema, row_group_bytes: int,
                token_columns: tuple[str, ...] = ()) -> dict[str, Any]:
    """Stream a shard's rows, sorted by id through bounded runs, to `path` atomically; its rows, bytes, sha256 and
    token sums. No more than a run and a row group of rows is in memory at once."""
    runs = _SortedRuns(schema, row_group_bytes * 4)
    tokens = dict.fromkeys(token_columns, 0)
    try:
        for row in rows:
            if row is None:
                continue
            for c in token_columns:
                tokens[c] += int(row.get(c) or 0)
            runs.add(row)
        tmp = _temp_name(path)
        with FileSystems.create(tmp) as fh:
            sink = _HashingSink(fh)
            count = write_rows(runs.sorted_rows(), schema, sink, row_group_bytes)
        _replace(tmp, path)
    finally:
        runs.close()
    return {"rows": count, "bytes": sink.size, "sha256": sink.digest.hexdigest(), "tokens": tokens}


class _WriteShardFn(beam.DoFn):
    """Writes one shard and its index entry; emits the index entry."""

    def __init__(self, directory: str, schema: pa.Schema, prefix: str, row_group_bytes: int, run_id: str,
                 token_columns: tuple[str, ...]):
        self.directory = directory
        self.schema = schema
        self.prefix = prefix
        self.row_group_bytes = row_group_bytes
        self.run_id = run_id
        self.token_columns = token_columns

    def process(self, element, num_shards: int):
        index, rows = element
        name = shard_name(self.prefix, index, num_shards)
        written = write_shard(f"{self.directory}/{name}", rows, self.schema, self.row_group_bytes,
                              self.token_columns)
        entry = {"path": name, "shard": index, "num_shards": num_shards, "rows": written["rows"],
                 "bytes": written["bytes"], "sha256": written["sha256"], "run_id": self.run_id,
                 "tokens": written["tokens"]}
        write_atomically(f"{self.directory}/{INDEX_DIR}/{name}.json", json.dumps(entry, sort_keys=True).encode())
        yield entry


def _sum_pairs(pairs: Iterable[tuple[int, int]]) -> tuple[int, int]:
    rows = size = 0
    for a, b in pairs:
        rows, size = rows + a, size + b
    return rows, size


def _row_size(row: dict[str, Any]) -> int:
    return sum(len(v) if isinstance(v, str | bytes) else 8 for v in row.values())


class WriteParquetShards(beam.PTransform):
    """Writes DIR/PREFIX-XXXXX-of-YYYYY.parquet (zstd), one shard per hash bucket of `shard_key`, atomically.

    The shard count is `num_shards` when set, else derived from `target_rows` / `target_bytes`. With
    `only_shards`, only those shards are written (num_shards must then be fixed), so a regeneration leaves the
    other shards byte-identical. Every shard index is written, empty or not, so the set is always complete.
    """

    def __init__(self, directory: str, schema: pa.Schema, num_shards: int = 0, row_group_bytes: int = 16 << 20,
                 prefix: str = SHARD_PREFIX, label: str | None = None, *, target_rows: int = 0,
                 target_bytes: int = 0, shard_key: Callable[[Any], str] | None = None,
                 only_shards: Iterable[int] | None = None, run_id: str = "", token_columns: tuple[str, ...] = ()):
        super().__init__(label)
        if only_shards and num_shards <= 0:
            raise ValueError("only_shards needs a fixed num_shards, so shard membership does not change")
        if num_shards <= 0 and target_rows <= 0 and target_bytes <= 0:
            raise ValueError("set num_shards, target_rows or target_bytes")
        self.directory = directory.rstrip("/")
        self.schema = schema
        self.num_shards = num_shards
        self.row_group_bytes = row_group_bytes
        self.prefix = prefix
        self.target_rows = target_rows
        self.target_bytes = target_bytes
        self.shard_key = shard_key or (lambda r: r.id)
        self.only_shards = sorted(set(only_shards)) if only_shards else None
        self.run_id = run_id or uuid.uuid4().hex
        self.token_columns = tuple(c for c in token_columns if c in schema.names)

    def expand(self, records):
        p = records.pipeline
        if self.num_shards > 0:
            count = p | "ShardCount" >> beam.Create([self.num_shards])
        else:
            sizes = records | "RowSize" >> beam.Map(lambda r: (1, _row_size(r._asdict())))
            totals = sizes | "Totals" >> beam.CombineGlobally(_sum_pairs)
            target_rows, target_bytes = self.target_rows, self.target_bytes
            count = totals | "DeriveShards" >> beam.Map(lambda t: shards_for(t[0], t[1], target_rows, target_bytes))
        n = beam.pvalue.AsSingleton(count)
        key = self.shard_key
        wanted = set(self.only_shards) if self.only_shards else None
        keyed = (records | "AssignShard" >> beam.Map(lambda r, n: (shard_of(key(r), n), r._asdict()), n=n)
                 | "OnlyShards" >> beam.Filter(lambda kv: wanted is None or kv[0] in wanted))
        every = count | "EveryShard" >> beam.FlatMap(
            lambda n: [(i, None) for i in range(n) if wanted is None or i in wanted])
        return ((keyed, every) | "AllShards" >> beam.Flatten() | "GroupShards" >> beam.GroupByKey()
                | "WriteShard" >> beam.ParDo(_WriteShardFn(self.directory, self.schema, self.prefix,
                                                           self.row_group_bytes, self.run_id, self.token_columns),
                                             num_shards=n))
