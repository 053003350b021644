"""What every job's launch shares: resolve the config, check --only_shards, run the graph on the chosen runner, then
write the manifest and funnel. It imports no job, so every job can import it."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.config import PipelineConfig, load_config, parse_override, to_dict
from pipeline.dataflow_dry_run import dry_run_of, is_dry_run, report_dry_run
from pipeline.dataset_card import write_dataset_card
from pipeline.errors import EXIT_OK, EXIT_UNBALANCED, AccountingError, UsageError
from pipeline.funnel import (
    StageCounts,
    accounting_problems,
    counters_from_result,
    funnel_from_counters,
    handoff_problems,
    render_table,
)
from pipeline.graph import JobGraph
from pipeline.manifest import finalize_shards, write_manifest
from pipeline.options import SyncodeOptions as SyncodeRunOptions

_LOG = logging.getLogger("syncode")

# A job's runner: (flags, Beam's flags, resolved config) -> the funnel of what it ran.
JobRunner = Callable[[argparse.Namespace, list[str], PipelineConfig], list[StageCounts]]


def resolve_config(ns: argparse.Namespace) -> PipelineConfig:
    """The YAML config with --set overrides, then the dedicated flags, applied in that order."""
    overrides = dict(parse_override(text) for text in ns.config_overrides)
    for flag, key in (("progress_interval_s", "progress_interval_s"), ("seeds_num_shards", "output.seeds_num_shards"),
                      ("pairs_num_shards", "output.pairs_num_shards"), ("dedup_threshold", "dedup.near.threshold"),
                      ("dedup_keep", "dedup.near.keep"), ("lid_model", "lang_id.model_path"),
                      ("code_model", "code_classifier.model_path"),
                      ("generation_accelerator", "resources.generation_accelerator"),
                      ("audit_non_responses", "read.audit_non_responses")):
        value = getattr(ns, flag, None)
        if value is not None:
            overrides[key] = value
    if getattr(ns, "decontam_prompts", None):
        base = load_config(ns.config, overrides).dedup.decontam.extra_jsonl
        overrides["dedup.decontam.extra_jsonl"] = [*base, *ns.decontam_prompts]
    return load_config(ns.config, overrides)


def parse_only_shards(text: str | None, num_shards: int) -> list[int] | None:
    """`--only_shards 3,17` as sorted shard indices, each checked against the fixed shard count."""
    if not text:
        return None
    if num_shards <= 0:
        raise UsageError("--only_shards needs a fixed shard count: set output.seeds_num_shards / pairs_num_shards")
    try:
        shards = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError as exc:
        raise UsageError(f"--only_shards expects comma-separated shard numbers, got {text!r}") from exc
    bad = [i for i in shards if not 0 <= i < num_shards]
    if bad or not shards:
        raise UsageError(f"--only_shards {text!r}: shards must be in 0..{num_shards - 1}")
    return shards


def run_graph(job: str, build: Callable[[beam.Pipeline], JobGraph], beam_argv: list[str], config: PipelineConfig,
              output: str, only_shards: list[int] | None = None,
              extra: dict | None = None) -> list[StageCounts]:
    """Run one Beam pipeline, record its funnel and shards in the manifest, print the funnel, check accounting."""
    options = PipelineOptions(beam_argv)
    started = time.monotonic()
    pipeline = beam.Pipeline(options=options)
    graph = build(pipeline)
    _LOG.info("%s: running stages %s", job, " -> ".join(graph.stages))
    result = pipeline.run()
    if is_dry_run(beam_argv):  # translated only: no counters, no shards, no manifest
        report_dry_run(dry_run_of(job, result), options.view_as(SyncodeRunOptions).dry_run_dir)
        return []
    result.wait_until_finish()
    funnel = funnel_from_counters(counters_from_result(result), graph.stages)
    outputs = {}
    for name, directory in graph.outputs.items():
        outputs[name] = finalize_shards(directory, output, graph.prefixes.get(name, "train"))
    tokens = {name: n for s in funnel for name, n in s.other.items() if name.startswith(("tokens_", "text_"))}
    problems = accounting_problems(funnel) + handoff_problems(funnel, graph.handoffs)
    manifest = write_manifest(output, job, to_dict(config), funnel, outputs, tokens, only_shards=only_shards,
                              extra={"wall_seconds": round(time.monotonic() - started, 2),
                                     "accounting_problems": problems, **(extra or {})})
    write_dataset_card(output, manifest)
    print(f"\n{job} funnel ({output}):\n{render_table(funnel)}\n", flush=True)
    if problems:
        raise AccountingError(f"{job}: accounting does not balance:\n  " + "\n  ".join(problems))
    return funnel


def check_accelerator_flags(config: PipelineConfig, beam_argv: list[str]) -> None:
    """A job-wide accelerator (worker_accelerator, --resource_hint accelerator=) next to the generation steps' own
    hint would put GPUs on every step, and Dataflow refuses the conflict: say so before anything runs."""
    if not config.resources.generation_accelerator:
        return
    wide = [a for a in beam_argv if "worker_accelerator" in a or ("accelerator=" in a and "resource_hint" in a)]
    at = [i for i, a in enumerate(beam_argv) if a in ("--resource_hint", "--resource_hints")]
    wide += [beam_argv[i + 1] for i in at if i + 1 < len(beam_argv) and beam_argv[i + 1].startswith("accelerator")]
    if wide:
        raise UsageError(f"{wide[0]!r} applies to every step; with --generation_accelerator only the generation "
                         "steps get a GPU: drop the job-wide accelerator (docs/dataflow.md)")


def run_job(job: str, runner: JobRunner, ns: argparse.Namespace, beam_argv: list[str]) -> int:
    """Run a job with its config; returns the process exit code (usage errors propagate to the CLI)."""
    if not ns.output:
        raise UsageError(f"{job} needs --output DIR")
    config = resolve_config(ns)
    check_accelerator_flags(config, beam_argv)
    try:
        runner(ns, beam_argv, config)
    except AccountingError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_UNBALANCED
    return EXIT_OK
