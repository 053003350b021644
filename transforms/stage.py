"""The shape every stage shares: one counter per drop reason, a tagged output for drops, a steady progress line."""

from __future__ import annotations

import logging
import time
from typing import Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from pipeline.records import Dropped
from transforms.drop import Drop

METRICS_PREFIX = "syncode."
DROPPED_TAG = "dropped"
KEPT_TAG = "kept"
_LOG = logging.getLogger("syncode.progress")


def namespace(stage: str) -> str:
    """The Beam metrics namespace of a stage, so the funnel can find its counters."""
    return METRICS_PREFIX + stage


class StageCounters:
    """Counts `total`, `kept` and `dropped_<reason>` for one stage and logs its progress at a steady interval."""

    def __init__(self, stage: str, progress_interval_s: float = 10.0):
        self.stage = stage
        self._ns = namespace(stage)
        self._interval = progress_interval_s
        self._total = Metrics.counter(self._ns, "total")
        self._kept = Metrics.counter(self._ns, "kept")
        self._counters: dict[str, Any] = {}
        self._seen = self._n_kept = self._n_dropped = 0
        self._start = self._last = time.monotonic()

    def count(self, name: str, n: int = 1) -> None:
        """Add to a named counter of this stage (token or character totals, scrubbed secrets, ...)."""
        counter = self._counters.get(name)
        if counter is None:
            counter = self._counters[name] = Metrics.counter(self._ns, name)
        counter.inc(n)

    def seen(self, n: int = 1) -> None:
        self._total.inc(n)
        self._seen += n

    def kept(self, n: int = 1) -> None:
        self._kept.inc(n)
        self._n_kept += n
        self._maybe_log()

    def dropped(self, reason: str, n: int = 1) -> None:
        self.count("dropped_" + reason, n)
        self._n_dropped += n
        self._maybe_log()

    def _maybe_log(self) -> None:
        now = time.monotonic()
        if now - self._last >= self._interval:
            self.log_progress(now)

    def log_progress(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._last = now
        elapsed = max(now - self._start, 1e-9)
        _LOG.info("progress %-16s in=%d kept=%d dropped=%d rate=%.1f/s", self.stage, self._seen, self._n_kept,
                  self._n_dropped, self._seen / elapsed)


def dropped_record(stage: str, element: Any, drop: Drop) -> Dropped:
    """The audit row for a dropped element, taking its id and URL when it has them."""
    return Dropped(stage=stage, reason=drop.reason, id=str(getattr(element, "id", "") or ""),
                   url=str(getattr(element, "url", "") or ""), detail=drop.detail[:2000])


class StageDoFn(beam.DoFn):
    """Base of a one-in, at-most-one-out stage: subclasses write `decide`; counting and drop routing are shared."""

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
        result = self.decide(element)
        if isinstance(result, Drop):
            self.counters.dropped(result.reason)
            yield pvalue.TaggedOutput(DROPPED_TAG, dropped_record(self.stage, element, result))
        else:
            self.counters.kept()
            yield result


class Stage(beam.PTransform):
    """Applies a StageDoFn and returns its `kept` and `dropped` outputs."""

    def __init__(self, dofn: StageDoFn, label: str | None = None):
        super().__init__(label)
        self.dofn = dofn

    def expand(self, pcoll):
        return pcoll | beam.ParDo(self.dofn).with_outputs(DROPPED_TAG, main=KEPT_TAG)
