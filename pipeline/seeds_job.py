"""The seeds job graph: WARC files in, seed Parquet out, every drop counted."""

from __future__ import annotations

import apache_beam as beam

from pipeline.config import PipelineConfig
from pipeline.graph import JobGraph, count_as, shard_writer, write_dropped
from pipeline.records import SEED_SCHEMA
from transforms.extract_text import ExtractText
from transforms.read_warc import ReadWarc
from transforms.stage import DROPPED_TAG, KEPT_TAG

STAGES = ["ReadWarc", "Extract", "WriteSeeds"]


def build_seeds(p: beam.Pipeline, files: list[str], config: PipelineConfig, output: str,
                only_shards: list[int] | None = None) -> JobGraph:
    """WARC files to seed Parquet: read, extract, write; later issues insert recall, quality and dedup stages."""
    interval = config.progress_interval_s
    read = p | "WarcFiles" >> beam.Create(files) | "ReadWarc" >> ReadWarc(config.read, interval)
    extracted = read[KEPT_TAG] | "Extract" >> ExtractText(config.extract, interval)
    writer = shard_writer(f"{output}/seeds", SEED_SCHEMA, config.output.seeds_num_shards, config,
                          only_shards=only_shards, token_columns=("text_words", "text_chars"))
    extracted[KEPT_TAG] | "CountSeeds" >> count_as("WriteSeeds", interval) | "WriteSeeds" >> writer
    write_dropped([read[DROPPED_TAG], extracted[DROPPED_TAG]], output, "seeds", config)
    return JobGraph(STAGES, outputs={"seeds": f"{output}/seeds"})
