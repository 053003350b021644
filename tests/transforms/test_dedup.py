from __future__ import annotations

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.util import assert_that, equal_to

from dedup.records import SEED_VIEW, ClusterRow, DocView, TextDoc
from ledger.records import seed_from_row
from pipeline.funnel import counters_from_result, funnel_from_counters
from tests.conftest import DATA, local_pipeline
from tests.dedup.fixtures import edit_words, pages
from transforms.dedup import ExactDedup, MinHashDedup, NearDedupConfig

VIEW = DocView(text=("text",), score="score", date="date")


def _docs() -> list[TextDoc]:
    return [TextDoc(p["id"], p["text"], f"https://docs.python.org/3/{p['path']}", 0.0, "2024-01-01")
            for p in pages()]


def _run(p):
    result = p.run()
    result.wait_until_finish()
    return {s.stage: s for s in funnel_from_counters(counters_from_result(result), [])}


def test_exact_dedup_keeps_the_lowest_id_whatever_the_order():
    base = _docs()[0]
    copies = [base._replace(id="m-copy", text=base.text.upper()), base._replace(id="z-copy", text="  " + base.text),
              base._replace(id="a-first")]
    p = local_pipeline()
    out = p | beam.Create(copies[::-1] + [base]) | ExactDedup(VIEW)
    assert_that(out["kept"] | beam.Map(lambda d: d.id), equal_to(["a-first"]))
    assert_that(out["dropped"] | beam.Map(lambda d: (d.id, d.reason, d.detail)),
                equal_to([(i, "exact_duplicate", "kept=a-first") for i in ("m-copy", "z-copy", base.id)]),
                label="drops")
    funnel = _run(p)["ExactDedup"]
    assert (funnel.total, funnel.kept, funnel.dropped) == (4, 1, {"exact_duplicate": 3})


def _near_corpus() -> list[TextDoc]:
    docs = _docs()
    base = docs[3]
    return docs + [
        base._replace(id="near-5", text=edit_words(base.text, 5, seed=5)),  # Jaccard ~0.93
        base._replace(id="near-8", text=edit_words(base.text, 8, seed=8), score=0.9, date="2019-05-01"),
        base._replace(id="far-45", text=edit_words(base.text, 45, seed=45)),  # Jaccard ~0.55: not a duplicate
    ]


@pytest.mark.parametrize(("keep", "kept"), [("score", "near-8"), ("earliest", "near-8")])
def test_near_duplicates_cluster_and_one_is_kept_by_rule(keep, kept):
    docs = _near_corpus()
    base_id = docs[3].id
    p = local_pipeline()
    out = p | beam.Create(docs) | MinHashDedup(NearDedupConfig(keep=keep), VIEW)
    family = sorted([base_id, "near-5", "near-8"])
    expected_rows = [ClusterRow(d.id, d.id, True, "", "") for d in docs if d.id not in family]
    expected_rows += [ClusterRow(i, family[0], i == kept, "" if i == kept else "near_duplicate",
                                 "cluster_size=3" if i == kept else f"kept={kept} cluster_size=3") for i in family]
    assert_that(out["clusters"], equal_to(expected_rows))
    assert_that(out["kept"] | beam.Map(lambda d: d.id),
                equal_to([d.id for d in docs if d.id not in family] + [kept]), label="kept")
    funnel = _run(p)["MinHashDedup"]
    assert (funnel.total, funnel.kept, funnel.dropped) == (len(docs), len(docs) - 2, {"near_duplicate": 2})
    assert funnel.other["verified_edges"] == 3
    assert funnel.other["rejected_pairs"] >= 1  # far-45 was a candidate and failed the true-Jaccard check


def test_empty_texts_and_duplicate_ids_are_accounted():
    docs = _docs()[:3]
    extra = [TextDoc("empty", "", "", 0.0, ""), docs[0]._replace(text="another text entirely " * 20)]
    p = local_pipeline()
    out = p | beam.Create(docs + extra) | MinHashDedup(NearDedupConfig(), VIEW)
    assert_that(out["dropped"] | beam.Map(lambda d: (d.id, d.reason)), equal_to([(docs[0].id, "duplicate_id")]))
    funnel = _run(p)["MinHashDedup"]
    assert funnel.total == 5 and funnel.kept == 4 and funnel.balanced()
    assert funnel.other["no_words"] == 1


def test_bad_keep_rule_is_rejected():
    with pytest.raises(ValueError, match="keep must be one of"):
        MinHashDedup(NearDedupConfig(keep="random"), VIEW)
    with pytest.raises(ValueError, match="per_component must be one of"):
        MinHashDedup(NearDedupConfig(per_component="all"), VIEW)


def test_seed_view_ranks_seeds_by_code_score_under_keep_score():
    """`--dedup_keep score` on seeds: the near-duplicate with the higher code_score stays, though it is shorter."""
    row = pq.read_table(DATA / "seeds" / "train-00000-of-00001.parquet").to_pylist()[0]
    base = seed_from_row(row)
    longer = base._replace(id="seed-long", text=base.text + "\nOne more closing line.", code_score=0.51)
    better = base._replace(id="seed-best", code_score=0.97)
    assert SEED_VIEW(better).score == 0.97
    p = local_pipeline()
    out = p | beam.Create([longer, better]) | MinHashDedup(NearDedupConfig(keep="score"), SEED_VIEW)
    assert_that(out["kept"] | beam.Map(lambda d: d.id), equal_to(["seed-best"]))
    p.run().wait_until_finish()
