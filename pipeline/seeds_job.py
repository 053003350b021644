"""The seeds job graph: WARC files in, seed Parquet out, every drop counted."""

from __future__ import annotations

import apache_beam as beam

from dedup.records import CLUSTER_SCHEMA
from pipeline.config import PipelineConfig
from pipeline.dedup_job import SEED_VIEW, add_dedup_stages
from pipeline.graph import JobGraph, count_as, write_dropped
from pipeline.records import SEED_SCHEMA
from transforms.extract_text import ExtractText
from transforms.read_warc import ReadWarc
from transforms.stage import DROPPED_TAG, KEPT_TAG
from transforms.write_parquet import WriteParquetShards

STAGES = ["ReadWarc", "Extract", "WriteSeeds"]


def build_seeds(p: beam.Pipeline, files: list[str], config: PipelineConfig, output: str) -> JobGraph:
    """WARC files to seed Parquet: read, extract, dedup, write; later issues insert recall and quality stages."""
    interval = config.progress_interval_s
    read = p | "WarcFiles" >> beam.Create(files) | "ReadWarc" >> ReadWarc(config.read, interval)
    extracted = read[KEPT_TAG] | "Extract" >> ExtractText(config.extract, interval)
    seeds, stages = extracted[KEPT_TAG], STAGES[:-1]
    dropped = [read[DROPPED_TAG], extracted[DROPPED_TAG]]
    outputs, num_shards = {}, {}

    # ---- dedup (issue 5): decontaminate, exact, MinHash near-dup; the last stages before WriteSeeds ----
    dedup = add_dedup_stages(seeds, config, SEED_VIEW)
    seeds, stages, dropped = dedup.kept, stages + dedup.stages, dropped + dedup.dropped
    outputs["seed_clusters"], num_shards["seed_clusters"] = f"{output}/seed_clusters", config.dedup.clusters_num_shards
    (dedup.clusters | "SeedClusterRows" >> beam.Flatten()
     | "WriteSeedClusters" >> WriteParquetShards(outputs["seed_clusters"], CLUSTER_SCHEMA,
                                                 config.dedup.clusters_num_shards, config.output.row_group_bytes))
    # ---- end dedup ----

    shards = config.output.seeds_num_shards
    (seeds | "CountSeeds" >> count_as("WriteSeeds", interval)
     | "WriteSeeds" >> WriteParquetShards(f"{output}/seeds", SEED_SCHEMA, shards, config.output.row_group_bytes))
    write_dropped(dropped, output, "seeds", config)
    outputs["seeds"], num_shards["seeds"] = f"{output}/seeds", shards
    return JobGraph([*stages, "WriteSeeds"], outputs=outputs, num_shards=num_shards)
