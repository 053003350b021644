"""The synth job: seed Parquet in, questions, N responses each, pair Parquet out; every request accounted for."""

from __future__ import annotations

import argparse
import dataclasses

import apache_beam as beam

from dedup.records import DocView
from ledger.drop import Drop
from ledger.files import file_paths
from ledger.ids import unit_hash
from ledger.records import DEAD_LETTER_SCHEMA, PAIR_SCHEMA, PREFERENCE_SCHEMA, Question
from pipeline.config import PipelineConfig
from pipeline.dataflow_dry_run import is_dry_run
from pipeline.errors import UsageError
from pipeline.funnel import StageCounts
from pipeline.graph import JobGraph, add_dedup_stages, count_as, shard_writer, write_dropped
from pipeline.launch import parse_only_shards, run_graph
from pipeline.llm_roles import generation_summary, has_llm, llm_config, synth_instructions, used_roles
from transforms.generate import (
    DEAD_LETTER_TAG,
    GenerateQuestions,
    GenerateResponses,
    SynthConfig,
    TierConfig,
    expand_samples,
)
from transforms.read_seeds import ReadSeeds
from transforms.stage import DROPPED_TAG, KEPT_TAG, Stage, StageDoFn
from transforms.verify import Verify
from transforms.write_parquet import shard_of

TOKEN_COLUMNS = ("question_prompt_tokens", "question_completion_tokens", "response_prompt_tokens",
                 "response_completion_tokens")


STANDARD_TIER = "standard"
QUESTION_VIEW = DocView(text=("instruction",))  # near-duplicate and contaminated questions go before responses


def tier_index(seed_id: str, tiers: tuple[TierConfig, ...]) -> int:
    """Which tier a seed belongs to (0: standard, i: tiers[i-1]), by a stable hash so reruns agree."""
    u = unit_hash(seed_id, "tier")
    edge = 0.0
    for i, tier in enumerate(tiers, start=1):
        edge += tier.share
        if u < edge:
            return i
    return 0


def _split_tiers(label: str, pcoll, seed_id, tiers: tuple[TierConfig, ...]) -> list:
    """One PCollection per tier (standard first), by the seed's tier, so a seed stays in one tier throughout."""
    if not tiers:
        return [pcoll]
    return list(pcoll | label >> beam.Partition(lambda r, _n: tier_index(seed_id(r), tiers), len(tiers) + 1))


def _suffix(tier: str) -> str:
    return "" if tier == STANDARD_TIER else f"-{tier}"


OTHER_SHARD = "other_shard"


def shard_selected(seed_id: str, num_shards: int, wanted: frozenset[int]) -> Drop | None:
    """None when a question's pairs land in one of the shards being regenerated, else the drop that skips them."""
    shard = shard_of(seed_id, num_shards)
    return None if shard in wanted else Drop(OTHER_SHARD, f"pairs shard {shard}")


class OnlyShardsFn(StageDoFn):
    """Passes the deduplicated questions of the selected pairs shards to responses; counts the others by reason."""

    def __init__(self, num_shards: int, wanted: frozenset[int], progress_interval_s: float = 10.0):
        super().__init__("OnlyShards", progress_interval_s)
        self.num_shards = num_shards
        self.wanted = wanted

    def decide(self, question: Question) -> Question | Drop:
        return shard_selected(question.seed_id, self.num_shards, self.wanted) or question


class OnlyShards(Stage):
    """`--only_shards` after question dedup: responses are paid for only in the shards being regenerated."""

    def __init__(self, num_shards: int, only_shards: list[int], progress_interval_s: float = 10.0):
        super().__init__(OnlyShardsFn(num_shards, frozenset(only_shards), progress_interval_s))


def on_accelerator(stage: beam.PTransform, config: PipelineConfig) -> beam.PTransform:
    """The configured accelerator hint on a generation step, and on nothing else (Dataflow then runs only these
    steps on GPU workers)."""
    hint = config.resources.generation_accelerator
    return stage.with_resource_hints(accelerator=hint) if hint else stage


def _respond_and_write(questions, synth: SynthConfig, tier: str, cache_root: str | None, output: str,
                       config: PipelineConfig, only_shards: list[int] | None, dead: list, dropped: list
                       ) -> tuple[list[str], bool]:
    """N responses per question, verified when synth.verify is on, and the tier's shards (split `train` for the
    standard tier, preference pairs beside them under preference/); its stage names, and whether it wrote those."""
    interval, sfx = config.progress_interval_s, _suffix(tier)
    names = [f"GenerateResponses{sfx}"]
    samples = questions | f"ExpandSamples{sfx}" >> beam.FlatMap(expand_samples, synth.samples_per_question)
    pairs = samples | names[0] >> on_accelerator(GenerateResponses(synth, cache_root, interval, stage=names[0]),
                                                 config)
    prefix = "train" if tier == STANDARD_TIER else tier
    writer = shard_writer(f"{output}/data", PAIR_SCHEMA, config.output.pairs_num_shards, config,
                          shard_key=lambda pair: pair.seed_id, only_shards=only_shards, token_columns=TOKEN_COLUMNS,
                          prefix=prefix)
    kept = pairs[KEPT_TAG]
    if tier != STANDARD_TIER:
        kept = kept | f"MarkTier{sfx}" >> beam.Map(lambda pair, t: pair._replace(tier=t), tier)
    dead.append(pairs[DEAD_LETTER_TAG])
    dropped.append(pairs[DROPPED_TAG])
    verified = synth.verify.enabled
    if verified:
        verify = Verify(synth.verify, synth.roles.tests, synth.roles.judge, cache_root, synth.cache_flush_entries,
                        synth.cache_flush_interval_s, interval, suffix=sfx,
                        accelerator=config.resources.generation_accelerator)
        out = {"questions": questions, "pairs": kept} | f"Verify{sfx}" >> verify
        names += verify.stages
        kept = out["chosen"]
        dead += [out["dead_tests"], out["dead_run"], out["dead_judge"]]
        dropped += [out["dropped_tests"], out["dropped_run"], out["dropped_judge"]]
        preference = shard_writer(f"{output}/preference", PREFERENCE_SCHEMA, config.output.pairs_num_shards, config,
                                  shard_key=lambda pair: pair.seed_id, only_shards=only_shards, prefix=prefix)
        names.append(f"WritePreference{sfx}")
        out["preference"] | f"CountPreference{sfx}" >> count_as(names[-1], interval) | names[-1] >> preference
    names.insert(len(names) - verified, f"WritePairs{sfx}")
    kept | f"CountPairs{sfx}" >> count_as(f"WritePairs{sfx}", interval) | f"WritePairs{sfx}" >> writer
    return names, verified


def build_synth(p: beam.Pipeline, seeds_glob: str, config: PipelineConfig, output: str,
                only_shards: list[int] | None = None) -> JobGraph:
    """Seeds to pairs: questions per tier, then decontamination and dedup of all questions, then N responses each.

    Dedup runs on the questions, before responses are paid for, and across tiers. With `only_shards` every seed
    still gets its question (from the generation cache after a full run), so dedup keeps what a full run keeps;
    only the questions whose pairs fall in those shards go on to responses and the writer.
    """
    interval = config.progress_interval_s
    synth = config.synth
    cache_root = f"{output}/cache" if synth.cache else None
    read = p | "ReadSeeds" >> ReadSeeds(seeds_glob, interval)  # a corrupt file is a counted drop that names it
    seeds = read[KEPT_TAG] | "SpreadSeeds" >> beam.Reshuffle()
    tiers = synth.tiers
    tier_synth = [synth, *(dataclasses.replace(synth, roles=t.roles) for t in tiers)]
    tier_names = [STANDARD_TIER, *(t.name for t in tiers)]
    dead: list = []
    dropped: list = [read[DROPPED_TAG]]
    stages = ["ReadSeeds"]
    question_sets = []
    seed_parts = _split_tiers("SplitTiers", seeds, lambda s: s.id, tiers)
    for tier, part, tsynth in zip(tier_names, seed_parts, tier_synth, strict=True):
        name = f"GenerateQuestions{_suffix(tier)}"
        questions = part | name >> on_accelerator(GenerateQuestions(tsynth, cache_root, interval, stage=name), config)
        question_sets.append(questions[KEPT_TAG])
        dead.append(questions[DEAD_LETTER_TAG])
        dropped.append(questions[DROPPED_TAG])
        stages.append(name)
    all_questions = tuple(question_sets) | "AllQuestions" >> beam.Flatten()
    dedup = add_dedup_stages(all_questions, config, QUESTION_VIEW)
    dropped += dedup.dropped
    stages += dedup.stages
    kept = dedup.kept
    if only_shards:  # every seed's question went through dedup, as in a full run; responses only for these shards
        selected = kept | "OnlyShards" >> OnlyShards(config.output.pairs_num_shards, only_shards, interval)
        kept = selected[KEPT_TAG]  # its drops stay out of dropped/: they are pairs of the shards left as they are
        stages.append("OnlyShards")
    outputs, prefixes = {"data": f"{output}/data"}, {"data": "train"}
    parts = _split_tiers("QuestionTiers", kept, lambda q: q.seed_id, tiers)
    for tier, part, tsynth in zip(tier_names, parts, tier_synth, strict=True):
        names, verified = _respond_and_write(part, tsynth, tier, cache_root, output, config, only_shards, dead,
                                             dropped)
        stages += names
        name = "" if tier == STANDARD_TIER else f".{tier}"
        if tier != STANDARD_TIER:
            outputs[f"data{name}"], prefixes[f"data{name}"] = f"{output}/data", tier
        if verified:
            outputs[f"preference{name}"] = f"{output}/preference"
            prefixes[f"preference{name}"] = "train" if tier == STANDARD_TIER else tier
    write_dropped(dropped, output, "synth", config)
    dead_letters = shard_writer(f"{output}/dead_letter/synth", DEAD_LETTER_SCHEMA, 0, config, prefix="dead_letter",
                                shard_key=lambda d: f"{d.stage}/{d.id}")  # by the target size, never one shard
    tuple(dead) | "DeadLetters" >> beam.Flatten() | "WriteDeadLetters" >> dead_letters
    # GenerateResponses reads N samples per kept question, and tiers split the flow: check the one-to-one hand-offs
    # (verification turns N responses into one row, so its writers are checked by the funnel of each of its stages).
    handoffs = [] if synth.verify.enabled else [(f"GenerateResponses{_suffix(t)}", f"WritePairs{_suffix(t)}")
                                                for t in tier_names]
    if not tiers:
        handoffs.insert(0, ("ReadSeeds", "GenerateQuestions"))
    if only_shards and dedup.stages:
        handoffs.append((dedup.stages[-1], "OnlyShards"))
    return JobGraph(stages, outputs=outputs, prefixes=prefixes, handoffs=handoffs)


def seeds_glob(ns: argparse.Namespace) -> str:
    """The seed shards to expand: --seeds (a directory, glob or file), else OUTPUT/seeds."""
    seeds = ns.seeds or f"{ns.output}/seeds"
    return seeds if any(c in seeds for c in "*?[") or seeds.endswith(".parquet") else f"{seeds}/train-*.parquet"


def run(ns: argparse.Namespace, beam_argv: list[str], config: PipelineConfig) -> list[StageCounts]:
    """`python -m pipeline synth --output OUT --llm_endpoint URL`: the LLM roles filled, the graph run; its funnel."""
    if getattr(ns, "verify", None) is not None:  # --verify / --no_verify win over synth.verify.enabled
        config = dataclasses.replace(config, synth=dataclasses.replace(
            config.synth, verify=dataclasses.replace(config.synth.verify, enabled=ns.verify)))
    if not has_llm(ns, config, used_roles(config)):
        raise UsageError(synth_instructions(ns.output))
    glob = seeds_glob(ns)
    if not is_dry_run(beam_argv) and not file_paths(glob):  # a dry run of `all` translates before seeds exist
        raise UsageError(f"no seed shards match {glob}: run the seeds job first, or pass --seeds")
    only = parse_only_shards(ns.only_shards, config.output.pairs_num_shards)
    with llm_config(ns, config, beam_argv) as config:
        return run_graph("synth", lambda p: build_synth(p, glob, config, ns.output, only), beam_argv,
                         config, ns.output, only, extra={"generation": generation_summary(config)})
