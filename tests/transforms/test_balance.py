from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from ledger.drop import Drop
from ledger.ids import unit_hash
from ledger.records import Seed
from tests.conftest import local_pipeline
from transforms.balance import Balance, BalanceConfig, decide_balance, language_caps
from transforms.stage import DROPPED_TAG, KEPT_TAG


def _seed(i: int, lang: str) -> Seed:
    return Seed(f"id{i}", "u", "d", "r", "w", "c", "f", 0, "t", "x", 1, 1, programming_language=lang)


def test_caps_come_from_config_default_and_share():
    counts = {"Python": 800, "Rust": 100, "": 100}
    assert language_caps(counts, BalanceConfig(caps={"Python": 300})) == {"Python": 300, "Rust": 100, "": 100}
    assert language_caps(counts, BalanceConfig(default_cap=50)) == {"Python": 50, "Rust": 50, "": 50}
    assert language_caps(counts, BalanceConfig(max_share=0.5)) == {"Python": 500, "Rust": 100, "": 100}


def test_decisions_are_deterministic_and_named():
    config = BalanceConfig(languages=("Python", "Rust"), caps={"Python": 1})
    counts = {"Python": 4, "Rust": 1, "Go": 1}
    caps = language_caps(counts, config)
    assert decide_balance(_seed(0, "Go"), counts, caps, config) == Drop("minor_language", "Go")
    assert decide_balance(_seed(0, "Rust"), counts, caps, config) is None
    first = [decide_balance(_seed(i, "Python"), counts, caps, config) for i in range(4)]
    assert first == [decide_balance(_seed(i, "Python"), counts, caps, config) for i in range(4)]
    assert all(d is None or d.reason == "over_cap" for d in first)
    assert unit_hash("s", "a") == unit_hash("s", "a") != unit_hash("t", "a")


def test_balance_transform_downsamples_the_big_language():
    seeds = [_seed(i, "Python") for i in range(400)] + [_seed(1000 + i, "Rust") for i in range(40)]
    config = BalanceConfig(caps={"Python": 100})
    expected = [s.id for s in seeds if s.programming_language == "Rust" or unit_hash(config.salt, s.id) < 100 / 400]
    assert 60 < len(expected) - 40 < 140
    with local_pipeline() as p:
        out = p | beam.Create(seeds) | Balance(config)
        assert_that(out[KEPT_TAG] | "Ids" >> beam.Map(lambda s: s.id), equal_to(expected))
        assert_that(out[DROPPED_TAG] | "Reasons" >> beam.Map(lambda d: d.reason),
                    equal_to(["over_cap"] * (440 - len(expected))), label="Drops")
