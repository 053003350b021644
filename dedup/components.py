"""Connected components of the verified duplicate edges, as Beam transforms: iterated large-star/small-star
(Kiveris et al., "Connected Components in MapReduce and Beyond", SoCC 2014). Each round is two GroupByKeys over
edges only, so a worker holds one node's neighbourhood at a time: memory grows with edges, never with the corpus."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam

from ledger.counters import StageCounters


def large_star(node: str, neighbours: Iterable[str]) -> Iterator[tuple[str, str]]:
    """Connect every larger neighbour of `node` to the smallest id of its closed neighbourhood."""
    nbrs = set(neighbours)
    m = min(min(nbrs), node)
    for v in nbrs:
        if v > node:
            yield v, m


def small_star(node: str, smaller: Iterable[str]) -> Iterator[tuple[str, str]]:
    """Connect `node` and its smaller neighbours to the smallest of them."""
    nbrs = set(smaller)
    nbrs.add(node)
    m = min(nbrs)
    for v in nbrs:
        if v != m:
            yield v, m


def both_directions(edge: tuple[str, str]) -> Iterator[tuple[str, str]]:
    a, b = edge
    yield a, b
    yield b, a


def larger_first(edge: tuple[str, str]) -> tuple[str, str]:
    a, b = edge
    return (a, b) if a > b else (b, a)


class _LabelFn(beam.DoFn):
    """After the last round every edge should be (node, root) of a star; a node that is still someone's parent
    or has two parents did not converge: it is counted, and labelled with its smallest parent."""

    def __init__(self, stage: str):
        self.stage = stage

    def setup(self) -> None:
        self.counters = StageCounters(self.stage)

    def process(self, element):
        node, roles = element
        parents = sorted({other for role, other in roles if role == "child"})
        is_parent = any(role == "parent" for role, _ in roles)
        self.counters.count("cc_nodes")
        if len(parents) > 1 or (parents and is_parent):
            self.counters.count("cc_unconverged_nodes")
        yield node, parents[0] if parents else node


def _roles(edge: tuple[str, str]) -> Iterator[tuple[str, tuple[str, str]]]:
    child, parent = larger_first(edge)
    yield child, ("child", parent)
    yield parent, ("parent", child)


class ConnectedComponents(beam.PTransform):
    """Edges (a, b) in, (node, component id) out for every node on an edge; the id is the component's smallest."""

    def __init__(self, max_rounds: int = 8, stage: str = "MinHashDedup", label: str | None = None):
        super().__init__(label)
        if max_rounds < 1:
            raise ValueError("max_rounds must be at least 1")
        self.max_rounds = max_rounds
        self.stage = stage

    def expand(self, edges):
        for i in range(self.max_rounds):
            edges = (edges
                     | f"LargeStarEmit{i}" >> beam.FlatMap(both_directions)
                     | f"LargeStarGroup{i}" >> beam.GroupByKey()
                     | f"LargeStar{i}" >> beam.FlatMapTuple(large_star)
                     | f"SmallStarOrient{i}" >> beam.Map(larger_first)
                     | f"SmallStarGroup{i}" >> beam.GroupByKey()
                     | f"SmallStar{i}" >> beam.FlatMapTuple(small_star))
        return (edges
                | "Roles" >> beam.FlatMap(_roles)
                | "GroupRoles" >> beam.GroupByKey()
                | "Label" >> beam.ParDo(_LabelFn(self.stage)))
