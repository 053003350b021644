"""`synth --only_shards` regenerates shards equal to the same shards of a full run, although question dedup
looks across shards: the selected shards' questions are deduplicated against every seed's question."""

from __future__ import annotations

import json
import random
import re
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ledger.drop import Drop
from ledger.records import SEED_SCHEMA, Seed
from pipeline.config import load_config
from pipeline.funnel import accounting_problems, counters_from_result, funnel_from_counters, handoff_problems
from pipeline.llm_roles import with_endpoints, with_models
from pipeline.synth_job import OTHER_SHARD, build_synth, shard_selected
from tests.conftest import DATA, local_pipeline
from tests.fault_server import FaultServer, completion
from transforms.write_parquet import shard_of

SHARDS = 4
TOPIC = re.compile(r"topic-(\w+)")
# seed -> the topic its question is about: ten distinct topics, four exact copies, two near copies (a word fewer)
TOPICS = {f"seed-{i:02d}": f"t{i}" for i in range(10)}
TOPICS |= {f"seed-{10 + i:02d}": f"t{i}" for i in range(4)}
TOPICS |= {"seed-14": "t4near", "seed-15": "t5near"}
PAIRS = [(f"seed-{i:02d}", f"seed-{10 + i:02d}") for i in range(6)]  # (original, copy)


def question_text(topic: str) -> str:
    """30 words drawn by the topic (distinct topics share almost no 5-gram); a near copy lacks the last word."""
    rng = random.Random(topic.removesuffix("near"))
    words = ["".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(3)) for _ in range(30)]
    return " ".join(words[:-1] if topic.endswith("near") else words) + "?"


class TopicServer(FaultServer):
    """Answers each question request with the question of the topic in the seed's title; responses as FaultServer."""

    def answer(self, handler, body: dict) -> None:
        if "response_format" not in body:
            return super().answer(handler, body)
        topic = TOPIC.search(body["messages"][-1]["content"]).group(1)
        text = json.dumps({"question": question_text(topic), "programming_language": "Python",
                           "category": "language_and_concepts", "subcategory": "algorithm_design",
                           "difficulty": "medium", "algorithmic": True, "testable": True})
        return handler._send(200, completion(body, text, "stop"))


def _write_seeds(path) -> None:
    rows = pq.read_table(DATA / "seeds" / "train-00000-of-00001.parquet").to_pylist()
    out = [dict({**Seed._field_defaults, **rows[i % len(rows)]}, id=seed, title=f"Page on topic-{topic}")
           for i, (seed, topic) in enumerate(TOPICS.items())]
    path.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(out, schema=SEED_SCHEMA), path / "train-00000-of-00001.parquet")


def _run(server, seeds, out, only_shards=None):
    config = load_config(overrides={"output.pairs_num_shards": SHARDS, "synth.max_seed_chars": 300,
                                    "progress_interval_s": 1.0})
    config = with_models(with_endpoints(config, [server.url]))
    p = local_pipeline()
    graph = build_synth(p, f"{seeds}/*.parquet", config, str(out), only_shards)
    result = p.run()
    result.wait_until_finish()
    return funnel_from_counters(counters_from_result(result), graph.stages), graph


def _shard(out, i: int) -> list[dict]:
    return pq.read_table(out / "data" / f"train-{i:05d}-of-{SHARDS:05d}.parquet").to_pylist()


def choose_shards(kept: set[str]) -> list[int]:
    """Shards that hold the copy dedup dropped while the one it kept lies in a shard left out: the shards whose
    regeneration goes wrong when dedup sees only the selected shards' questions."""
    selected, left_out = set(), set()
    for pair in PAIRS:
        (keep,), (drop,) = [s for s in pair if s in kept], [s for s in pair if s not in kept]
        mine, other = shard_of(drop, SHARDS), shard_of(keep, SHARDS)
        if mine != other and mine not in left_out and other not in selected:
            selected.add(mine)
            left_out.add(other)
    return sorted(selected)


@pytest.fixture(scope="module")
def full_and_regenerated(tmp_path_factory):
    root = tmp_path_factory.mktemp("only_shards")
    _write_seeds(root / "seeds")
    with TopicServer() as server:
        full = _run(server, root / "seeds", root / "full")
        kept = {r["seed_id"] for i in range(SHARDS) for r in _shard(root / "full", i)}
        selected = choose_shards(kept)
        assert selected, "no shard whose copy lost to a question in a shard left out: the test would prove nothing"
        regen = _run(server, root / "seeds", root / "regen", selected)
        shutil.copytree(root / "full", root / "in_place")  # the usual case: a rerun in OUT, its cache at hand
        for i in selected:
            (root / "in_place" / "data" / f"train-{i:05d}-of-{SHARDS:05d}.parquet").unlink()
        in_place = _run(server, root / "seeds", root / "in_place", selected)
    return root, selected, full, regen, in_place


def test_the_full_run_keeps_one_question_per_topic(full_and_regenerated):
    root, *_ = full_and_regenerated
    kept = {r["seed_id"] for i in range(SHARDS) for r in _shard(root / "full", i)}
    assert len(kept) == 10 and all(len(kept & set(pair)) == 1 for pair in PAIRS)


def test_a_regenerated_shard_equals_the_same_shard_of_the_full_run(full_and_regenerated):
    root, selected, *_ = full_and_regenerated
    for i in selected:
        assert _shard(root / "regen", i) == _shard(root / "full", i), i
        assert _shard(root / "in_place", i) == _shard(root / "full", i), i
    assert sorted(p.name for p in (root / "regen" / "data").glob("train-*.parquet")) == [
        f"train-{i:05d}-of-{SHARDS:05d}.parquet" for i in selected]


def test_the_regeneration_pays_for_responses_only_in_its_shards_and_balances(full_and_regenerated):
    root, selected, _, (funnel, graph), _ = full_and_regenerated
    stages = {s.stage: s for s in funnel}
    rows = sum(len(_shard(root / "regen", i)) for i in selected)
    assert stages["GenerateQuestions"].total == len(TOPICS)
    assert stages["GenerateResponses"].total == rows
    assert accounting_problems(funnel) == [] and handoff_problems(funnel, graph.handoffs) == []


def test_in_place_the_other_shards_questions_come_from_the_cache(full_and_regenerated):
    *_, (funnel, _) = full_and_regenerated
    questions = {s.stage: s for s in funnel}["GenerateQuestions"]
    assert questions.other.get("requests", 0) == 0 and questions.other["cache_hits"] == len(TOPICS)


def test_only_the_selected_shards_go_on_to_responses():
    wanted = frozenset({shard_of("seed-00", SHARDS)})
    assert shard_selected("seed-00", SHARDS, wanted) is None
    other = next(s for s in TOPICS if shard_of(s, SHARDS) not in wanted)
    assert shard_selected(other, SHARDS, wanted) == Drop(OTHER_SHARD, f"pairs shard {shard_of(other, SHARDS)}")
