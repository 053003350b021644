"""`--dry_run` on the DataflowRunner: the translated job written out and measured, nothing submitted or staged.

Beam's dry run stops before it builds the job's environment (it would stage files); the request is completed here
the way the Dataflow client would complete it, without network, so its size and worker settings can be checked.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions, TestOptions

_LOG = logging.getLogger("syncode")
DATAFLOW_REQUEST_LIMIT_BYTES = 10 << 20  # Dataflow refuses a job request over 10 MB


@dataclass(frozen=True)
class DryRun:
    """A translated job: its Dataflow request (JSON) and the pipeline proto Dataflow would stage beside it."""

    job: str
    request_json: str
    pipeline_proto: bytes

    @property
    def request_bytes(self) -> int:
        """Both together, as a bound: the listing of a job that embedded its inputs would show in either."""
        return len(self.request_json.encode()) + len(self.pipeline_proto)


def is_dry_run(beam_argv: list[str]) -> bool:
    """Whether the flags ask the DataflowRunner for a translation only."""
    options = PipelineOptions(beam_argv)
    return bool(options.view_as(TestOptions).dry_run) and "Dataflow" in str(
        options.view_as(StandardOptions).runner or "")


def dry_run_of(job: str, result) -> DryRun:
    """The request of a dry-run result, with the environment the client adds at submission (no staging)."""
    from apache_beam.runners.dataflow.internal import apiclient

    flow = result.job
    staging = flow.google_cloud_options.staging_location
    env = apiclient.Environment(packages=[], options=flow.options,
                                environment_version=apiclient._FNAPI_ENVIRONMENT_MAJOR_VERSION,  # noqa: SLF001
                                proto_pipeline_staged_url=f"{staging}/pipeline.pb",
                                proto_pipeline=flow.proto_pipeline)
    flow.proto.environment = env.proto
    return DryRun(job, flow.json(), flow.proto_pipeline.SerializeToString())


def report_dry_run(dry: DryRun, directory: str | None) -> None:
    """Say what was translated and how big it is; with a directory, write JOB.job.json and JOB.pipeline.pb."""
    request = json.loads(dry.request_json)
    pools = request.get("environment", {}).get("workerPools", [{}])
    image = pools[0].get("workerHarnessContainerImage", "") if pools else ""
    print(f"{dry.job}: dry run: {len(dry.request_json.encode()):,} bytes of job request + "
          f"{len(dry.pipeline_proto):,} bytes of pipeline proto (Dataflow's limit: "
          f"{DATAFLOW_REQUEST_LIMIT_BYTES:,}); worker image {image or '(Beam default)'}; nothing was submitted",
          flush=True)
    if dry.request_bytes > DATAFLOW_REQUEST_LIMIT_BYTES:
        _LOG.warning("%s: the job request is over Dataflow's 10 MB limit", dry.job)
    if directory:
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{dry.job}.job.json").write_text(dry.request_json)
        (out / f"{dry.job}.pipeline.pb").write_bytes(dry.pipeline_proto)
