"""Decontaminate: drop records that share a word n-gram with a benchmark problem (HumanEval, MBPP, user JSONL)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dedup.decontam import build_index
from dedup.records import DocView
from ledger.drop import Drop
from transforms.stage import Stage, StageDoFn

STAGE = "Decontaminate"


@dataclass(frozen=True)
class DecontamConfig:
    """Decontaminate's n-gram size and the benchmarks and prompt files it checks against."""

    enabled: bool = True
    ngram: int = 10
    benchmarks: tuple[str, ...] = ("humaneval", "mbpp")
    extra_jsonl: tuple[str, ...] = ()


def contamination_drop(index, text: str) -> Drop | None:
    """Drop `contaminated` with the benchmark, task and n-gram that matched, or None when the text is clean."""
    hit = index.match(text)
    return Drop("contaminated", hit.detail()) if hit else None


class DecontaminateFn(StageDoFn):
    def __init__(self, config: DecontamConfig, view: DocView, stage: str = STAGE, progress_interval_s: float = 10.0):
        super().__init__(stage, progress_interval_s)
        self.config = config
        self.view = view

    def setup(self) -> None:
        super().setup()
        self.index = build_index(self.config.benchmarks, self.config.extra_jsonl, self.config.ngram)

    def decide(self, record: Any) -> Any:
        drop = contamination_drop(self.index, self.view(record).text)
        return drop if drop else record


class Decontaminate(Stage):
    """Records in, clean records out, with a `dropped` output whose detail names the benchmark and n-gram."""

    def __init__(self, config: DecontamConfig, view: DocView, stage: str = STAGE, progress_interval_s: float = 10.0,
                 label: str | None = None):
        super().__init__(DecontaminateFn(config, view, stage, progress_interval_s), label)
