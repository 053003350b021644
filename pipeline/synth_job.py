"""The synth job graph: seed Parquet in, instruction/response pairs out, every drop counted."""

from __future__ import annotations

import apache_beam as beam

from pipeline.config import PipelineConfig
from pipeline.graph import JobGraph, count_as, write_dropped
from pipeline.records import PAIR_SCHEMA, Seed
from transforms.generate import GenerateQuestions, GenerateResponses
from transforms.stage import DROPPED_TAG, KEPT_TAG
from transforms.write_parquet import WriteParquetShards

STAGES = ["ReadSeeds", "GenerateQuestions", "GenerateResponses", "WritePairs"]


def _to_seed(row: dict) -> Seed:
    return Seed(**{name: row[name] for name in Seed._fields})


def build_synth(p: beam.Pipeline, seeds_glob: str, config: PipelineConfig, output: str) -> JobGraph:
    """Seed Parquet to pair Parquet: a question per seed, a response per question."""
    interval = config.progress_interval_s
    roles = config.synth.roles
    seeds = (p | "ReadSeeds" >> beam.io.ReadFromParquet(seeds_glob, columns=list(Seed._fields))
             | "ToSeed" >> beam.Map(_to_seed) | "CountReadSeeds" >> count_as("ReadSeeds", interval)
             | "SpreadSeeds" >> beam.Reshuffle())
    questions = seeds | "GenerateQuestions" >> GenerateQuestions(roles.question, config.synth.max_seed_chars, interval)
    pairs = questions[KEPT_TAG] | "GenerateResponses" >> GenerateResponses(roles.response, interval)
    shards = config.output.pairs_num_shards
    (pairs[KEPT_TAG] | "CountPairs" >> count_as("WritePairs", interval)
     | "WritePairs" >> WriteParquetShards(f"{output}/data", PAIR_SCHEMA, shards, config.output.row_group_bytes))
    write_dropped([questions[DROPPED_TAG], pairs[DROPPED_TAG]], output, "synth", config)
    return JobGraph(STAGES, outputs={"data": f"{output}/data"}, num_shards={"data": shards})
