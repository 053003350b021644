"""The synth job graph: seed Parquet in, questions, N responses each, pair Parquet out; every request accounted for."""

from __future__ import annotations

import apache_beam as beam

from pipeline.config import PipelineConfig
from pipeline.graph import JobGraph, count_as, shard_writer, write_dropped
from pipeline.records import DEAD_LETTER_SCHEMA, PAIR_SCHEMA, Seed
from transforms.generate import DEAD_LETTER_TAG, GenerateQuestions, GenerateResponses, expand_samples
from transforms.stage import DROPPED_TAG, KEPT_TAG
from transforms.write_parquet import WriteParquetShards, shard_of

STAGES = ["ReadSeeds", "GenerateQuestions", "GenerateResponses", "WritePairs"]
# GenerateResponses reads N samples per kept question, so that hand-off is N:1 and not checked one to one.
HANDOFFS = [("ReadSeeds", "GenerateQuestions"), ("GenerateResponses", "WritePairs")]
TOKEN_COLUMNS = ("question_prompt_tokens", "question_completion_tokens", "response_prompt_tokens",
                 "response_completion_tokens")


def _to_seed(row: dict) -> Seed:
    return Seed(**{name: row[name] for name in Seed._fields})


def build_synth(p: beam.Pipeline, seeds_glob: str, config: PipelineConfig, output: str,
                only_shards: list[int] | None = None) -> JobGraph:
    """Seed Parquet to pair Parquet: a question per seed, N responses per question, failures as dead letters."""
    interval = config.progress_interval_s
    synth = config.synth
    cache_root = f"{output}/cache" if synth.cache else None
    seeds = (p | "ReadSeeds" >> beam.io.ReadFromParquet(seeds_glob, columns=list(Seed._fields))
             | "ToSeed" >> beam.Map(_to_seed) | "CountReadSeeds" >> count_as("ReadSeeds", interval)
             | "SpreadSeeds" >> beam.Reshuffle())
    if only_shards:  # regenerate only the pairs of these shards: other seeds cost nothing
        n, wanted = config.output.pairs_num_shards, set(only_shards)
        seeds = seeds | "OnlyShards" >> beam.Filter(lambda s: shard_of(s.id, n) in wanted)
    questions = seeds | "GenerateQuestions" >> GenerateQuestions(synth, cache_root, interval)
    samples = questions[KEPT_TAG] | "ExpandSamples" >> beam.FlatMap(expand_samples, synth.responses_per_question)
    pairs = samples | "GenerateResponses" >> GenerateResponses(synth, cache_root, interval)
    writer = shard_writer(f"{output}/data", PAIR_SCHEMA, config.output.pairs_num_shards, config,
                          shard_key=lambda pair: pair.seed_id, only_shards=only_shards, token_columns=TOKEN_COLUMNS)
    pairs[KEPT_TAG] | "CountPairs" >> count_as("WritePairs", interval) | "WritePairs" >> writer
    write_dropped([questions[DROPPED_TAG], pairs[DROPPED_TAG]], output, "synth", config)
    dead_letters = WriteParquetShards(f"{output}/dead_letter/synth", DEAD_LETTER_SCHEMA, 1, prefix="dead_letter",
                                      shard_key=lambda d: f"{d.stage}/{d.id}")
    ((questions[DEAD_LETTER_TAG], pairs[DEAD_LETTER_TAG]) | "DeadLetters" >> beam.Flatten()
     | "WriteDeadLetters" >> dead_letters)
    return JobGraph(STAGES, outputs={"data": f"{output}/data"}, handoffs=HANDOFFS)
