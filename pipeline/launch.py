"""Run a job: resolve config, build its graph, run it on the chosen runner, then write the manifest and funnel."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import sys
import time
from collections.abc import Callable

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import seeds_job, synth_job
from pipeline.config import PipelineConfig, RolesConfig, load_config, parse_override, to_dict
from pipeline.dataset_card import write_dataset_card
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
from pipeline.vllm_server import ServerError, VLLMServer
from transforms.llm_client import resolve_model
from transforms.warc_inputs import resolve_inputs

_LOG = logging.getLogger("syncode")
EXIT_UNBALANCED = 3


class UsageError(ValueError):
    """A job cannot start with the flags given; the message says what to pass instead."""


class AccountingError(RuntimeError):
    """A stage lost or invented records: in != kept + dropped, or a hand-off does not match."""


def resolve_config(ns: argparse.Namespace) -> PipelineConfig:
    """The YAML config with --set overrides, then the dedicated flags, applied in that order."""
    overrides = dict(parse_override(text) for text in ns.config_overrides)
    for flag, key in (("progress_interval_s", "progress_interval_s"), ("seeds_num_shards", "output.seeds_num_shards"),
                      ("pairs_num_shards", "output.pairs_num_shards"), ("dedup_threshold", "dedup.near.threshold"),
                      ("dedup_keep", "dedup.near.keep")):
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


def synth_instructions(output: str) -> str:
    return ("The synth job needs an LLM. Run it on these seeds with a running OpenAI-compatible server:\n"
            f"  python -m pipeline synth --output {output} --llm_endpoint http://127.0.0.1:8000/v1\n"
            "or let it start vLLM itself:\n"
            f"  python -m pipeline synth --output {output} --serve_model MODEL_DIR_OR_NAME")


def _map_roles(config: PipelineConfig, fn: Callable[[str, RolesConfig], RolesConfig]) -> PipelineConfig:
    """Apply `fn` to the standard roles and to every tier's roles."""
    synth = config.synth
    tiers = tuple(dataclasses.replace(t, roles=fn(f"synth.tiers.{t.name}.roles", t.roles)) for t in synth.tiers)
    synth = dataclasses.replace(synth, roles=fn("synth.roles", synth.roles), tiers=tiers)
    return dataclasses.replace(config, synth=synth)


def with_endpoints(config: PipelineConfig, endpoints: list[str]) -> PipelineConfig:
    """Give every LLM role without endpoints of its own the endpoints from the command line."""
    def fill(_where: str, roles: RolesConfig) -> RolesConfig:
        return dataclasses.replace(roles, **{f.name: dataclasses.replace(getattr(roles, f.name),
                                                                         endpoints=tuple(endpoints))
                                             for f in dataclasses.fields(roles)
                                             if not getattr(roles, f.name).endpoints})
    return _map_roles(config, fill)


def with_models(config: PipelineConfig, used: tuple[str, ...] = ("question", "response")) -> PipelineConfig:
    """Fix each used role's model name before the graph is built, so cache keys name the model that answers."""
    def resolve(where: str, roles: RolesConfig) -> RolesConfig:
        filled = {}
        for name in used:
            role = getattr(roles, name)
            try:
                filled[name] = dataclasses.replace(role, model=resolve_model(role))
            except RuntimeError as exc:
                raise UsageError(f"{where}.{name}: {exc}") from exc
        return dataclasses.replace(roles, **filled)
    return _map_roles(config, resolve)


def generation_summary(config: PipelineConfig) -> dict:
    """Models and prompt versions per tier and role, for the manifest and the dataset card."""
    def roles(r: RolesConfig) -> dict:
        return {name: {"model": getattr(r, name).model, "prompt_version": f"{name}-{getattr(r, name).prompt_version}"}
                for name in ("question", "response")}
    return {"standard": {"share": 1.0 - sum(t.share for t in config.synth.tiers), "roles": roles(config.synth.roles)},
            **{t.name: {"share": t.share, "roles": roles(t.roles)} for t in config.synth.tiers}}


def has_llm(ns: argparse.Namespace, config: PipelineConfig) -> bool:
    """True when every LLM role will have an endpoint: from the config, --llm_endpoint or --serve_model."""
    all_roles = [config.synth.roles, *(t.roles for t in config.synth.tiers)]
    configured = all(getattr(r, f.name).endpoints for r in all_roles for f in dataclasses.fields(r))
    return configured or bool(ns.llm_endpoint or ns.serve_model)


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


def run_seeds(ns: argparse.Namespace, beam_argv: list[str], config: PipelineConfig) -> list[StageCounts]:
    if not ns.input:
        raise UsageError("seeds needs --input: WARC paths, globs, or a Common Crawl warc.paths.gz listing")
    files = resolve_inputs(ns.input, ns.cc_base_url)
    _LOG.info("seeds: %d WARC file(s)", len(files))
    only = parse_only_shards(ns.only_shards, config.output.seeds_num_shards)
    return run_graph("seeds", lambda p: seeds_job.build_seeds(p, files, config, ns.output, only), beam_argv, config,
                     ns.output, only)


def seeds_glob(ns: argparse.Namespace) -> str:
    seeds = ns.seeds or f"{ns.output}/seeds"
    return seeds if any(c in seeds for c in "*?[") or seeds.endswith(".parquet") else f"{seeds}/train-*.parquet"


@contextlib.contextmanager
def llm_endpoints(ns: argparse.Namespace):
    """The endpoints named on the command line, or one vLLM server started for --serve_model."""
    if ns.serve_model:
        try:
            server = VLLMServer(ns.serve_model, ns.vllm_python, ns.vllm_args, ready_timeout_s=ns.serve_timeout_s)
            url = server.__enter__()
        except ServerError as exc:
            raise UsageError(f"--serve_model {ns.serve_model}: {exc}") from exc
        try:
            yield [url]
        finally:
            server.__exit__(None, None, None)
    else:
        yield list(ns.llm_endpoint)


def run_synth(ns: argparse.Namespace, beam_argv: list[str], config: PipelineConfig) -> list[StageCounts]:
    if not has_llm(ns, config):
        raise UsageError(synth_instructions(ns.output))
    glob = seeds_glob(ns)
    from apache_beam.io.filesystems import FileSystems

    if not [m for r in FileSystems.match([glob]) for m in r.metadata_list]:
        raise UsageError(f"no seed shards match {glob}: run the seeds job first, or pass --seeds")
    only = parse_only_shards(ns.only_shards, config.output.pairs_num_shards)
    with llm_endpoints(ns) as endpoints:
        config = with_models(with_endpoints(config, endpoints))
        return run_graph("synth", lambda p: synth_job.build_synth(p, glob, config, ns.output, only), beam_argv,
                         config, ns.output, only, extra={"generation": generation_summary(config)})


def run_all(ns: argparse.Namespace, beam_argv: list[str], config: PipelineConfig) -> list[StageCounts]:
    funnel = run_seeds(ns, beam_argv, config)
    if not has_llm(ns, config):
        print("synth: skipped, no LLM was given (--llm_endpoint or --serve_model).\n"
              + synth_instructions(ns.output), flush=True)
        return funnel
    return funnel + run_synth(ns, beam_argv, config)


JOB_RUNNERS = {"seeds": run_seeds, "synth": run_synth, "all": run_all}


def run_job(job: str, ns: argparse.Namespace, beam_argv: list[str]) -> int:
    """Run a job by name; returns the process exit code."""
    if not ns.output:
        raise UsageError(f"{job} needs --output DIR")
    config = resolve_config(ns)
    try:
        JOB_RUNNERS[job](ns, beam_argv, config)
    except AccountingError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_UNBALANCED
    return 0
