"""The seeds job graph: WARC files in, seed Parquet out, every drop counted.

Cheap decisions first: the resiliparse first pass and the fastText code classifier see every page, trafilatura
only the pages the classifier calls code-related.
"""

from __future__ import annotations

import apache_beam as beam

from dedup.records import CLUSTER_SCHEMA
from pipeline.config import PipelineConfig
from pipeline.dedup_job import SEED_VIEW, add_dedup_stages
from pipeline.graph import JobGraph, count_as, shard_writer, write_dropped
from pipeline.records import SEED_SCHEMA
from transforms.balance import Balance
from transforms.code_classifier import CodeClassifier
from transforms.extract_text import ExtractText
from transforms.first_pass import FirstPass
from transforms.lang_id import LangId
from transforms.quality import Quality
from transforms.read_warc import ReadWarc
from transforms.scrub import Scrub
from transforms.stage import DROPPED_TAG, KEPT_TAG

# read -> first pass -> code classifier -> extract -> LID -> quality -> code language -> scrub -> dedup -> balance
# -> write (the dedup stages come from config.dedup and sit between Scrub and Balance).
STAGES = ["ReadWarc", "FirstPass", "CodeClassifier", "Extract", "LangId", "Quality", "Scrub", "Balance",
          "WriteSeeds"]


def build_seeds(p: beam.Pipeline, files: list[str], config: PipelineConfig, output: str,
                only_shards: list[int] | None = None) -> JobGraph:
    """WARC files to seed Parquet through the cascade; every stage's drops go to OUT/dropped/seeds."""
    interval = config.progress_interval_s
    read = p | "WarcFiles" >> beam.Create(files) | "ReadWarc" >> ReadWarc(config.read, interval)
    screened = read[KEPT_TAG] | "FirstPass" >> FirstPass(config.first_pass, interval)
    code = screened[KEPT_TAG] | "CodeClassifier" >> CodeClassifier(config.code_classifier, interval)
    extracted = code[KEPT_TAG] | "Extract" >> ExtractText(config.extract, interval)
    lang = extracted[KEPT_TAG] | "LangId" >> LangId(config.lang_id, interval)
    quality = lang[KEPT_TAG] | "Quality" >> Quality(config.quality, interval)
    scrubbed = quality[KEPT_TAG] | "Scrub" >> Scrub(config.scrub, interval)
    steps = (read, screened, code, extracted, lang, quality, scrubbed)
    stages = STAGES[:STAGES.index("Scrub") + 1]
    dropped = [s[DROPPED_TAG] for s in steps]
    outputs = {}

    # dedup: decontaminate, exact, MinHash near-dup
    dedup = add_dedup_stages(scrubbed[KEPT_TAG], config, SEED_VIEW)
    stages, dropped = stages + dedup.stages, dropped + dedup.dropped
    outputs["seed_clusters"] = f"{output}/seed_clusters"
    (dedup.clusters | "SeedClusterRows" >> beam.Flatten()
     | "WriteSeedClusters" >> shard_writer(outputs["seed_clusters"], CLUSTER_SCHEMA,
                                           config.dedup.clusters_num_shards, config))

    balanced = dedup.kept | "Balance" >> Balance(config.balance, interval)
    stages, dropped = [*stages, "Balance", "WriteSeeds"], [*dropped, balanced[DROPPED_TAG]]
    writer = shard_writer(f"{output}/seeds", SEED_SCHEMA, config.output.seeds_num_shards, config,
                          only_shards=only_shards, token_columns=("text_words", "text_chars"))
    balanced[KEPT_TAG] | "CountSeeds" >> count_as("WriteSeeds", interval) | "WriteSeeds" >> writer
    write_dropped(dropped, output, "seeds", config)
    outputs["seeds"] = f"{output}/seeds"
    return JobGraph(stages, outputs=outputs)
