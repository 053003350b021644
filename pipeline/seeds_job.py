"""The seeds job graph: WARC files in, seed Parquet out, every drop counted.

Cheap decisions first: the resiliparse first pass and the fastText code classifier see every page, trafilatura
only the pages the classifier calls code-related.
"""

from __future__ import annotations

import apache_beam as beam

from pipeline.config import PipelineConfig
from pipeline.graph import JobGraph, count_as, write_dropped
from pipeline.records import SEED_SCHEMA
from transforms.balance import Balance
from transforms.code_classifier import CodeClassifier
from transforms.extract_text import ExtractText
from transforms.first_pass import FirstPass
from transforms.lang_id import LangId
from transforms.quality import Quality
from transforms.read_warc import ReadWarc
from transforms.scrub import Scrub, scrub_dropped
from transforms.stage import DROPPED_TAG, KEPT_TAG
from transforms.write_parquet import WriteParquetShards

# read -> first pass -> code classifier -> extract -> LID -> quality -> code language -> scrub -> dedup -> balance
# -> write; CodeLang and Dedup come from their own issues and slot in where the comments say.
STAGES = ["ReadWarc", "FirstPass", "CodeClassifier", "Extract", "LangId", "Quality", "Scrub", "Balance",
          "WriteSeeds"]


def build_seeds(p: beam.Pipeline, files: list[str], config: PipelineConfig, output: str) -> JobGraph:
    """WARC files to seed Parquet through the cascade; every stage's drops go to OUT/dropped/seeds."""
    interval = config.progress_interval_s
    read = p | "WarcFiles" >> beam.Create(files) | "ReadWarc" >> ReadWarc(config.read, interval)
    screened = read[KEPT_TAG] | "FirstPass" >> FirstPass(config.first_pass, interval)
    code = screened[KEPT_TAG] | "CodeClassifier" >> CodeClassifier(config.code_classifier, interval)
    extracted = code[KEPT_TAG] | "Extract" >> ExtractText(config.extract, interval)
    lang = extracted[KEPT_TAG] | "LangId" >> LangId(config.lang_id, interval)
    quality = lang[KEPT_TAG] | "Quality" >> Quality(config.quality, interval)
    # CodeLang (programming language, magika) goes here.
    scrubbed = quality[KEPT_TAG] | "Scrub" >> Scrub(config.scrub, interval)
    # Dedup (exact + MinHash) goes here.
    balanced = scrubbed[KEPT_TAG] | "Balance" >> Balance(config.balance, interval)
    shards = config.output.seeds_num_shards
    (balanced[KEPT_TAG] | "CountSeeds" >> count_as("WriteSeeds", interval)
     | "WriteSeeds" >> WriteParquetShards(f"{output}/seeds", SEED_SCHEMA, shards, config.output.row_group_bytes))
    stages = (read, screened, code, extracted, lang, quality, scrubbed, balanced)
    if config.output.write_dropped:
        drops = (tuple(s[DROPPED_TAG] for s in stages) | "FlattenDrops" >> beam.Flatten()
                 | "ScrubDrops" >> beam.Map(scrub_dropped, config.scrub))
        write_dropped([drops], output, "seeds", config)
    return JobGraph(STAGES, outputs={"seeds": f"{output}/seeds"}, num_shards={"seeds": shards})
