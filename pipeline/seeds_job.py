"""The seeds job: WARC files in, seed Parquet out, every drop counted.

Cheap decisions first: the resiliparse first pass and the fastText code classifier see every page, trafilatura
only the pages the classifier calls code-related.
"""

from __future__ import annotations

import argparse
import logging

import apache_beam as beam

from dedup.records import CLUSTER_SCHEMA, SEED_VIEW
from ledger.records import SEED_SCHEMA
from pipeline.config import PipelineConfig
from pipeline.errors import UsageError
from pipeline.funnel import StageCounts
from pipeline.graph import JobGraph, add_dedup_stages, count_as, shard_writer, write_dropped
from pipeline.launch import parse_only_shards, run_graph
from transforms.balance import Balance
from transforms.code_classifier import CodeClassifier
from transforms.code_lang import CodeLang
from transforms.extract_code import ExtractCodePage
from transforms.first_pass import FirstPass
from transforms.lang_id import LangId
from transforms.quality import Quality
from transforms.read_warc import ReadWarc
from transforms.scrub import Scrub
from transforms.stage import DROPPED_TAG, KEPT_TAG
from transforms.warc_inputs import CC_BASE_URL, WarcFiles, check_inputs

_LOG = logging.getLogger("syncode")

# read -> first pass -> code classifier -> extract -> LID -> quality -> code language -> scrub -> dedup -> balance
# -> write (the dedup stages come from config.dedup and sit between Scrub and Balance).
STAGES = ["ReadWarc", "FirstPass", "CodeClassifier", "ExtractCodePage", "LangId", "Quality", "CodeLang", "Scrub",
          "Balance", "WriteSeeds"]


def build_seeds(p: beam.Pipeline, inputs: list[str], config: PipelineConfig, output: str,
                only_shards: list[int] | None = None, base_url: str = CC_BASE_URL) -> JobGraph:
    """WARC inputs (paths, globs, listings: expanded on the workers) to seed Parquet through the cascade. Each step
    is `label >> stage`, and its drops join `dropped`."""
    interval = config.progress_interval_s
    dropped = []

    def link(pcoll, label: str, stage):
        out = pcoll | label >> stage
        dropped.append(out[DROPPED_TAG])
        return out[KEPT_TAG]

    pages = link(p | "WarcFiles" >> WarcFiles(inputs, base_url), "ReadWarc", ReadWarc(config.read, interval))
    screened = link(pages, "FirstPass", FirstPass(config.first_pass, interval))
    screened = link(screened, "CodeClassifier", CodeClassifier(config.code_classifier, interval))
    # the cheap steps run where the file is read; only the ~5% they keep is spread over the workers for extraction
    screened = screened | "SpreadCodePages" >> beam.Reshuffle()
    seeds = link(screened, "ExtractCodePage", ExtractCodePage(config.extract, interval))
    seeds = link(seeds, "LangId", LangId(config.lang_id, interval))
    seeds = link(seeds, "Quality", Quality(config.quality, interval))
    seeds = link(seeds, "CodeLang", CodeLang(config.code_lang, interval))
    seeds = link(seeds, "Scrub", Scrub(config.scrub, interval))
    stages = STAGES[:STAGES.index("Scrub") + 1]
    outputs = {}

    # dedup: decontaminate, exact, MinHash near-dup
    dedup = add_dedup_stages(seeds, config, SEED_VIEW)
    stages, dropped = stages + dedup.stages, dropped + dedup.dropped
    outputs["seed_clusters"] = f"{output}/seed_clusters"
    (dedup.clusters | "SeedClusterRows" >> beam.Flatten()
     | "WriteSeedClusters" >> shard_writer(outputs["seed_clusters"], CLUSTER_SCHEMA,
                                           config.dedup.clusters_num_shards, config))

    balanced = link(dedup.kept, "Balance", Balance(config.balance, interval))
    stages += ["Balance", "WriteSeeds"]
    writer = shard_writer(f"{output}/seeds", SEED_SCHEMA, config.output.seeds_num_shards, config,
                          only_shards=only_shards, token_columns=("text_words", "text_chars"))
    balanced | "CountSeeds" >> count_as("WriteSeeds", interval) | "WriteSeeds" >> writer
    write_dropped(dropped, output, "seeds", config)
    outputs["seeds"] = f"{output}/seeds"
    return JobGraph(stages, outputs=outputs)


def run(ns: argparse.Namespace, beam_argv: list[str], config: PipelineConfig) -> list[StageCounts]:
    """`python -m pipeline seeds --input WARCS --output OUT`: the WARC files resolved, the graph run; its funnel."""
    if not ns.input:
        raise UsageError("seeds needs --input: WARC paths, globs, or a Common Crawl warc.paths.gz listing")
    pieces = check_inputs(ns.input, ns.cc_base_url)
    _LOG.info("seeds: %d input(s), expanded into WARC files on the workers: %s", len(pieces),
              ", ".join(pieces[:5]) + (" ..." if len(pieces) > 5 else ""))
    only = parse_only_shards(ns.only_shards, config.output.seeds_num_shards)
    return run_graph("seeds", lambda p: build_seeds(p, pieces, config, ns.output, only, ns.cc_base_url), beam_argv,
                     config, ns.output, only)
