"""WriteParquetShards: typed records to zstd Parquet shards named the Hugging Face way."""

from __future__ import annotations

import apache_beam as beam
import pyarrow as pa

SHARD_TEMPLATE = "-SSSSS-of-NNNNN"
SHARD_PREFIX = "train"


class WriteParquetShards(beam.PTransform):
    """Writes DIR/train-00000-of-000NN.parquet with Beam's Parquet sink, zstd-compressed."""

    def __init__(self, directory: str, schema: pa.Schema, num_shards: int, row_group_bytes: int = 16 << 20,
                 prefix: str = SHARD_PREFIX, label: str | None = None):
        super().__init__(label)
        self.directory = directory.rstrip("/")
        self.schema = schema
        self.num_shards = num_shards
        self.row_group_bytes = row_group_bytes
        self.prefix = prefix

    def expand(self, records):
        return (
            records
            | "ToRow" >> beam.Map(lambda r: r._asdict())
            | "WriteParquet" >> beam.io.WriteToParquet(
                file_path_prefix=f"{self.directory}/{self.prefix}",
                schema=self.schema,
                codec="zstd",
                row_group_buffer_size=self.row_group_bytes,
                num_shards=self.num_shards,
                shard_name_template=SHARD_TEMPLATE,
                file_name_suffix=".parquet",
            )
        )
