"""The synth job graph: seed Parquet in, questions, N responses each, pair Parquet out; every request accounted for."""

from __future__ import annotations

import dataclasses

import apache_beam as beam

from pipeline.config import PipelineConfig, SynthConfig, TierConfig
from pipeline.graph import JobGraph, count_as, shard_writer, write_dropped
from pipeline.records import DEAD_LETTER_SCHEMA, PAIR_SCHEMA, Seed, stable_id
from transforms.generate import DEAD_LETTER_TAG, GenerateQuestions, GenerateResponses, expand_samples
from transforms.stage import DROPPED_TAG, KEPT_TAG
from transforms.write_parquet import WriteParquetShards, shard_of

TOKEN_COLUMNS = ("question_prompt_tokens", "question_completion_tokens", "response_prompt_tokens",
                 "response_completion_tokens")


STANDARD_TIER = "standard"


def tier_index(seed_id: str, tiers: tuple[TierConfig, ...]) -> int:
    """Which tier a seed belongs to (0: standard, i: tiers[i-1]), by a stable hash so reruns agree."""
    u = int(stable_id(seed_id, "tier"), 16) / 16**16
    edge = 0.0
    for i, tier in enumerate(tiers, start=1):
        edge += tier.share
        if u < edge:
            return i
    return 0


def _to_seed(row: dict) -> Seed:
    return Seed(**{name: row[name] for name in Seed._fields})


def _generate_tier(seeds, synth: SynthConfig, tier: str, cache_root: str | None, output: str, config: PipelineConfig,
                   only_shards: list[int] | None, dead: list, dropped: list) -> list[str]:
    """Questions, N responses each, and the tier's shards (split `train` for the standard tier); its stage names."""
    interval = config.progress_interval_s
    sfx = "" if tier == STANDARD_TIER else f"-{tier}"
    names = [f"GenerateQuestions{sfx}", f"GenerateResponses{sfx}", f"WritePairs{sfx}"]
    questions = seeds | names[0] >> GenerateQuestions(synth, cache_root, interval, stage=names[0])
    samples = questions[KEPT_TAG] | f"ExpandSamples{sfx}" >> beam.FlatMap(expand_samples,
                                                                          synth.responses_per_question)
    pairs = samples | names[1] >> GenerateResponses(synth, cache_root, interval, stage=names[1])
    writer = shard_writer(f"{output}/data", PAIR_SCHEMA, config.output.pairs_num_shards, config,
                          shard_key=lambda pair: pair.seed_id, only_shards=only_shards, token_columns=TOKEN_COLUMNS,
                          prefix="train" if tier == STANDARD_TIER else tier)
    kept = pairs[KEPT_TAG]
    if tier != STANDARD_TIER:
        kept = kept | f"MarkTier{sfx}" >> beam.Map(lambda pair, t: pair._replace(tier=t), tier)
    kept | f"CountPairs{sfx}" >> count_as(names[2], interval) | names[2] >> writer
    dead += [questions[DEAD_LETTER_TAG], pairs[DEAD_LETTER_TAG]]
    dropped += [questions[DROPPED_TAG], pairs[DROPPED_TAG]]
    return names


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
    tiers = synth.tiers
    parts = ([seeds] if not tiers else
             seeds | "SplitTiers" >> beam.Partition(lambda s, _n: tier_index(s.id, tiers), len(tiers) + 1))
    dead: list = []
    dropped: list = []
    stages = ["ReadSeeds"]
    outputs = {"data": f"{output}/data"}
    prefixes = {"data": "train"}
    for i, part in enumerate(parts):
        tier_synth = synth if i == 0 else dataclasses.replace(synth, roles=tiers[i - 1].roles)
        name = STANDARD_TIER if i == 0 else tiers[i - 1].name
        stages += _generate_tier(part, tier_synth, name, cache_root, output, config, only_shards, dead, dropped)
        if i:
            outputs[f"data.{name}"], prefixes[f"data.{name}"] = f"{output}/data", name
    write_dropped(dropped, output, "synth", config)
    dead_letters = WriteParquetShards(f"{output}/dead_letter/synth", DEAD_LETTER_SCHEMA, 1, prefix="dead_letter",
                                      shard_key=lambda d: f"{d.stage}/{d.id}")
    tuple(dead) | "DeadLetters" >> beam.Flatten() | "WriteDeadLetters" >> dead_letters
    # GenerateResponses reads N samples per kept question, and tiers split ReadSeeds: only one-to-one hand-offs.
    handoffs = [(a, b) for a, b in zip(stages[2::3], stages[3::3], strict=True)]
    if not tiers and not only_shards:
        handoffs.insert(0, ("ReadSeeds", "GenerateQuestions"))
    return JobGraph(stages, outputs=outputs, prefixes=prefixes, handoffs=handoffs)
