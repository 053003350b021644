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
