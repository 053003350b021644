from __future__ import annotations

import random

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from dedup.components import ConnectedComponents, large_star, small_star
from pipeline.funnel import counters_from_result
from tests.conftest import local_pipeline


def test_large_star_links_larger_neighbours_to_the_smallest():
    assert sorted(large_star("c", ["a", "d", "e"])) == [("d", "a"), ("e", "a")]
    assert sorted(large_star("b", ["c", "d"])) == [("c", "b"), ("d", "b")]


def test_small_star_links_node_and_smaller_neighbours_to_the_smallest():
    assert sorted(small_star("d", ["b", "a"])) == [("b", "a"), ("d", "a")]


def _graph(seed: int):
    rng = random.Random(seed)
    edges, truth = [], {}
    for _ in range(30):
        nodes = [f"n{rng.randrange(10**9):09d}" for _ in range(rng.randint(2, 30))]
        for i in range(1, len(nodes)):  # paths and random trees, the slow cases for label propagation
            edges.append((nodes[i - 1], nodes[i]) if rng.random() < 0.6 else (nodes[rng.randrange(i)], nodes[i]))
        truth.update({v: min(nodes) for v in nodes})
    return edges, truth


def test_components_match_the_true_partition():
    edges, truth = _graph(0)
    p = local_pipeline()
    labels = p | beam.Create(edges) | ConnectedComponents(max_rounds=8, stage="TestCC")
    assert_that(labels, equal_to(sorted(truth.items())))
    result = p.run()
    result.wait_until_finish()
    counters = counters_from_result(result)
    assert counters[("syncode.TestCC", "cc_nodes")] == len(truth)
    assert counters.get(("syncode.TestCC", "cc_unconverged_nodes"), 0) == 0


def test_too_few_rounds_is_counted_not_hidden():
    path = [(f"v{i:03d}", f"v{i + 1:03d}") for i in range(0, 200)]
    shuffled = {f"v{i:03d}": f"v{(i * 7919) % 201:03d}" for i in range(201)}
    edges = [(shuffled[a], shuffled[b]) for a, b in path]
    p = local_pipeline()
    labels = p | beam.Create(edges) | ConnectedComponents(max_rounds=1, stage="TestCC1")
    assert_that(labels | beam.combiners.Count.Globally(), equal_to([201]))
    result = p.run()
    result.wait_until_finish()
    assert counters_from_result(result)[("syncode.TestCC1", "cc_unconverged_nodes")] > 0
