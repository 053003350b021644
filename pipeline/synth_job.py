"""The synth job graph: seed Parquet in, instruction/response pairs out, every drop counted."""

from __future__ import annotations

import apache_beam as beam

from pipeline.config import PipelineConfig
from pipeline.graph import JobGraph, count_as, shard_writer, write_dropped
from pipeline.records import PAIR_SCHEMA, Seed
from transforms.generate import GenerateQuestions, GenerateResponses
from transforms.stage import DROPPED_TAG, KEPT_TAG
from transforms.write_parquet import shard_of

STAGES = ["ReadSeeds", "GenerateQuestions", "GenerateResponses", "WritePairs"]


def _to_seed(row: dict) -> Seed:
    return Seed(**{name: row[name] for name in Seed._fields})


def build_synth(p: beam.Pipeline, seeds_glob: str, config: PipelineConfig, output: str,
                only_shards: list[int] | None = None) -> JobGraph:
    """Seed Parquet to pair Parquet: a question per seed, a response per question."""
    interval = config.progress_interval_s
    roles = config.synth.roles
    seeds = (p | "ReadSeeds" >> beam.io.ReadFromParquet(seeds_glob, columns=list(Seed._fields))
             | "ToSeed" >> beam.Map(_to_seed) | "CountReadSeeds" >> count_as("ReadSeeds", interval)
             | "SpreadSeeds" >> beam.Reshuffle())
    if only_shards:  # regenerate only the pairs of these shards: other seeds cost nothing
        n, wanted = config.output.pairs_num_shards, set(only_shards)
        seeds = seeds | "OnlyShards" >> beam.Filter(lambda s: shard_of(s.id, n) in wanted)
    questions = seeds | "GenerateQuestions" >> GenerateQuestions(roles.question, config.synth.max_seed_chars, interval)
    pairs = questions[KEPT_TAG] | "GenerateResponses" >> GenerateResponses(roles.response, interval)
    writer = shard_writer(f"{output}/data", PAIR_SCHEMA, config.output.pairs_num_shards, config,
                          shard_key=lambda pair: pair.seed_id, only_shards=only_shards,
                          token_columns=("prompt_tokens", "completion_tokens"))
    pairs[KEPT_TAG] | "CountPairs" >> count_as("WritePairs", interval) | "WritePairs" >> writer
    write_dropped([questions[DROPPED_TAG], pairs[DROPPED_TAG]], output, "synth", config)
    return JobGraph(STAGES, outputs={"data": f"{output}/data"})
