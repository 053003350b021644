"""The synth job graph: seed Parquet in, questions, N responses each, pair Parquet out; every request accounted for."""

from __future__ import annotations

import apache_beam as beam

from pipeline.config import PipelineConfig
from pipeline.graph import JobGraph, count_as, write_dropped
from pipeline.records import DEAD_LETTER_SCHEMA, PAIR_SCHEMA, Seed
from transforms.generate import DEAD_LETTER_TAG, GenerateQuestions, GenerateResponses, expand_samples
from transforms.stage import DROPPED_TAG, KEPT_TAG
from transforms.write_parquet import WriteParquetShards

STAGES = ["ReadSeeds", "GenerateQuestions", "GenerateResponses", "WritePairs"]
# GenerateResponses reads N samples per kept question, so that hand-off is N:1 and not checked one to one.
HANDOFFS = [("ReadSeeds", "GenerateQuestions"), ("GenerateResponses", "WritePairs")]


def _to_seed(row: dict) -> Seed:
    return Seed(**{name: row[name] for name in Seed._fields})


def build_synth(p: beam.Pipeline, seeds_glob: str, config: PipelineConfig, output: str) -> JobGraph:
    """Seed Parquet to pair Parquet: a question per seed, N responses per question, failures as dead letters."""
    interval = config.progress_interval_s
    synth = config.synth
    cache_root = f"{output}/cache" if synth.cache else None
    seeds = (p | "ReadSeeds" >> beam.io.ReadFromParquet(seeds_glob, columns=list(Seed._fields))
             | "ToSeed" >> beam.Map(_to_seed) | "CountReadSeeds" >> count_as("ReadSeeds", interval)
             | "SpreadSeeds" >> beam.Reshuffle())
    questions = seeds | "GenerateQuestions" >> GenerateQuestions(synth, cache_root, interval)
    n = synth.responses_per_question
    samples = questions[KEPT_TAG] | "ExpandSamples" >> beam.FlatMap(expand_samples, n)
    pairs = samples | "GenerateResponses" >> GenerateResponses(synth, cache_root, interval)
    shards = config.output.pairs_num_shards
    (pairs[KEPT_TAG] | "CountPairs" >> count_as("WritePairs", interval)
     | "WritePairs" >> WriteParquetShards(f"{output}/data", PAIR_SCHEMA, shards, config.output.row_group_bytes))
    write_dropped([questions[DROPPED_TAG], pairs[DROPPED_TAG]], output, "synth", config)
    ((questions[DEAD_LETTER_TAG], pairs[DEAD_LETTER_TAG]) | "DeadLetters" >> beam.Flatten()
     | "WriteDeadLetters" >> WriteParquetShards(f"{output}/dead_letter/synth", DEAD_LETTER_SCHEMA, 1,
                                                prefix="dead_letter"))
    return JobGraph(STAGES, outputs={"data": f"{output}/data"}, num_shards={"data": shards}, handoffs=HANDOFFS)
