from __future__ import annotations

from pipeline.funnel import accounting_problems, funnel_from_counters, render_table


def _counters():
    return {
        ("syncode.Extract", "total"): 10, ("syncode.Extract", "kept"): 7, ("syncode.Extract", "dropped_too_short"): 3,
        ("syncode.ReadWarc", "total"): 12, ("syncode.ReadWarc", "kept"): 10,
        ("syncode.ReadWarc", "dropped_not_response"): 2, ("syncode.ReadWarc", "files"): 1,
        ("other.namespace", "total"): 99,
    }


def test_funnel_orders_stages_and_splits_drop_reasons():
    funnel = funnel_from_counters(_counters(), ["ReadWarc", "Extract"])
    assert [s.stage for s in funnel] == ["ReadWarc", "Extract"]
    assert funnel[1].dropped == {"too_short": 3}
    assert funnel[0].other == {"files": 1}
    assert accounting_problems(funnel) == []


def test_unbalanced_stage_is_reported():
    counters = _counters()
    counters[("syncode.Extract", "kept")] = 6
    problems = accounting_problems(funnel_from_counters(counters, ["ReadWarc", "Extract"]))
    assert problems == ["Extract: in=10 but kept+dropped=9"]


def test_table_lists_each_reason():
    table = render_table(funnel_from_counters(_counters(), ["ReadWarc", "Extract"]))
    assert "too_short" in table and "not_response" in table
    assert table.splitlines()[0].split() == ["stage", "in", "kept", "dropped"]
