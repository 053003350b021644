from __future__ import annotations

import pytest

from pipeline.config import PipelineConfig, load_config, parse_override, to_dict
from pipeline.errors import ConfigError


def test_default_yaml_matches_dataclass_defaults():
    # Both must agree: an installed package without configs/ falls back to the dataclass defaults.
    assert load_config() == PipelineConfig()


def test_override_by_dotted_key_reads_yaml_values():
    config = load_config(overrides=dict([parse_override("extract.min_text_chars=500"),
                                         parse_override("synth.roles.question.endpoints=[http://a/v1, http://b/v1]")]))
    assert config.extract.min_text_chars == 500
    assert config.synth.roles.question.endpoints == ("http://a/v1", "http://b/v1")
    assert config.synth.roles.response.endpoints == ()


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match="unknown config key.*under 'extract'.*min_txt_chars"):
        load_config(overrides={"extract.min_txt_chars": 5})


def test_wrong_type_is_named():
    with pytest.raises(ConfigError, match="read.max_payload_bytes: expected int"):
        load_config(overrides={"read.max_payload_bytes": "big"})


def test_override_without_equals_is_rejected():
    with pytest.raises(ConfigError, match="key.path=value"):
        parse_override("extract.min_text_chars")


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_config_round_trips_through_dict():
    config = load_config(overrides={"output.seeds_num_shards": 7})
    assert to_dict(config)["output"]["seeds_num_shards"] == 7


def test_partial_role_keeps_the_role_defaults():
    config = load_config(overrides={"synth.roles": {"question": {"model": "m"}}})
    assert config.synth.roles.question.model == "m"
    assert config.synth.roles.question.prompt_version == PipelineConfig().synth.roles.question.prompt_version


def test_tier_roles_inherit_the_configured_standard_roles():
    config = load_config(overrides={"synth.roles.response.max_tokens": 99,
                                    "synth.tiers": [{"name": "hq", "share": 0.1,
                                                     "roles": {"question": {"model": "big"}}}]})
    tier = config.synth.tiers[0]
    assert (tier.name, tier.share, tier.roles.question.model) == ("hq", 0.1, "big")
    assert tier.roles.response.max_tokens == 99
    assert tier.roles.question.prompt_version == config.synth.roles.question.prompt_version
