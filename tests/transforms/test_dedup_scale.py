"""Dedup at crawl scale keeps today's answers: only bucketed documents reach the pair joins, converged component
rounds carry no data, and a giant component is decided by a distributed step; on the planted test corpus the
clusters are identical to those the code wrote before these changes (tests/data/dedup/near_dedup_expected.json)."""

from __future__ import annotations

import json
import tempfile

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from dedup.components import ConnectedComponents
from dedup.keep import choose_kept
from dedup.records import DocView, TextDoc
from pipeline.funnel import counters_from_result
from tests.conftest import DATA, local_pipeline
from tests.dedup.fixtures import planted_corpus
from transforms.dedup import CLUSTERS_TAG, MinHashDedup, NearDedupConfig

VIEW = DocView(text=("text",), score="score", date="date")
EXPECTED = json.loads((DATA / "dedup" / "near_dedup_expected.json").read_text())


def _append(row, path: str) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(list(row)) + "\n")


def _clusters(config: NearDedupConfig) -> tuple[list, dict]:
    docs = [TextDoc(d["id"], d["text"], "", d["score"], d["date"]) for d in planted_corpus()]
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/clusters.jsonl"
        open(path, "w").close()
        p = local_pipeline()
        out = p | beam.Create(docs) | MinHashDedup(config, VIEW)
        _ = out[CLUSTERS_TAG] | beam.Map(_append, path)
        result = p.run()
        result.wait_until_finish()
        rows = sorted(json.loads(line) for line in open(path))
    return rows, counters_from_result(result)


@pytest.mark.parametrize("keep,per", [("longest", "cover"), ("score", "one"), ("earliest", "cover")])
def test_the_clusters_are_identical_to_before(keep, per):
    rows, counters = _clusters(NearDedupConfig(keep=keep, per_component=per))
    assert rows == EXPECTED[f"{keep}/{per}"]
    assert counters[("syncode.MinHashDedup", "total")] == len(planted_corpus())


def test_a_giant_component_is_decided_by_the_distributed_step_as_the_one_rule():
    rows, _ = _clusters(NearDedupConfig(keep="longest", per_component="one", max_component_size=2))
    assert rows == EXPECTED["longest/one"]  # on these near-cliques cover and one agree, distributed or not


def test_component_rounds_stop_once_nothing_changes():
    chain = [(f"n{i:02d}", f"n{i + 1:02d}") for i in range(12)] + [("x1", "x2"), ("x3", "x2")]
    p = local_pipeline()
    roots = p | beam.Create(chain) | ConnectedComponents(max_rounds=12)
    want = [(f"n{i:02d}", "n00") for i in range(13)] + [("x1", "x1"), ("x2", "x1"), ("x3", "x1")]
    assert_that(roots, equal_to(want))
    result = p.run()
    result.wait_until_finish()
    counters = counters_from_result(result)
    assert 0 < counters[("syncode.MinHashDedup", "cc_rounds")] < 12  # later rounds carried nothing
    assert counters.get(("syncode.MinHashDedup", "cc_unconverged_nodes"), 0) == 0


def test_only_documents_that_share_a_bucket_reach_the_pair_joins():
    rows, counters = _clusters(NearDedupConfig())
    paired = counters[("syncode.MinHashDedup", "paired_docs")]
    clustered = sum(1 for r in rows if "cluster_size=" in r[4])
    assert clustered <= paired < len(planted_corpus())  # the singletons never reach the pair joins
    singles = {r[0] for r in rows if r[1] == r[0] and r[4] == ""}
    assert {"empty", "chain1"} <= singles
    assert choose_kept({}, [], "longest") == {}
