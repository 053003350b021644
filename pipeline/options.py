"""syncode's flags, as Beam PipelineOptions subclasses so they travel with the job to any runner."""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
from pathlib import Path

from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

from ledger.logs import LOG_LEVELS

LOCAL_RUNNER_FLAGS = ("--runner=FnApiRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=0")


def add_log_level_flag(parser) -> None:
    """--log_level, for the Beam jobs (through SyncodeOptions) and the others alike."""
    parser.add_argument("--log_level", choices=LOG_LEVELS, default="info",
                        help="What to print: syncode's progress lines and summaries at this level; other libraries "
                        "(Beam, its workers, HTTP clients) only their warnings, or everything at debug "
                        "(default: info).")


def pipeline_command() -> str:
    """`python -m pipeline` as the user can paste it: this interpreter, relative when it is under the working dir."""
    exe = Path(sys.executable)
    if shutil.which("python") == str(exe):
        return "python -m pipeline"
    try:
        shown = str(exe.relative_to(Path.cwd()))
    except ValueError:
        shown = str(exe)
    return f"{shlex.quote(shown)} -m pipeline"


class SyncodeOptions(PipelineOptions):
    """Flags every job shares: where to read, where to write, which config."""

    @classmethod
    def _add_argparse_args(cls, parser):
        add_log_level_flag(parser)
        parser.add_argument("--output", help="Output directory (local path, gs:// or s3://). Seeds go to "
                            "OUTPUT/seeds, pairs to OUTPUT/data, the manifest to OUTPUT/manifest.json.")
        parser.add_argument("--config", default=None,
                            help="YAML config with every threshold and model setting (default: configs/default.yaml).")
        parser.add_argument("--set", dest="config_overrides", action="append", default=[], metavar="KEY=VALUE",
                            help="Override one config value by dotted key, e.g. --set extract.min_text_chars=500. "
                            "Repeatable; values are read as YAML.")
        parser.add_argument("--progress_interval_s", type=float, default=None,
                            help="Seconds between progress lines per stage (config: progress_interval_s).")
        parser.add_argument("--only_shards", default=None, metavar="I,J,...",
                            help="Regenerate only these output shards (0-based, comma-separated), leaving the others "
                            "byte-identical. Needs a fixed shard count (output.*_num_shards > 0).")
        parser.add_argument("--dry_run_dir", default=None, metavar="DIR",
                            help="With --runner DataflowRunner --dry_run: write each job's translated request "
                            "(JOB.job.json) and pipeline proto (JOB.pipeline.pb) here; nothing is submitted.")


class SeedsOptions(PipelineOptions):
    """Flags of the seeds job: which WARCs to read."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--input", action="append", default=[],
                            help="WARC files: paths, globs, gs:// or s3:// URLs, or a Common Crawl warc.paths.gz "
                            "listing. Repeatable, or comma-separated.")
        parser.add_argument("--cc_base_url", default="https://data.commoncrawl.org/",
                            help="Base URL for the relative paths in a warc.paths.gz listing.")
        parser.add_argument("--audit_non_responses", action="store_true", default=None,
                            help="Write an audit row to OUT/dropped for every request and metadata record too "
                            "(config: read.audit_non_responses). They are always counted as not_response.")
        parser.add_argument("--seeds_num_shards", type=int, default=None,
                            help="Parquet shards for OUTPUT/seeds (config: output.seeds_num_shards).")
        parser.add_argument("--lid_model", default=None,
                            help="fastText language-ID model, e.g. the full lid.176.bin for more accuracy "
                            "(config: lang_id.model_path; default: the bundled lid.176.ftz).")
        parser.add_argument("--code_model", default=None,
                            help="fastText code-relatedness model from train-classifier "
                            "(config: code_classifier.model_path; default: the bundled models/code_classifier.ftz).")


class SynthOptions(PipelineOptions):
    """Flags of the synth job: which seeds to expand and which LLM writes the pairs."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--seeds", default=None,
                            help="Seed Parquet to expand: a directory or glob (default: OUTPUT/seeds).")
        parser.add_argument("--llm_endpoint", action="append", default=[],
                            help="OpenAI-compatible base URL of a running server, e.g. http://127.0.0.1:8000/v1. "
                            "Used for every role that has no endpoint in the config. Repeatable: load is spread.")
        parser.add_argument("--serve_model", default=None,
                            help="Start a vLLM server for this model (a local directory or name) and use it.")
        parser.add_argument("--vllm_python", default=None,
                            help="Python interpreter that has vLLM installed, for --serve_model "
                            "(default: $SYNCODE_VLLM_PYTHON; where a GPU is visible $SYNCODE_VLLM_GPU_VENV, "
                            "./.vllm-gpu-venv or this interpreter with vLLM; else $SYNCODE_VLLM_VENV or ./.vllm-venv; "
                            "else this interpreter).")
        parser.add_argument("--serve_timeout_s", type=float, default=900.0,
                            help="Seconds to wait for the vLLM server of --serve_model to answer before failing.")
        parser.add_argument("--vllm_args", default="",
                            help="Extra arguments for the vLLM server started by --serve_model, as one string.")
        parser.add_argument("--max_inflight_per_endpoint", type=int, default=None,
                            help="Requests in flight to one LLM endpoint from the whole job; each process gets an "
                            "equal share (this / (workers x SDK processes per worker); per VM with --serve_model on "
                            "a distributed runner). Default: only each role's max_in_flight per DoFn instance.")
        parser.add_argument("--generation_accelerator", default=None, metavar="HINT",
                            help="Beam accelerator resource hint for the generation steps only, e.g. "
                            "'type:nvidia-l4;count:1;install-nvidia-driver' (config: synth.accelerator). Do not "
                            "pass --worker_accelerator or --resource_hint with it: those apply to every step.")
        parser.add_argument("--pairs_num_shards", type=int, default=None,
                            help="Parquet shards for OUTPUT/data (config: output.pairs_num_shards).")
        parser.add_argument("--verify", dest="verify", action="store_true", default=None,
                            help="Verify: sample synth.verify.n responses per question, keep the one that passes "
                                 "generated tests in the sandbox or that a judge picks, and write preference pairs "
                                 "(config: synth.verify.enabled).")
        parser.add_argument("--no_verify", dest="verify", action="store_false", default=None,
                            help="Write every response unverified, overriding synth.verify.enabled.")


class DedupOptions(PipelineOptions):
    """Flags of the dedup stages (seeds and dedup jobs): near-duplicate threshold, keep rule, more benchmarks."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--dedup_threshold", type=float, default=None,
                            help="Jaccard of word 5-gram sets at which two documents are near duplicates "
                            "(config: dedup.near.threshold).")
        parser.add_argument("--dedup_keep", choices=("longest", "score", "earliest"), default=None,
                            help="Which document a near-duplicate cluster keeps (config: dedup.near.keep).")
        parser.add_argument("--decontam_prompts", action="append", default=[], metavar="FILE.jsonl",
                            help="JSONL of benchmark prompts to decontaminate against, besides HumanEval and MBPP "
                            "(a prompt/question/instruction/text field per line). Repeatable.")


class DedupInputOptions(PipelineOptions):
    """Flags of the dedup job: which documents to deduplicate."""

    @classmethod
    def _add_argparse_args(cls, parser):
        try:
            parser.add_argument("--input", action="append", default=[],
                                help="Documents to dedup: seed Parquet (a directory, glob or file) or JSONL "
                                "(.jsonl/.jsonl.gz) with `id` and `text` per line. Repeatable.")
        except argparse.ArgumentError:
            pass  # the seeds job's --input is already on this parser (Beam parses every options class at once)


JOB_OPTIONS = {
    "seeds": (SyncodeOptions, SeedsOptions, DedupOptions),
    "synth": (SyncodeOptions, SynthOptions),
    "all": (SyncodeOptions, SeedsOptions, DedupOptions, SynthOptions),
    "dedup": (SyncodeOptions, DedupInputOptions, DedupOptions),
}


def add_job_flags(parser: argparse.ArgumentParser, job: str) -> None:
    """Put a job's flags on an argparse parser, grouped by options class, for --help and parsing."""
    for cls in JOB_OPTIONS[job]:
        group = parser.add_argument_group(cls.__name__, (cls.__doc__ or "").strip())
        cls._add_argparse_args(group)


def unknown_beam_flags(argv: list[str]) -> list[str]:
    """Flags no PipelineOptions class knows, so a typo fails loudly instead of being discarded with a warning."""
    parser = _BeamArgumentParser(allow_abbrev=False)
    seen: set[type] = set()
    stack = list(PipelineOptions.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        stack.extend(cls.__subclasses__())
        try:
            cls._add_argparse_args(parser)
        except argparse.ArgumentError:
            continue  # two classes may share a flag; the first definition is enough to recognise it
    _, unknown = parser.parse_known_args(argv)
    return [a for a in unknown if a.startswith("-")]


def with_local_runner(argv: list[str]) -> list[str]:
    """Default to the FnApiRunner on every core, which never downloads a runner, unless --runner is given."""
    if any(a == "--runner" or a.startswith("--runner=") for a in argv):
        return argv
    return [*LOCAL_RUNNER_FLAGS, *argv]
