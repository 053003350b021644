"""The funnel: per-stage in, kept and dropped-by-reason read from Beam metrics, checked and printed as a table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger.counters import METRICS_PREFIX


@dataclass
class StageCounts:
    """One stage's counters: what came in, what was kept, each drop reason, and any other totals it keeps."""

    stage: str
    total: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    other: dict[str, int] = field(default_factory=dict)

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    def balanced(self) -> bool:
        return self.total == self.kept + self.dropped_total

    def as_dict(self) -> dict[str, Any]:
        out = {"stage": self.stage, "in": self.total, "kept": self.kept, "dropped": dict(sorted(self.dropped.items()))}
        if self.other:
            out["counters"] = dict(sorted(self.other.items()))
        return out


def funnel_from_counters(counters: dict[tuple[str, str], int], order: list[str]) -> list[StageCounts]:
    """Group (namespace, name) counters by stage, in the job's stage order; unknown stages follow."""
    stages: dict[str, StageCounts] = {}
    for (ns, name), value in counters.items():
        if not ns.startswith(METRICS_PREFIX):
            continue
        stage = ns[len(METRICS_PREFIX):]
        counts = stages.setdefault(stage, StageCounts(stage))
        if name == "total":
            counts.total += value
        elif name == "kept":
            counts.kept += value
        elif name.startswith("dropped_"):
            counts.dropped[name[len("dropped_"):]] = counts.dropped.get(name[len("dropped_"):], 0) + value
        else:
            counts.other[name] = counts.other.get(name, 0) + value
    rank = {name: i for i, name in enumerate(order)}
    return sorted(stages.values(), key=lambda s: (rank.get(s.stage, len(rank)), s.stage))


def counters_from_result(result) -> dict[tuple[str, str], int]:
    """Committed counter values from a finished Beam run, summed over the steps that share a name."""
    out: dict[tuple[str, str], int] = {}
    for metric in result.metrics().query()["counters"]:
        key = (metric.key.metric.namespace, metric.key.metric.name)
        value = metric.committed if metric.committed is not None else metric.attempted
        out[key] = out.get(key, 0) + int(value or 0)
    return out


def accounting_problems(funnel: list[StageCounts]) -> list[str]:
    """Every stage must account for each record it read: in = kept + sum(dropped)."""
    return [f"{s.stage}: in={s.total} but kept+dropped={s.kept + s.dropped_total}" for s in funnel if not s.balanced()]


def handoff_problems(funnel: list[StageCounts], handoffs: list[tuple[str, str]]) -> list[str]:
    """What one stage keeps, the next must read: kept(A) = in(B) for each (A, B) hand-off."""
    by_name = {s.stage: s for s in funnel}
    out = []
    for a, b in handoffs:
        kept = by_name[a].kept if a in by_name else 0
        read = by_name[b].total if b in by_name else 0
        if kept != read:
            out.append(f"{a} kept {kept} but {b} read {read}")
    return out


def render_table(funnel: list[StageCounts]) -> str:
    """The funnel as a fixed-width table, one row per stage and one indented row per drop reason."""
    rows = [("stage", "in", "kept", "dropped", "")]
    for s in funnel:
        rows.append((s.stage, str(s.total), str(s.kept), str(s.dropped_total), "" if s.balanced() else "UNBALANCED"))
        for reason, n in sorted(s.dropped.items(), key=lambda kv: -kv[1]):
            rows.append(("  - " + reason, "", "", str(n), ""))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(c.ljust(widths[0]) if j == 0 else c.rjust(widths[j]) for j, c in enumerate(row[:4]))
                     + (f"  {row[4]}" if row[4] else ""))
        if i == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)
