"""The seeds job graph: WARC files in, seed Parquet out, every drop counted."""

from __future__ import annotations

import apache_beam as beam

from dedup.records import CLUSTER_SCHEMA
from pipeline.config import PipelineConfig
from pipeline.dedup_job import SEED_VIEW, add_dedup_stages
from pipeline.graph import JobGraph, count_as, shard_writer, write_dropped
from pipeline.records import SEED_SCHEMA
from transforms.code_lang import CodeLang
from transforms.extract_code import ExtractCodePage
from transforms.first_pass import FirstPass
from transforms.read_warc import ReadWarc
from transforms.stage import DROPPED_TAG, KEPT_TAG

STAGES = ["ReadWarc", "FirstPass", "ExtractCodePage", "CodeLang", "WriteSeeds"]


def build_seeds(p: beam.Pipeline, files: list[str], config: PipelineConfig, output: str,
                only_shards: list[int] | None = None) -> JobGraph:
    """WARC files to seed Parquet. Each step is `label >> stage`, and its drops join `dropped`: a new stage
    (the code classifier after FirstPass; LangID, quality, balance after CodeLang) is one more link."""
    interval = config.progress_interval_s
    dropped = []

    def link(pcoll, label: str, stage):
        out = pcoll | label >> stage
        dropped.append(out[DROPPED_TAG])
        return out[KEPT_TAG]

    pages = link(p | "WarcFiles" >> beam.Create(files), "ReadWarc", ReadWarc(config.read, interval))
    screened = link(pages, "FirstPass", FirstPass(config.first_pass, interval))
    seeds = link(screened, "ExtractCodePage", ExtractCodePage(config.extract, interval))
    seeds = link(seeds, "CodeLang", CodeLang(config.code_lang, interval))
    stages = STAGES[:-1]
    outputs = {}

    # ---- dedup (issue 5): decontaminate, exact, MinHash near-dup; the last stages before WriteSeeds ----
    dedup = add_dedup_stages(seeds, config, SEED_VIEW)
    seeds, stages, dropped = dedup.kept, stages + dedup.stages, dropped + dedup.dropped
    outputs["seed_clusters"] = f"{output}/seed_clusters"
    (dedup.clusters | "SeedClusterRows" >> beam.Flatten()
     | "WriteSeedClusters" >> shard_writer(outputs["seed_clusters"], CLUSTER_SCHEMA,
                                           config.dedup.clusters_num_shards, config))
    # ---- end dedup ----

    writer = shard_writer(f"{output}/seeds", SEED_SCHEMA, config.output.seeds_num_shards, config,
                          only_shards=only_shards, token_columns=("text_words", "text_chars"))
    seeds | "CountSeeds" >> count_as("WriteSeeds", interval) | "WriteSeeds" >> writer
    write_dropped(dropped, output, "seeds", config)
    outputs["seeds"] = f"{output}/seeds"
    return JobGraph([*stages, "WriteSeeds"], outputs=outputs)
