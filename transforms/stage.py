"""The stage base: a DoFn that counts every element it reads as kept or dropped by reason, and the PTransform
that applies it with its tagged outputs; every stage of every job is written this way."""

from __future__ import annotations

from typing import Any

import apache_beam as beam
from apache_beam import pvalue

import ledger.coders  # noqa: F401 - registers the records' RowCoders wherever a stage runs
from ledger.counters import StageCounters
from ledger.drop import Drop
from ledger.records import Dropped

DROPPED_TAG = "dropped"
KEPT_TAG = "kept"


def dropped_record(stage: str, element: Any, drop: Drop) -> Dropped:
    """The audit row for a dropped element, taking its id and URL when it has them."""
    return Dropped(stage=stage, reason=drop.reason, id=str(getattr(element, "id", "") or ""),
                   url=str(getattr(element, "url", "") or ""), detail=drop.detail[:2000])


class StageDoFn(beam.DoFn):
    """Base of every stage's DoFn. A one-in, at-most-one-out stage writes `decide`; a stage with several outputs
    overrides `process` and counts through `seen`, `keep` and `drop`, so `in = kept + sum(dropped)` holds."""

    outputs: tuple[str, ...] = ()  # tagged outputs besides `kept` and `dropped` (clusters, dead letters)

    def __init__(self, stage: str, progress_interval_s: float = 10.0):
        self.stage = stage
        self.progress_interval_s = progress_interval_s
        self.counters: StageCounters | None = None

    def setup(self) -> None:
        self.counters = StageCounters(self.stage, self.progress_interval_s)

    def decide(self, element: Any) -> Any:
        """Return the kept output for `element`, or a `Drop`."""
        raise NotImplementedError

    def process(self, element: Any):
        self.counters.seen()
        yield self.route(element, self.decide(element))

    def keep(self, output: Any) -> Any:
        """Count one kept output and hand it back for the main output."""
        self.counters.kept()
        return output

    def drop(self, element: Any, drop: Drop, **row: str) -> pvalue.TaggedOutput:
        """Count one drop by its reason and return its audit row for the `dropped` output; `row` overrides the id
        or URL read off the element."""
        self.counters.dropped(drop.reason)
        record = dropped_record(self.stage, element, drop)
        return pvalue.TaggedOutput(DROPPED_TAG, record._replace(**row) if row else record)

    def route(self, element: Any, result: Any) -> Any:
        """A decision's output: the audit row of a `Drop`, else the kept record."""
        return self.drop(element, result) if isinstance(result, Drop) else self.keep(result)


class Stage(beam.PTransform):
    """Applies a StageDoFn and returns its `kept` and `dropped` outputs (and any others the DoFn declares); a stage
    with more steps than its DoFn overrides `expand` and calls `apply_fn` for the counted step."""

    def __init__(self, dofn: StageDoFn, label: str | None = None):
        super().__init__(label)
        self.dofn = dofn

    def apply_fn(self, pcoll, *side_inputs, label: str | None = None):
        step = beam.ParDo(self.dofn, *side_inputs).with_outputs(DROPPED_TAG, *self.dofn.outputs, main=KEPT_TAG)
        return pcoll | (label >> step if label else step)

    def expand(self, pcoll):
        return self.apply_fn(pcoll)
