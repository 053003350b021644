"""`python -m pipeline JOB [flags]`: the jobs, their flags, and Beam's own flags passed through to the runner."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ledger.logs import configure_logging
from pipeline import execute_job, recall_job, sandbox_serve_job, train_classifier
from pipeline.errors import EXIT_OK, EXIT_USAGE, ConfigError, UsageError
from pipeline.options import add_job_flags, add_log_level_flag, unknown_beam_flags, with_local_runner
from transforms.warc_inputs import InputError

if TYPE_CHECKING:
    from pipeline.config import PipelineConfig
    from pipeline.funnel import StageCounts


@dataclass(frozen=True)
class Job:
    """A CLI job: its one-line help, how to add its flags, how to run it (returns an exit code)."""

    help: str
    add_flags: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, list[str]], int]
    beam: bool = True  # whether it runs a Beam pipeline and so takes Beam's flags


# The Beam jobs are imported when they run, not to build the parser: `--help` stays quick.
def _run_seeds(ns: argparse.Namespace, beam_argv: list[str], config: PipelineConfig) -> list[StageCounts]:
    from pipeline import seeds_job

    return seeds_job.run(ns, beam_argv, config)


def _run_synth(ns: argparse.Namespace, beam_argv: list[str], config: PipelineConfig) -> list[StageCounts]:
    from pipeline import synth_job

    return synth_job.run(ns, beam_argv, config)


def _run_dedup(ns: argparse.Namespace, beam_argv: list[str], config: PipelineConfig) -> list[StageCounts]:
    from pipeline import dedup_job

    return dedup_job.run(ns, beam_argv, config)


def _run_all(ns: argparse.Namespace, beam_argv: list[str], config: PipelineConfig) -> list[StageCounts]:
    """Seeds, then synth on what seeds wrote when an LLM is given; without one, the synth command to run next."""
    from pipeline.llm_roles import check_remote_endpoints, has_llm, synth_instructions

    llm = has_llm(ns, config)  # before seeds: a half-configured LLM is an error to see now, not after the crawl
    check_remote_endpoints(ns, config, beam_argv)
    funnel = _run_seeds(ns, beam_argv, config)
    if not llm:
        print("synth: skipped, no LLM was given (--llm_endpoint or --serve_model).\n"
              + synth_instructions(ns.output), flush=True)
        return funnel
    return funnel + _run_synth(ns, beam_argv, config)


def _beam_job(name: str, help_text: str, runner: Callable) -> Job:
    """A job that runs a Beam graph: its flags, and the shared launch around its runner."""
    def run(ns: argparse.Namespace, beam_argv: list[str]) -> int:
        from pipeline.launch import run_job

        return run_job(name, runner, ns, beam_argv)
    return Job(help_text, lambda parser: add_job_flags(parser, name), run)


def _add_output_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", metavar="OUT", help="An output directory written by seeds/synth/all.")


def _add_inspect_args(parser: argparse.ArgumentParser) -> None:
    _add_output_arg(parser)
    parser.add_argument("--report_dir", default=None, help="Where to write index.html and the PNG plots "
                        "(default: OUT/report).")
    parser.add_argument("--samples", type=int, default=3, help="Sample rows to show per output.")


def _run_verify(ns: argparse.Namespace, _beam_argv: list[str]) -> int:
    from pipeline.verify_output import run_verify

    return run_verify(ns.output)


def _run_inspect(ns: argparse.Namespace, _beam_argv: list[str]) -> int:
    from pipeline.inspect_output import inspect_output

    try:
        inspect_output(ns.output, ns.report_dir, ns.samples)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


JOBS: dict[str, Job] = {
    "seeds": _beam_job("seeds", "Read WARCs and write code-related seed pages to OUTPUT/seeds (CPU only).",
                       _run_seeds),
    "synth": _beam_job("synth", "Expand seeds into instruction/response pairs with LLMs and write OUTPUT/data.",
                       _run_synth),
    "all": _beam_job("all", "Run seeds, then synth when an LLM is given (--llm_endpoint or --serve_model).", _run_all),
    "dedup": _beam_job("dedup", "Deduplicate and decontaminate seed Parquet or JSONL: OUTPUT/kept and "
                       "OUTPUT/clusters.", _run_dedup),
}
JOBS["verify"] = Job("Check OUT against its manifest: schema, sha256, row counts, funnel, duplicate ids; exit 1 on "
                     "any mismatch.", _add_output_arg, _run_verify, beam=False)
JOBS["inspect"] = Job("Summarise OUT: shards, funnel, language and category histograms, sample rows; writes PNG "
                      "plots and an HTML report.", _add_inspect_args, _run_inspect, beam=False)
JOBS["train-classifier"] = Job("Train the fastText code-relatedness classifier; report held-out precision/recall; "
                               "write a card.", train_classifier.add_flags, train_classifier.run, beam=False)
JOBS["recall"] = Job("Score a crawl with the code classifier and list domains where many pages score high (for "
                     "retraining).", recall_job.add_flags, recall_job.run, beam=False)

JOBS["execute"] = Job("Run JSONL samples (id, language, program, tests) in the sandbox; one row per line with the "
                      "status (docs/sandbox.md).", execute_job.add_flags, execute_job.run, beam=False)
JOBS["sandbox-serve"] = Job("Serve the sandbox over HTTP (POST /run) for workers that cannot run bubblewrap "
                            "(docs/sandbox.md).", sandbox_serve_job.add_flags, sandbox_serve_job.run, beam=False)

BEAM_NOTE = ("Any Beam pipeline option is accepted too and passed to the runner, e.g. --runner=DataflowRunner "
             "--project=P --region=R --temp_location=gs://B/tmp --setup_file=./setup.py. Without --runner the job "
             "runs locally on the FnApiRunner with one worker per core (it never downloads a runner).")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="syncode: grow a code instruction corpus from Common Crawl with Apache Beam and vLLM.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="job", metavar="JOB", required=True)
    for name, job in JOBS.items():
        description = job.help + ("\n\n" + BEAM_NOTE if job.beam else "")
        job_parser = sub.add_parser(name, help=job.help, description=description,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        job.add_flags(job_parser)
        if not job.beam:
            add_log_level_flag(job_parser)
    parser.epilog = "jobs and their flags:\n\n" + "\n".join(
        p.format_help() for p in sub.choices.values()) + "\n" + BEAM_NOTE
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    argv = ["--dry_run=True" if a == "--dry_run" else a for a in argv]  # Beam's flag takes a value; ours need not
    parser = build_parser()
    ns, rest = parser.parse_known_args(argv)
    configure_logging(ns.log_level)
    job = JOBS[ns.job]
    beam_argv: list[str] = []
    if job.beam:
        bad = unknown_beam_flags(rest)
        if bad:
            parser.error(f"unknown flag(s) for {ns.job}: {' '.join(bad)} (see python -m pipeline {ns.job} --help)")
        at = argv.index(ns.job)
        beam_argv = with_local_runner(argv[:at] + argv[at + 1:])
    elif rest:
        parser.error(f"unknown argument(s) for {ns.job}: {' '.join(rest)}")
    try:
        return job.run(ns, beam_argv)
    except (UsageError, ConfigError, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
