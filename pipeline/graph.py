"""Pieces every job graph shares: the JobGraph it returns, pass-through counting, the writers, the audit of drops,
and the dedup stages (decontaminate, exact, near) that the seeds, synth and dedup jobs all run."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam

from dedup.keep import choose_kept, keep_order
from dedup.minhash import lsh_params
from dedup.records import ClusterRow, DocView
from ledger.records import DROPPED_SCHEMA
from pipeline.config import PipelineConfig
from pipeline.errors import ConfigError
from transforms.decontaminate import Decontaminate
from transforms.dedup import CLUSTERS_TAG, ExactDedup, MinHashDedup, kept_cluster_row
from transforms.scrub import scrub_dropped
from transforms.stage import DROPPED_TAG, KEPT_TAG, StageDoFn
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


class CountThroughFn(StageDoFn):
    """Counts records passing a point (a writer's input, a reader's output) as a stage that keeps everything."""

    def decide(self, element: Any) -> Any:
        return element


def count_as(stage: str, progress_interval_s: float) -> beam.ParDo:
    """A step that counts what passes as the stage `stage`, so writers and readers show in the funnel."""
    return beam.ParDo(CountThroughFn(stage, progress_interval_s))


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
    """Every dropped record, with stage and reason, to OUT/dropped/JOB for audit; details are scrubbed of secrets."""
    if not config.output.write_dropped or not dropped:
        return
    writer = shard_writer(f"{output}/dropped/{job}", DROPPED_SCHEMA, 0, config, prefix="dropped",
                          shard_key=lambda d: f"{d.stage}/{d.id}")  # sharded by the target size, never one shard
    (tuple(dropped) | f"{job}Drops" >> beam.Flatten() | f"Scrub{job.title()}Drops" >> beam.Map(scrub_dropped,
                                                                                                 config.scrub)
     | f"Write{job.title()}Drops" >> writer)


# ---------------------------------------------------------------- the dedup stages


@dataclass
class DedupStages:
    """What the dedup stages hand back: the kept records, drops and cluster rows to write, the stage names."""

    kept: Any
    dropped: list = field(default_factory=list)
    clusters: list = field(default_factory=list)
    stages: list[str] = field(default_factory=list)


def _drop_to_cluster_row(d) -> ClusterRow:
    return ClusterRow(d.id, d.id, False, d.reason, d.detail)


def add_dedup_stages(records, config: PipelineConfig, view: DocView) -> DedupStages:
    """Decontaminate, then exact dedup, then MinHash near-dup dedup, each switchable in config.dedup."""
    c, interval = config.dedup, config.progress_interval_s
    try:
        lsh_params(c.near.threshold, c.near.num_perm, c.near.bands, c.near.rows, c.near.min_candidate_recall)
        keep_order(c.near.keep, "", 0, 0.0, "")
        choose_kept({}, [], c.near.keep, c.near.per_component)
    except ValueError as exc:
        raise ConfigError(f"dedup.near: {exc}") from exc
    out = DedupStages(records)
    if c.decontam.enabled:
        clean = out.kept | "Decontaminate" >> Decontaminate(c.decontam, view, progress_interval_s=interval)
        out.kept = clean[KEPT_TAG]
        out.dropped.append(clean[DROPPED_TAG])
        out.clusters.append(clean[DROPPED_TAG] | "ContaminatedRows" >> beam.Map(_drop_to_cluster_row))
        out.stages.append("Decontaminate")
    if c.exact:
        exact = out.kept | "ExactDedup" >> ExactDedup(view, progress_interval_s=interval)
        out.kept = exact[KEPT_TAG]
        out.dropped.append(exact[DROPPED_TAG])
        out.clusters.append(exact[CLUSTERS_TAG])
        out.stages.append("ExactDedup")
    if c.near.enabled:
        near = out.kept | "MinHashDedup" >> MinHashDedup(c.near, view, progress_interval_s=interval)
        out.kept = near[KEPT_TAG]
        out.dropped.append(near[DROPPED_TAG])
        out.clusters.append(near[CLUSTERS_TAG])
        out.stages.append("MinHashDedup")
    else:
        out.clusters.append(out.kept | "KeptRows" >> beam.Map(kept_cluster_row, view))
    return out
