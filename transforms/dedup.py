"""ExactDedup and MinHashDedup: generic over any record through a DocView (id, text, score, date), so the seeds job
dedups pages and the synth job dedups generated instructions with the same transforms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam import pvalue

from dedup.components import ConnectedComponents
from dedup.keep import KEEP_RULES, PER_COMPONENT, choose_kept, keep_order
from dedup.minhash import SignatureMaker, bucket_pairs, lsh_params
from dedup.records import ClusterRow, DedupDoc, DocView
from dedup.text import jaccard, text_hash
from ledger.drop import Drop
from transforms.stage import DROPPED_TAG, KEPT_TAG, Stage, StageDoFn

CLUSTERS_TAG = "clusters"
EDGES_TAG = "edges"  # the verified duplicate pairs (a, b), for audit and measurement


@dataclass(frozen=True)
class NearDedupConfig:
    """MinHashDedup's threshold, shingles, banding, keep rule and clustering rounds."""

    enabled: bool = True
    threshold: float = 0.8
    ngram: int = 5
    num_perm: int = 128
    bands: int = 0
    rows: int = 0
    min_candidate_recall: float = 0.995
    seed: int = 1
    keep: str = "longest"
    per_component: str = "cover"
    max_bucket_size: int = 64
    cc_max_rounds: int = 8  # an upper bound: rounds after the one that changed nothing carry no data
    # a component with more members is decided by a distributed step (the `one` rule as a combine) instead of one
    # worker's greedy cover: a giant template cluster would otherwise land on a single key
    max_component_size: int = 10_000


# ---------------------------------------------------------------- exact


class _KeepLowestIdFn(StageDoFn):
    """Of records with the same normalised text, keep the lowest id: the result does not depend on order."""

    outputs = (CLUSTERS_TAG,)

    def __init__(self, view: DocView, stage: str, progress_interval_s: float):
        super().__init__(stage, progress_interval_s)
        self.view = view

    def process(self, element):
        _, records = element
        keep_id = min(self.view(r).id for r in records)
        kept = False
        for record in records:
            self.counters.seen()
            rid = self.view(record).id
            if rid == keep_id and not kept:
                kept = True
                yield self.keep(record)
                continue
            reason = "exact_duplicate" if rid != keep_id else "duplicate_id"
            yield self.drop(record, Drop(reason, f"kept={keep_id}"))
            yield pvalue.TaggedOutput(CLUSTERS_TAG, ClusterRow(rid, keep_id, False, reason, f"kept={keep_id}"))


class ExactDedup(Stage):
    """Records in; outputs `kept`, `dropped` and `clusters` (a row per dropped copy, naming the kept one)."""

    def __init__(self, view: DocView, stage: str = "ExactDedup", progress_interval_s: float = 10.0,
                 label: str | None = None):
        super().__init__(_KeepLowestIdFn(view, stage, progress_interval_s), label)
        self.view = view

    def expand(self, records):
        view = self.view
        keyed = (records | "KeyByTextHash" >> beam.Map(lambda r: (text_hash(view(r).text), r))
                 | "GroupByTextHash" >> beam.GroupByKey())
        return self.apply_fn(keyed, label="KeepLowestId")


# ---------------------------------------------------------------- near (MinHash LSH)


class _SignFn(StageDoFn):
    """A batch of DedupDocs in; (band, bucket) -> id keys out. Shingle sets are not shuffled here: only the documents
    that share a bucket with another get theirs, later (_PairedFn)."""

    def __init__(self, config: NearDedupConfig, stage: str):
        super().__init__(stage)
        self.config = config

    def setup(self) -> None:
        super().setup()
        c = self.config
        self.maker = SignatureMaker(lsh_params(c.threshold, c.num_perm, c.bands, c.rows, c.min_candidate_recall),
                                    c.ngram, c.seed)

    def process(self, batch: list[DedupDoc]):
        shingles = [self.maker.shingles(doc.text) for doc in batch]
        signed = [(doc, s) for doc, s in zip(batch, shingles, strict=True) if len(s)]
        if len(signed) < len(batch):
            self.counters.count("no_words", len(batch) - len(signed))
        for (doc, _s), sig in zip(signed, self.maker.signatures(s for _, s in signed), strict=True):
            for key in self.maker.band_keys(sig):
                yield key, doc.id


PAIRED_TAG = "paired"
SHINGLES_TAG = "shingles"


class _PairedFn(StageDoFn):
    """Records joined by id with their candidate-pair marks. A record in no candidate pair is decided here (kept,
    or a duplicate id) and never shuffled again; a paired one goes on with its shingle set to the pair checks."""

    outputs = (CLUSTERS_TAG, PAIRED_TAG, SHINGLES_TAG)

    def __init__(self, config: NearDedupConfig, view: DocView, stage: str, progress_interval_s: float):
        super().__init__(stage, progress_interval_s)
        self.config, self.view = config, view

    def setup(self) -> None:
        super().setup()
        c = self.config
        self.maker = SignatureMaker(lsh_params(c.threshold, c.num_perm, c.bands, c.rows, c.min_candidate_recall),
                                    c.ngram, c.seed)
        self.apply = _ApplyFn(self.stage)
        self.apply.counters = self.counters

    def process(self, element):
        doc_id, joined = element
        records = joined["record"]
        if not joined["paired"] or not records:
            yield from self.apply.process((doc_id, {"record": records, "decision": []}))
            return
        self.counters.count("paired_docs")  # the only documents whose shingle sets are shuffled
        doc = self.view(records[0])
        s = self.maker.shingles(doc.text)
        yield pvalue.TaggedOutput(SHINGLES_TAG, (doc_id, (s.tobytes(), len(doc.text), doc.score, doc.date)))
        for record in records:
            yield pvalue.TaggedOutput(PAIRED_TAG, (doc_id, record))


def _pair_ids(pair: tuple[str, str]):
    a, b = pair
    yield a, True
    yield b, True


class _VerifyFn(StageDoFn):
    """A candidate pair becomes an edge only if the true Jaccard of its shingle sets reaches the threshold."""

    def __init__(self, threshold: float, stage: str):
        super().__init__(stage)
        self.threshold = threshold

    def process(self, element):
        b, joined = element
        if not joined["sh"]:
            return
        sh_b, *stat_b = joined["sh"][0]
        set_b = np.frombuffer(sh_b, dtype=np.uint64)
        for a, (sh_a, *stat_a) in joined["a"]:
            self.counters.count("candidate_pairs")
            if jaccard(np.frombuffer(sh_a, dtype=np.uint64), set_b) >= self.threshold:
                self.counters.count("verified_edges")
                yield a, b
                yield pvalue.TaggedOutput("stats", (a, tuple(stat_a)))
                yield pvalue.TaggedOutput("stats", (b, tuple(stat_b)))
            else:
                self.counters.count("rejected_pairs")


def _attach_first(element):
    """(a, {nbr: [b...], sh: [set_a]}) -> (b, (a, set_a)) for each candidate partner b."""
    a, joined = element
    if not joined["sh"]:
        return
    for b in joined["nbr"]:
        yield b, (a, joined["sh"][0])


class _ChooseFn(beam.DoFn):
    def __init__(self, rule: str, per_component: str):
        self.rule = rule
        self.per_component = per_component

    def process(self, element):
        root, items = element
        members, edges = {}, []
        for kind, a, b in items:
            if kind == "m":
                members[a] = tuple(b)
            else:
                edges.append((a, b))
        chosen = choose_kept(members, edges, self.rule, self.per_component)
        size = len(members)
        for doc_id, keeper in chosen.items():
            if keeper == doc_id:
                yield doc_id, ClusterRow(doc_id, root, True, "", f"cluster_size={size}")
            else:
                yield doc_id, ClusterRow(doc_id, root, False, "near_duplicate", f"kept={keeper} cluster_size={size}")


def _by_component(element):
    """(node, {root, stat, edge}) -> (root, member with its stats) and (root, each edge from node)."""
    node, joined = element
    if not joined["root"]:
        return
    root = joined["root"][0]
    if joined["stat"]:
        yield root, ("m", node, joined["stat"][0])
    for other in joined["edge"]:
        yield root, ("e", node, other)


class _ApplyFn(StageDoFn):
    """Every record meets its cluster decision: kept, or dropped as near_duplicate (duplicate ids are dropped too)."""

    outputs = (CLUSTERS_TAG,)

    def process(self, element):
        doc_id, joined = element
        decision = joined["decision"][0] if joined["decision"] else ClusterRow(doc_id, doc_id, True, "", "")
        for i, record in enumerate(joined["record"]):
            self.counters.seen()
            if i > 0:
                yield self.drop(record, Drop("duplicate_id", "another record has this id"))
                continue
            yield pvalue.TaggedOutput(CLUSTERS_TAG, decision)
            yield self.keep(record) if decision.kept else self.drop(record, Drop(decision.reason, decision.detail))


class MinHashDedup(Stage):
    """Records in; outputs `kept`, `dropped`, `clusters` (one row per record) and `edges`. The flow: signatures ->
    (band, bucket) keys -> GroupByKey -> candidate pairs -> true-Jaccard check -> connected components ->
    the records a component keeps (`config.keep`, `config.per_component`)."""

    def __init__(self, config: NearDedupConfig, view: DocView, stage: str = "MinHashDedup",
                 progress_interval_s: float = 10.0, label: str | None = None):
        super().__init__(_ApplyFn(stage, progress_interval_s), label)
        if config.keep not in KEEP_RULES:
            raise ValueError(f"dedup.near.keep must be one of {', '.join(KEEP_RULES)}, got {config.keep!r}")
        if config.per_component not in PER_COMPONENT:
            raise ValueError(f"dedup.near.per_component must be one of {', '.join(PER_COMPONENT)}, "
                             f"got {config.per_component!r}")
        lsh_params(config.threshold, config.num_perm, config.bands, config.rows, config.min_candidate_recall)
        self.config, self.view, self.stage = config, view, stage

    def expand(self, records):
        c, stage, view = self.config, self.stage, self.view
        keyed = records | "KeyById" >> beam.Map(lambda r: (view(r).id, r))
        bands = (records
                 | "View" >> beam.Map(view)
                 | "Batch" >> beam.BatchElements(min_batch_size=16, max_batch_size=256)
                 | "Sign" >> beam.ParDo(_SignFn(c, stage)))
        candidates = (bands
                      | "GroupByBucket" >> beam.GroupByKey()
                      | "BucketPairs" >> beam.FlatMapTuple(lambda _, ids: bucket_pairs(ids, c.max_bucket_size))
                      | "DistinctPairs" >> beam.Distinct())
        # only documents in a candidate pair go on to the pair joins; the others are decided at once
        split = ({"record": keyed, "paired": candidates | "PairedIds" >> beam.FlatMap(_pair_ids)}
                 | "JoinPaired" >> beam.CoGroupByKey()
                 | "SplitPaired" >> beam.ParDo(_PairedFn(c, view, stage, self.dofn.progress_interval_s)).with_outputs(
                     DROPPED_TAG, CLUSTERS_TAG, PAIRED_TAG, SHINGLES_TAG, main=KEPT_TAG))
        shingles = split[SHINGLES_TAG]
        first = ({"nbr": candidates, "sh": shingles} | "JoinFirst" >> beam.CoGroupByKey()
                 | "AttachFirst" >> beam.FlatMap(_attach_first))
        verified = ({"a": first, "sh": shingles} | "JoinSecond" >> beam.CoGroupByKey()
                    | "VerifyJaccard" >> beam.ParDo(_VerifyFn(c.threshold, stage)).with_outputs("stats", main="edges"))
        roots = verified["edges"] | "Components" >> ConnectedComponents(c.cc_max_rounds, stage)
        members = ({"root": roots, "stat": verified["stats"], "edge": verified["edges"]}
                   | "JoinComponents" >> beam.CoGroupByKey()
                   | "ByComponent" >> beam.FlatMap(_by_component))
        decisions = members | "Decide" >> DecideComponents(c)
        joined = {"record": split[PAIRED_TAG], "decision": decisions} | "JoinDecisions" >> beam.CoGroupByKey()
        applied = self.apply_fn(joined, label="Apply")
        out = {tag: (split[tag], applied[tag]) | f"All{tag.title()}" >> beam.Flatten()
               for tag in (KEPT_TAG, DROPPED_TAG, CLUSTERS_TAG)}
        return {**out, EDGES_TAG: verified["edges"]}


def _member_order(element, rule: str):
    root, (_kind, node, stat) = element
    return root, (keep_order(rule, node, *stat), node)


def _decide_large(element, best: dict, sizes: dict):
    """A member of a giant component: kept when it is the component's first by the keep rule, else its duplicate."""
    root, (_order, node) = element
    keeper, size = best[root][1], sizes[root]
    if node == keeper:
        return node, ClusterRow(node, root, True, "", f"cluster_size={size}")
    return node, ClusterRow(node, root, False, "near_duplicate", f"kept={keeper} cluster_size={size}")


class DecideComponents(beam.PTransform):
    """(component, member or edge) in, (doc id, ClusterRow) out. A component up to `max_component_size` members is
    decided in one worker by the keep rule and cover mode (_ChooseFn); a larger one by a distributed step: its
    members' keep order is reduced by a combine (lifted, so no key holds the component), and every member but the
    first goes as its near duplicate, as `per_component: one` would decide. Giant components are template pages,
    near-cliques, where cover keeps one document too."""

    def __init__(self, config: NearDedupConfig, label: str | None = None):
        super().__init__(label)
        self.config = config

    def expand(self, members):
        c = self.config
        limit = c.max_component_size
        sizes = (members | "Members" >> beam.Filter(lambda kv: kv[1][0] == "m")
                 | "One" >> beam.Map(lambda kv: (kv[0], 1)) | "ComponentSizes" >> beam.CombinePerKey(sum))
        large = sizes | "Giant" >> beam.Filter(lambda kv, n: kv[1] > n, limit)
        parts = members | "BySize" >> beam.Partition(lambda kv, _n, big: int(kv[0] in big), 2,
                                                     big=beam.pvalue.AsDict(large))
        small = (parts[0] | "GroupByComponent" >> beam.GroupByKey()
                 | "ChooseKept" >> beam.ParDo(_ChooseFn(c.keep, c.per_component)))
        ordered = (parts[1] | "GiantMembers" >> beam.Filter(lambda kv: kv[1][0] == "m")
                   | "KeepOrder" >> beam.Map(_member_order, c.keep))
        best = ordered | "FirstOfComponent" >> beam.CombinePerKey(min)
        giant = ordered | "DecideGiant" >> beam.Map(_decide_large, best=beam.pvalue.AsDict(best),
                                                    sizes=beam.pvalue.AsDict(large))
        return (small, giant) | "Decisions" >> beam.Flatten()


def kept_cluster_row(record: Any, view: DocView) -> ClusterRow:
    """The clusters row of a record no dedup stage dropped (used when near-dup detection is off)."""
    doc_id = view(record).id
    return ClusterRow(doc_id, doc_id, True, "", "")
