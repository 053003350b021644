"""The whole `all` job translated for Dataflow offline (--dry_run): hints only on the generation steps, the worker
image and experiments of docs/dataflow.md, and a small job request for a listing of 100,000 WARCs."""

from __future__ import annotations

import gzip
import json
import re
import shlex

import pytest

from pipeline.cli import main
from tests.conftest import REPO

pytest.importorskip("apache_beam.runners.dataflow.internal.apiclient", reason="needs apache-beam[gcp]")

ACCELERATOR = "beam:resources:accelerator:v1"
GENERATION = ("GenerateQuestions", "GenerateResponses")


def docs_command() -> list[str]:
    """The GPU launch command of docs/dataflow.md, as argv after `python -m pipeline`."""
    text = (REPO / "docs" / "dataflow.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    block = next(b for b in blocks if "pipeline all" in b and "--machine_type=g2" in b)
    argv = shlex.split(block.replace("\\\n", " "))
    return argv[argv.index("pipeline") + 1:]


def flag(argv: list[str], name: str) -> str:
    for i, arg in enumerate(argv):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name:
            return argv[i + 1]
    raise KeyError(name)


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dry")
    listing = tmp / "warc.paths.gz"
    with gzip.open(listing, "wt") as fh:
        for i in range(100_000):
            fh.write(f"crawl-data/CC-MAIN-2024-22/segments/1715971057216.{i % 100:02d}/warc/"
                     f"CC-MAIN-20240517205222-20240517235222-{i:05d}.warc.gz\n")
    argv = docs_command()
    argv[argv.index("--input") + 1] = str(listing)
    argv += ["--dry_run", "--dry_run_dir", str(tmp / "out")]
    assert main(argv) == 0
    return argv, tmp / "out"


def _pipeline(directory, job):
    from apache_beam.portability.api import beam_runner_api_pb2

    proto = beam_runner_api_pb2.Pipeline()
    proto.ParseFromString((directory / f"{job}.pipeline.pb").read_bytes())
    return proto


def hinted(proto) -> dict[str, bytes]:
    envs = proto.components.environments
    return {t.unique_name: envs[t.environment_id].resource_hints[ACCELERATOR]
            for t in proto.components.transforms.values()
            if t.environment_id and ACCELERATOR in envs[t.environment_id].resource_hints}


def test_the_accelerator_hint_is_on_the_generation_steps_and_nothing_else(dry_run):
    argv, out = dry_run
    want = flag(argv, "--generation_accelerator").encode()
    assert hinted(_pipeline(out, "seeds")) == {}
    synth = hinted(_pipeline(out, "synth"))
    assert synth and set(synth.values()) == {want}
    assert all(name.startswith(GENERATION) for name in synth)
    llm_steps = {t.unique_name for t in _pipeline(out, "synth").components.transforms.values()
                 if t.unique_name.endswith(("ParDo(GenerateQuestionsFn)", "ParDo(GenerateResponsesFn)"))}
    assert llm_steps and llm_steps <= set(synth)
    for other in ("ReadSeeds", "WritePairs", "MinHashDedup", "WriteDeadLetters"):
        assert not any(name.startswith(other) for name in synth)


def test_the_worker_image_and_experiments_are_what_the_docs_say(dry_run):
    argv, out = dry_run
    image, experiments = flag(argv, "--sdk_container_image"), flag(argv, "--experiments").split(",")
    for job in ("seeds", "synth"):
        env = json.loads((out / f"{job}.job.json").read_text())["environment"]
        images = {c["containerImage"] for pool in env["workerPools"] for c in pool["sdkHarnessContainerImages"]}
        assert images == {image}
        assert set(experiments) <= set(env["experiments"])
        options = env["sdkPipelineOptions"]["options"]
        assert not options.get("worker_accelerator") and not options.get("resource_hints")


def test_the_job_request_stays_small_for_100k_warcs(dry_run):
    _argv, out = dry_run
    for job in ("seeds", "synth"):
        size = (out / f"{job}.job.json").stat().st_size + (out / f"{job}.pipeline.pb").stat().st_size
        assert size < 1_000_000, (job, size)
    assert b"-99999.warc.gz" not in (out / "seeds.pipeline.pb").read_bytes()  # the listing stays out of the graph


def test_a_loopback_endpoint_on_dataflow_is_a_usage_error(tmp_path, capsys):
    argv = docs_command()
    at = argv.index("--serve_model")
    argv[at:at + 2] = ["--llm_endpoint", "http://127.0.0.1:8000/v1"]
    argv[argv.index("--input") + 1] = str(REPO / "sample" / "warc" / "*.warc.gz")
    assert main([*argv, "--dry_run"]) == 2
    assert "loopback" in capsys.readouterr().err


@pytest.mark.parametrize("wide", [["--dataflow_service_options=worker_accelerator=type:nvidia-l4;count:1"],
                                  ["--resource_hint", "accelerator=type:nvidia-l4;count:1"]])
def test_a_job_wide_accelerator_next_to_the_generation_hint_is_a_usage_error(wide, capsys):
    argv = docs_command()
    argv[argv.index("--input") + 1] = str(REPO / "sample" / "warc" / "*.warc.gz")
    assert main([*argv, *wide, "--dry_run"]) == 2
    assert "applies to every step" in capsys.readouterr().err
