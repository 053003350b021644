"""The dedup job (`python -m pipeline dedup`): seed Parquet or a user's JSONL through the shared dedup stages."""

from __future__ import annotations

import argparse

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems

from dedup.records import CLUSTER_SCHEMA, SEED_VIEW, TEXT_DOC_SCHEMA, DocView
from ledger.records import SEED_SCHEMA, Seed, seed_from_row
from pipeline.config import PipelineConfig
from pipeline.errors import UsageError
from pipeline.funnel import StageCounts
from pipeline.graph import JobGraph, add_dedup_stages, count_as, shard_writer, write_dropped
from pipeline.launch import parse_only_shards, run_graph
from transforms.read_docs import ParseTextDocs
from transforms.stage import DROPPED_TAG, KEPT_TAG

TEXT_VIEW = DocView(text=("text",), score="score", date="date")


PARQUET_SUFFIXES = (".parquet",)
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz")
CHECK_MATCHES = 1000  # files looked at per pattern at launch; the workers match the patterns in full


def input_pattern(pattern: str) -> str:
    """A directory reads as everything in it; a file name or glob as itself."""
    if not any(ch in pattern for ch in "*?[") and not pattern.endswith((".parquet", ".jsonl", ".gz", ".json")):
        pattern = pattern.rstrip("/") + "/*"
    return pattern


def _first_matches(pattern: str) -> list[str]:
    return sorted(m.path for r in FileSystems.match([pattern], limits=[CHECK_MATCHES]) for m in r.metadata_list)


def input_kind(paths: list[str]) -> tuple[str, list[str]]:
    """'seeds' (Parquet with every Seed column), 'parquet' (id and text) or 'jsonl', and the patterns to read.

    The check at launch looks at the first files each pattern matches; the graph holds the patterns only, and the
    workers match them when the job runs."""
    patterns = [input_pattern(p) for p in paths]
    files = [f for p in patterns for f in _first_matches(p)]
    if not files:
        raise UsageError(f"dedup: no input files match {', '.join(paths)}")
    parquet = [f for f in files if f.endswith(PARQUET_SUFFIXES)]
    jsonl = [f for f in files if f.endswith(JSONL_SUFFIXES)]
    if parquet and jsonl or len(parquet) + len(jsonl) != len(files):
        raise UsageError("dedup: --input must be all Parquet or all JSONL (.jsonl, .jsonl.gz); got "
                         + ", ".join(files[:5]))
    if jsonl:
        return "jsonl", patterns
    with FileSystems.open(parquet[0]) as fh:
        columns = set(pq.ParquetFile(fh).schema_arrow.names)
    if set(Seed._fields) <= columns:
        return "seeds", patterns
    if {"id", "text"} <= columns:
        return "parquet", patterns
    raise UsageError(f"dedup: {parquet[0]} has neither the seed columns nor `id` and `text`")


def read_docs(p: beam.Pipeline, kind: str, patterns: list[str], interval: float):
    """The input as typed records plus the ReadDocs drops (JSONL lines without id or text); the patterns are
    matched on the workers, and only files of the input's kind are read."""
    suffixes = JSONL_SUFFIXES if kind == "jsonl" else PARQUET_SUFFIXES
    pattern = (p | "InputPatterns" >> beam.Create(patterns) | "MatchInputs" >> fileio.MatchAll()
               | "InputFiles" >> beam.Map(lambda m: m.path)
               | "OfTheKind" >> beam.Filter(lambda path, s: path.endswith(s), suffixes))
    if kind == "seeds":
        docs = (pattern | "ReadParquet" >> beam.io.ReadAllFromParquet(columns=list(Seed._fields))
                | "ToSeed" >> beam.Map(seed_from_row))
        return docs | "CountRead" >> count_as("ReadDocs", interval), None
    if kind == "parquet":
        rows = pattern | "ReadParquet" >> beam.io.ReadAllFromParquet()
        parsed = rows | "ParseRows" >> ParseTextDocs(rows=True, progress_interval_s=interval)
    else:
        lines = pattern | "ReadLines" >> beam.io.ReadAllFromText()
        parsed = lines | "ParseLines" >> ParseTextDocs(progress_interval_s=interval)
    return parsed[KEPT_TAG], parsed[DROPPED_TAG]


def build_dedup(p: beam.Pipeline, kind: str, files: list[str], config: PipelineConfig, output: str,
                only_shards: list[int] | None = None) -> JobGraph:
    """Documents in; OUTPUT/kept (same schema as seeds, else id/text/url/score/date) and OUTPUT/clusters out."""
    interval = config.progress_interval_s
    docs, read_drops = read_docs(p, kind, files, interval)
    stages = add_dedup_stages(docs, config, SEED_VIEW if kind == "seeds" else TEXT_VIEW)
    kept_writer = shard_writer(f"{output}/kept", SEED_SCHEMA if kind == "seeds" else TEXT_DOC_SCHEMA,
                               config.output.seeds_num_shards, config, only_shards=only_shards)
    stages.kept | "CountKept" >> count_as("WriteKept", interval) | "WriteKept" >> kept_writer
    (stages.clusters | "AllClusterRows" >> beam.Flatten()
     | "WriteClusters" >> shard_writer(f"{output}/clusters", CLUSTER_SCHEMA, config.dedup.clusters_num_shards,
                                       config))
    write_dropped(([read_drops] if read_drops is not None else []) + stages.dropped, output, "dedup", config)
    return JobGraph(["ReadDocs", *stages.stages, "WriteKept"],
                    outputs={"kept": f"{output}/kept", "clusters": f"{output}/clusters"})


def run(ns: argparse.Namespace, beam_argv: list[str], config: PipelineConfig) -> list[StageCounts]:
    """`python -m pipeline dedup --input X --output Y`: the input's kind found, the graph run; its funnel."""
    if not ns.input:
        raise UsageError("dedup needs --input: seed Parquet (directory or glob) or JSONL with id and text")
    kind, files = input_kind([i for arg in ns.input for i in arg.split(",") if i])
    only = parse_only_shards(getattr(ns, "only_shards", None), config.output.seeds_num_shards)
    return run_graph("dedup", lambda p: build_dedup(p, kind, files, config, ns.output, only), beam_argv, config,
                     ns.output, only)
