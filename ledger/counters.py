"""Per-stage counters in Beam Metrics: `total`, `kept`, `dropped_<reason>` and named totals, with a progress line."""

from __future__ import annotations

import logging
import time
from typing import Any

from apache_beam.metrics import Metrics

from ledger.logs import configure_worker_logging

METRICS_PREFIX = "syncode."
_LOG = logging.getLogger("syncode.progress")


def namespace(stage: str) -> str:
    """The Beam metrics namespace of a stage, so the funnel can find its counters."""
    return METRICS_PREFIX + stage


class StageCounters:
    """Counts `total`, `kept` and `dropped_<reason>` for one stage and logs its progress at a steady interval."""

    def __init__(self, stage: str, progress_interval_s: float = 10.0):
        configure_worker_logging()
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
