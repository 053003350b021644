"""Decontaminate: drop records that share a word n-gram with a benchmark problem (HumanEval, MBPP, user JSONL)."""

from __future__ import annotations

from typing import Any

from dedup.decontam import build_index
from dedup.records import DocView
from pipeline.config import DecontamConfig
from transforms.stage import Drop, Stage, StageDoFn

STAGE = "Decontaminate"


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


def Decontaminate(config: DecontamConfig, view: DocView, stage: str = STAGE,  # noqa: N802 - reads as a transform
                  progress_interval_s: float = 10.0) -> Stage:
    """Records in, clean records out, with a `dropped` output whose detail names the benchmark and n-gram."""
    return Stage(DecontaminateFn(config, view, stage, progress_interval_s))
