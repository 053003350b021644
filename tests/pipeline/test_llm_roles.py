"""Which LLM roles a synth run needs endpoints for: only the roles its graph calls, each named when it has none."""

from __future__ import annotations

import argparse

import pytest

from pipeline.config import load_config
from pipeline.errors import UsageError
from pipeline.llm_roles import has_llm

URL = "http://127.0.0.1:9/v1"


def _flags(**kw) -> argparse.Namespace:
    return argparse.Namespace(**{"llm_endpoint": [], "serve_model": None, **kw})


def test_endpoints_for_question_and_response_are_enough():
    """tests and judge serve verification, which the synth graph does not run yet: they need no endpoint."""
    config = load_config(overrides={"synth.roles.question.endpoints": [URL], "synth.roles.response.endpoints": [URL]})
    assert has_llm(_flags(), config) is True


def test_no_endpoints_anywhere_means_no_llm():
    assert has_llm(_flags(), load_config()) is False


def test_the_command_line_fills_every_role():
    assert has_llm(_flags(llm_endpoint=[URL]), load_config()) is True
    assert has_llm(_flags(serve_model="some-model"), load_config()) is True


def test_a_used_role_without_endpoints_is_named():
    config = load_config(overrides={"synth.roles.question.endpoints": [URL]})
    with pytest.raises(UsageError, match=r"^synth\.roles\.response: no endpoints"):
        has_llm(_flags(), config)


def test_a_tier_role_without_endpoints_is_named():
    config = load_config(overrides={
        "synth.roles.question.endpoints": [URL], "synth.roles.response.endpoints": [URL],
        "synth.tiers": [{"name": "hq", "share": 0.1, "roles": {"response": {"endpoints": []}}}]})
    with pytest.raises(UsageError, match=r"^synth\.tiers\.hq\.roles\.response: no endpoints"):
        has_llm(_flags(), config)


def test_the_inflight_share_splits_the_endpoint_bound_over_the_processes():
    from pipeline.llm_roles import inflight_share, sdk_processes_per_worker, worker_count

    assert inflight_share(256, 64 * 8) == 1 and inflight_share(1024, 8) == 128 and inflight_share(10, 0) == 10
    argv = ["--runner=DataflowRunner", "--max_num_workers=16", "--machine_type=g2-standard-8"]
    assert worker_count(argv) == 16 and sdk_processes_per_worker(argv) == 8
    assert sdk_processes_per_worker([*argv, "--experiments=no_use_multiple_sdk_containers"]) == 1


def test_loopback_urls_and_local_runners_are_told_apart():
    from pipeline.llm_roles import is_local_runner, is_loopback

    assert is_loopback("http://127.0.0.1:8000/v1") and is_loopback("http://localhost/v1") and is_loopback("http://[::1]:80")
    assert not is_loopback("http://10.0.0.5:8000/v1") and not is_loopback("https://api.example.com/v1")
    assert is_local_runner(["--runner=FnApiRunner"]) and is_local_runner([])
    assert not is_local_runner(["--runner=PortableRunner"]) and not is_local_runner(["--runner", "DataflowRunner"])


def test_on_a_distributed_runner_serve_model_becomes_a_per_worker_spec():
    import argparse

    from pipeline.config import PipelineConfig
    from pipeline.llm_roles import llm_config

    ns = argparse.Namespace(serve_model="/models/m", vllm_python=None, vllm_args="--served-model-name coder",
                            serve_timeout_s=60.0, llm_endpoint=[], max_inflight_per_endpoint=64)
    argv = ["--runner=PortableRunner", "--max_num_workers=4", "--experiments=no_use_multiple_sdk_containers"]
    with llm_config(ns, PipelineConfig(), argv) as config:
        role = config.synth.roles.question
    assert role.serve.model == "/models/m" and role.model == "coder" and role.endpoints == ()
    assert role.max_in_flight_per_endpoint == 64  # one process per VM, each VM its own server
