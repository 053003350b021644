"""Balance: keep the main programming languages and downsample over-represented ones, deterministically by hash."""

from __future__ import annotations

from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam import pvalue

from ledger.drop import Drop
from ledger.ids import unit_hash
from ledger.records import Seed
from transforms.stage import Stage, StageDoFn

STAGE = "Balance"


@dataclass(frozen=True)
class BalanceConfig:
    """Which programming languages Balance keeps and how many seeds of each."""

    languages: tuple[str, ...] = ()
    caps: dict[str, int] = field(default_factory=dict)
    default_cap: int = 0
    max_share: float = 1.0
    salt: str = "balance-v1"


def language_caps(counts: dict[str, int], config: BalanceConfig) -> dict[str, int]:
    """The cap of each language seen: its own cap, else default_cap, lowered to max_share of all seeds.

    "" (no language tagged) is never capped by share, so an untagged crawl is not cut down.
    """
    total = sum(counts.values())
    caps = {}
    for lang, n in counts.items():
        cap = config.caps.get(lang, config.default_cap) or n
        if lang and config.max_share < 1.0:
            cap = min(cap, max(1, int(config.max_share * total)))
        caps[lang] = cap
    return caps


def decide_balance(seed: Seed, counts: dict[str, int], caps: dict[str, int], config: BalanceConfig) -> Drop | None:
    """Drop seeds of languages that are not main ones, and a hash-chosen share of those over their cap."""
    lang = seed.programming_language
    if config.languages and lang not in config.languages:
        return Drop("minor_language", lang or "unknown")
    n, cap = counts.get(lang, 0), caps.get(lang, 0)
    if n > cap and unit_hash(config.salt, seed.id) >= cap / n:
        return Drop("over_cap", f"{lang or 'unknown'}: cap {cap} of {n}")
    return None


class BalanceFn(StageDoFn):
    """Seeds in, balanced seeds out; the per-language counts arrive as a side input."""

    def __init__(self, config: BalanceConfig, progress_interval_s: float = 10.0):
        super().__init__(STAGE, progress_interval_s)
        self.config = config
        self._caps_for: dict | None = None

    def process(self, seed: Seed, counts: dict[str, int]):
        if self._caps_for is not counts:
            self._caps_for, self._caps = counts, language_caps(counts, self.config)
        self.counters.seen()
        yield self.route(seed, decide_balance(seed, counts, self._caps, self.config) or seed)


class Balance(Stage):
    """Counts seeds per programming language, then keeps about `cap` of each, chosen by a hash of the seed id."""

    def __init__(self, config: BalanceConfig, progress_interval_s: float = 10.0, label: str | None = None):
        super().__init__(BalanceFn(config, progress_interval_s), label)

    def expand(self, seeds):
        counts = (seeds | "Language" >> beam.Map(lambda s: s.programming_language)
                  | "CountPerLanguage" >> beam.combiners.Count.PerElement())
        return self.apply_fn(seeds, pvalue.AsDict(counts), label="Sample")
