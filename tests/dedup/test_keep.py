from __future__ import annotations

import pytest

from dedup.keep import choose_kept, keep_order


def test_keep_order_rules():
    assert keep_order("longest", "b", 10, 0.0, "") < keep_order("longest", "a", 9, 0.0, "")
    assert keep_order("longest", "a", 10, 0.0, "") < keep_order("longest", "b", 10, 0.0, "")
    assert keep_order("score", "b", 1, 0.9, "") < keep_order("score", "a", 100, 0.5, "")
    assert keep_order("earliest", "b", 1, 0.0, "2020-01-01") < keep_order("earliest", "a", 1, 0.0, "2021-01-01")
    assert keep_order("earliest", "b", 1, 0.0, "2021-01-01") < keep_order("earliest", "a", 1, 0.0, "")
    with pytest.raises(ValueError, match="unknown keep rule"):
        keep_order("shortest", "a", 1, 0.0, "")


def _stats(**lengths):
    return {k: (v, 0.0, "") for k, v in lengths.items()}


def test_star_keeps_its_centre_even_when_a_leaf_is_longer():
    members = _stats(base=100, c1=120, c2=90, c3=95)
    edges = [("base", "c1"), ("base", "c2"), ("base", "c3")]
    assert choose_kept(members, edges, "longest") == {"base": "base", "c1": "base", "c2": "base", "c3": "base"}
    # `one` follows the rule alone: c1 is kept and c2, c3 go although they are not duplicates of c1
    assert set(choose_kept(members, edges, "longest", "one").values()) == {"c1"}


def test_clique_keeps_the_rule_winner():
    members = _stats(a=10, b=30, c=20)
    edges = [("a", "b"), ("a", "c"), ("b", "c")]
    assert choose_kept(members, edges, "longest") == {"a": "b", "b": "b", "c": "b"}


def test_chain_drops_only_verified_duplicates_of_kept_documents():
    members = _stats(a=10, b=10, c=10, d=10, e=10)
    edges = [("a", "b"), ("b", "c"), ("c", "d"), ("d", "e")]
    chosen = choose_kept(members, edges, "longest")
    kept = {k for k, v in chosen.items() if k == v}
    assert kept == {"b", "d"}
    for doc, keeper in chosen.items():
        assert keeper == doc or (min(doc, keeper), max(doc, keeper)) in edges


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="per_component"):
        choose_kept({}, [], "longest", "some")
