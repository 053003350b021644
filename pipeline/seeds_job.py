"""The seeds job graph: WARC files in, seed Parquet out, every drop counted."""

from __future__ import annotations

import apache_beam as beam

from pipeline.config import PipelineConfig
from pipeline.graph import JobGraph, count_as, write_dropped
from pipeline.records import SEED_SCHEMA
from transforms.code_lang import CodeLang
from transforms.extract_code import ExtractCodePage
from transforms.first_pass import FirstPass
from transforms.read_warc import ReadWarc
from transforms.stage import DROPPED_TAG, KEPT_TAG
from transforms.write_parquet import WriteParquetShards

STAGES = ["ReadWarc", "FirstPass", "ExtractCodePage", "CodeLang", "WriteSeeds"]


def build_seeds(p: beam.Pipeline, files: list[str], config: PipelineConfig, output: str) -> JobGraph:
    """WARC files to seed Parquet. Each step is `label >> stage`, and its drops join `dropped`: a new stage
    (the code classifier after FirstPass; LangID, quality, dedup, balance after CodeLang) is one more link."""
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
    shards = config.output.seeds_num_shards
    (seeds | "CountSeeds" >> count_as("WriteSeeds", interval)
     | "WriteSeeds" >> WriteParquetShards(f"{output}/seeds", SEED_SCHEMA, shards, config.output.row_group_bytes))
    write_dropped(dropped, output, "seeds", config)
    return JobGraph(STAGES, outputs={"seeds": f"{output}/seeds"}, num_shards={"seeds": shards})
