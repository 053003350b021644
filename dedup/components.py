"""Connected components of the verified duplicate edges, as Beam transforms: iterated large-star/small-star
(Kiveris et al., "Connected Components in MapReduce and Beyond", SoCC 2014). Each round is two GroupByKeys over
edges only, so a worker holds one node's neighbourhood at a time: memory grows with edges, never with the corpus.

A Beam graph is fixed before it runs, so the rounds are laid out up to `max_rounds`; each round counts the nodes it
changes, and once a round changes nothing its edges leave for the labelling and the later rounds carry no data."""

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


CHANGES_TAG = "changes"


class _LargeStarFn(beam.DoFn):
    """large_star, and a count of 1 when it moved an edge: a node with larger neighbours that is not its
    neighbourhood's minimum."""

    def process(self, element):
        node, neighbours = element
        nbrs = set(neighbours)
        m = min(min(nbrs), node)
        moved = False
        for v in nbrs:
            if v > node:
                moved = moved or m != node
                yield v, m
        if moved:
            yield beam.pvalue.TaggedOutput(CHANGES_TAG, 1)


class _SmallStarFn(beam.DoFn):
    """small_star, and a count of 1 when it moved an edge: a node with more than one smaller neighbour."""

    def process(self, element):
        node, smaller = element
        nbrs = set(smaller)
        if len(nbrs) > 1:
            yield beam.pvalue.TaggedOutput(CHANGES_TAG, 1)
        yield from small_star(node, nbrs)


class _CountRoundFn(beam.DoFn):
    def __init__(self, stage: str):
        self.stage = stage

    def setup(self) -> None:
        self.counters = StageCounters(self.stage)

    def process(self, changes: int):
        if changes:
            self.counters.count("cc_rounds")  # rounds that changed something (the last one that did not is free)
        yield changes


def _still_changing(_edge, _n: int, changes: int) -> int:
    return 0 if changes else 1


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
        settled = []  # the edges of the round that changed nothing: final, and out of the later rounds
        for i in range(self.max_rounds):
            large = (edges
                     | f"LargeStarEmit{i}" >> beam.FlatMap(both_directions)
                     | f"LargeStarGroup{i}" >> beam.GroupByKey()
                     | f"LargeStar{i}" >> beam.ParDo(_LargeStarFn()).with_outputs(CHANGES_TAG, main="edges"))
            small = (large["edges"]
                     | f"SmallStarOrient{i}" >> beam.Map(larger_first)
                     | f"SmallStarGroup{i}" >> beam.GroupByKey()
                     | f"SmallStar{i}" >> beam.ParDo(_SmallStarFn()).with_outputs(CHANGES_TAG, main="edges"))
            changes = ((large[CHANGES_TAG], small[CHANGES_TAG]) | f"Changes{i}" >> beam.Flatten()
                       | f"CountChanges{i}" >> beam.CombineGlobally(sum)
                       | f"CountRound{i}" >> beam.ParDo(_CountRoundFn(self.stage)))
            if i == self.max_rounds - 1:
                edges = small["edges"]
                break
            going, done = small["edges"] | f"Converged{i}" >> beam.Partition(
                _still_changing, 2, changes=beam.pvalue.AsSingleton(changes))
            settled.append(done)
            edges = going
        return ((*settled, edges) | "FinalEdges" >> beam.Flatten()
                | "Roles" >> beam.FlatMap(_roles)
                | "GroupRoles" >> beam.GroupByKey()
                | "Label" >> beam.ParDo(_LabelFn(self.stage)))
