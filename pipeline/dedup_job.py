"""The dedup job (`python -m pipeline dedup`), and the dedup stages the seeds job shares with it."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from dedup.keep import choose_kept, keep_order
from dedup.minhash import lsh_params
from dedup.records import CLUSTER_SCHEMA, TEXT_DOC_SCHEMA, ClusterRow, DocView, TextDoc
from pipeline.config import ConfigError, PipelineConfig
from pipeline.graph import JobGraph, count_as, shard_writer, write_dropped
from pipeline.records import SEED_SCHEMA, Seed
from transforms.decontaminate import Decontaminate
from transforms.dedup import CLUSTERS_TAG, ExactDedup, MinHashDedup, kept_cluster_row
from transforms.stage import DROPPED_TAG, KEPT_TAG, Drop, Stage, StageDoFn

SEED_VIEW = DocView(text=("text",), score="quality_score", date="warc_date")
TEXT_VIEW = DocView(text=("text",), score="score", date="date")


@dataclass
class DedupStages:
    """What the dedup stages hand back: the kept records, drops and cluster rows to write, the stage names."""

    kept: Any
    dropped: list = field(default_factory=list)
    clusters: list = field(default_factory=list)
    stages: list[str] = field(default_factory=list)


def _drop_to_cluster_row(d) -> ClusterRow:
    return ClusterRow(d.id, d.id, False, d.reason, d.detail)


def add_dedup_stages(records, config: PipelineConfig, view: DocView) -> DedupStages:
    """Decontaminate, then exact dedup, then MinHash near-dup dedup, each switchable in config.dedup."""
    c, interval = config.dedup, config.progress_interval_s
    try:
        lsh_params(c.near.threshold, c.near.num_perm, c.near.bands, c.near.rows, c.near.min_candidate_recall)
        keep_order(c.near.keep, "", 0, 0.0, "")
        choose_kept({}, [], c.near.keep, c.near.per_component)
    except ValueError as exc:
        raise ConfigError(f"dedup.near: {exc}") from exc
    out = DedupStages(records)
    if c.decontam.enabled:
        clean = out.kept | "Decontaminate" >> Decontaminate(c.decontam, view, progress_interval_s=interval)
        out.kept = clean[KEPT_TAG]
        out.dropped.append(clean[DROPPED_TAG])
        out.clusters.append(clean[DROPPED_TAG] | "ContaminatedRows" >> beam.Map(_drop_to_cluster_row))
        out.stages.append("Decontaminate")
    if c.exact:
        exact = out.kept | "ExactDedup" >> ExactDedup(view, progress_interval_s=interval)
        out.kept = exact[KEPT_TAG]
        out.dropped.append(exact[DROPPED_TAG])
        out.clusters.append(exact[CLUSTERS_TAG])
        out.stages.append("ExactDedup")
    if c.near.enabled:
        near = out.kept | "MinHashDedup" >> MinHashDedup(c.near, view, progress_interval_s=interval)
        out.kept = near[KEPT_TAG]
        out.dropped.append(near[DROPPED_TAG])
        out.clusters.append(near[CLUSTERS_TAG])
        out.stages.append("MinHashDedup")
    else:
        out.clusters.append(out.kept | "KeptRows" >> beam.Map(kept_cluster_row, view))
    return out


# ---------------------------------------------------------------- reading the dedup job's input


class ParseTextDocFn(StageDoFn):
    """A JSON line with `id` and `text` becomes a TextDoc; anything else is a counted drop."""

    def __init__(self, progress_interval_s: float = 10.0):
        super().__init__("ReadDocs", progress_interval_s)

    def decide(self, line: str) -> TextDoc | Drop:
        return text_doc_from_json(line)


def text_doc_from_json(line: str) -> TextDoc | Drop:
    """Parse one JSONL line; `id` and a non-empty string `text` are required, url/score/date are optional."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return Drop("bad_json", f"{exc.msg}: {line[:200]}")
    if not isinstance(row, dict):
        return Drop("bad_json", f"not an object: {line[:200]}")
    return text_doc_from_row(row)


def text_doc_from_row(row: dict) -> TextDoc | Drop:
    if row.get("id") in (None, ""):
        return Drop("no_id", str(row)[:200])
    if not isinstance(row.get("text"), str):
        return Drop("no_text", f"id={row['id']}")
    try:
        score = float(row.get("score", row.get("quality_score", 0.0)) or 0.0)
    except (TypeError, ValueError):
        return Drop("bad_score", f"id={row['id']} score={row.get('score')!r}")
    return TextDoc(id=str(row["id"]), text=row["text"], url=str(row.get("url") or ""), score=score,
                   date=str(row.get("date", row.get("warc_date")) or ""))


def _to_seed(row: dict) -> Seed:
    return Seed(**{name: row[name] for name in Seed._fields})


def _matches(pattern: str) -> list[str]:
    if not any(ch in pattern for ch in "*?[") and not pattern.endswith((".parquet", ".jsonl", ".gz", ".json")):
        pattern = pattern.rstrip("/") + "/*"
    return sorted(m.path for r in FileSystems.match([pattern]) for m in r.metadata_list)


def input_kind(paths: list[str]) -> tuple[str, list[str]]:
    """'seeds' (Parquet with every Seed column), 'parquet' (id and text) or 'jsonl', and the files matched."""
    from pipeline.launch import UsageError

    files = [f for p in paths for f in _matches(p)]
    if not files:
        raise UsageError(f"dedup: no input files match {', '.join(paths)}")
    parquet = [f for f in files if f.endswith(".parquet")]
    jsonl = [f for f in files if f.endswith((".jsonl", ".jsonl.gz", ".json", ".json.gz"))]
    if parquet and jsonl or len(parquet) + len(jsonl) != len(files):
        raise UsageError("dedup: --input must be all Parquet or all JSONL (.jsonl, .jsonl.gz); got "
                         + ", ".join(files[:5]))
    if jsonl:
        return "jsonl", jsonl
    with FileSystems.open(parquet[0]) as fh:
        columns = set(pq.ParquetFile(fh).schema_arrow.names)
    if set(Seed._fields) <= columns:
        return "seeds", parquet
    if {"id", "text"} <= columns:
        return "parquet", parquet
    raise UsageError(f"dedup: {parquet[0]} has neither the seed columns nor `id` and `text`")


def read_docs(p: beam.Pipeline, kind: str, files: list[str], interval: float):
    """The input as typed records plus the ReadDocs drops (JSONL lines without id or text)."""
    pattern = p | "InputFiles" >> beam.Create(files)
    if kind == "seeds":
        docs = (pattern | "ReadParquet" >> beam.io.ReadAllFromParquet(columns=list(Seed._fields))
                | "ToSeed" >> beam.Map(_to_seed))
        return docs | "CountRead" >> count_as("ReadDocs", interval), None
    if kind == "parquet":
        rows = pattern | "ReadParquet" >> beam.io.ReadAllFromParquet()
        parsed = rows | "ParseRows" >> Stage(_RowFn(interval))
    else:
        lines = pattern | "ReadLines" >> beam.io.ReadAllFromText()
        parsed = lines | "ParseLines" >> Stage(ParseTextDocFn(interval))
    return parsed[KEPT_TAG], parsed[DROPPED_TAG]


class _RowFn(StageDoFn):
    def __init__(self, progress_interval_s: float = 10.0):
        super().__init__("ReadDocs", progress_interval_s)

    def decide(self, row: dict) -> TextDoc | Drop:
        return text_doc_from_row(row)


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


def run(ns: argparse.Namespace, beam_argv: list[str]) -> int:
    """`python -m pipeline dedup --input X --output Y`; returns the exit code."""
    from pipeline.launch import (
        EXIT_UNBALANCED,
        AccountingError,
        UsageError,
        parse_only_shards,
        resolve_config,
        run_graph,
    )

    if not ns.output:
        raise UsageError("dedup needs --output DIR")
    if not ns.input:
        raise UsageError("dedup needs --input: seed Parquet (directory or glob) or JSONL with id and text")
    config = resolve_config(ns)
    kind, files = input_kind([i for arg in ns.input for i in arg.split(",") if i])
    only = parse_only_shards(getattr(ns, "only_shards", None), config.output.seeds_num_shards)
    try:
        run_graph("dedup", lambda p: build_dedup(p, kind, files, config, ns.output, only), beam_argv, config,
                  ns.output, only)
    except AccountingError as exc:
        import sys

        print(str(exc), file=sys.stderr)
        return EXIT_UNBALANCED
    return 0
