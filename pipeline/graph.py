"""Pieces every job graph shares: the JobGraph it returns, pass-through counting, and the audit of drops."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import apache_beam as beam

from pipeline.config import PipelineConfig
from pipeline.records import DROPPED_SCHEMA
from transforms.stage import StageCounters
from transforms.write_parquet import WriteParquetShards


@dataclass
class JobGraph:
    """What a job's graph builder hands back: stage order for the funnel and the directories it writes."""

    stages: list[str]
    outputs: dict[str, str] = field(default_factory=dict)
    prefixes: dict[str, str] = field(default_factory=dict)  # shard name prefix per output (default: train)
    handoffs: list[tuple[str, str]] | None = None  # default: each stage feeds the next

    def __post_init__(self) -> None:
        if self.handoffs is None:
            self.handoffs = list(itertools.pairwise(self.stages))


class _CountFn(beam.DoFn):
    """Counts records passing a point (a writer's input, a reader's output) as a stage that keeps everything."""

    def __init__(self, stage: str, progress_interval_s: float):
        self.stage = stage
        self.progress_interval_s = progress_interval_s

    def setup(self) -> None:
        self.counters = StageCounters(self.stage, self.progress_interval_s)

    def process(self, element):
        self.counters.seen()
        self.counters.kept()
        yield element


def count_as(stage: str, progress_interval_s: float) -> beam.ParDo:
    return beam.ParDo(_CountFn(stage, progress_interval_s))


def shard_writer(directory: str, schema, num_shards: int, config: PipelineConfig, *, shard_key=None,
                 only_shards: list[int] | None = None, token_columns: tuple[str, ...] = (),
                 prefix: str = "train") -> WriteParquetShards:
    """The output writer with the configured shard sizing, so every job shards the same way."""
    out = config.output
    return WriteParquetShards(directory, schema, num_shards, out.row_group_bytes, prefix,
                              target_rows=out.target_shard_rows,
                              target_bytes=out.target_shard_bytes, shard_key=shard_key, only_shards=only_shards,
                              token_columns=token_columns)


def write_dropped(dropped: list, output: str, job: str, config: PipelineConfig) -> None:
    """Every dropped record, with stage and reason, to OUT/dropped/JOB for audit."""
    if not config.output.write_dropped or not dropped:
        return
    writer = WriteParquetShards(f"{output}/dropped/{job}", DROPPED_SCHEMA, 1, prefix="dropped",
                                shard_key=lambda d: f"{d.stage}/{d.id}")
    tuple(dropped) | f"{job}Drops" >> beam.Flatten() | f"Write{job.title()}Drops" >> writer
