"""The dedup job through the CLI, on real page texts with planted copies, a contaminated page and bad lines."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from dedup.records import CLUSTER_SCHEMA, TEXT_DOC_SCHEMA
from ledger.drop import Drop
from tests.conftest import REPO
from tests.dedup.fixtures import edit_words, pages
from transforms.read_docs import text_doc_from_json


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", "dedup", *args, "--progress_interval_s", "0.5",
                           "--direct_num_workers=1"], cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def dedup_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dedup")
    rows = [{"id": p["id"], "text": p["text"], "url": f"https://docs.python.org/3/{p['path']}"} for p in pages()]
    rows.append({"id": "zz-near", "text": edit_words(rows[1]["text"], 5, seed=1)})
    rows.append({"id": "zz-copy", "text": rows[2]["text"].upper()})
    rows.append({"id": "zz-he", "text": "Quoted answer: def below_zero(operations: List[int]) -> bool: balance = 0 "
                 "for op in operations: balance += op if balance < 0: return True return False"})
    custom = tmp / "arena.jsonl"
    custom.write_text(json.dumps({"id": "q1", "prompt": " ".join(rows[0]["text"].split()[300:330])}) + "\n")
    path = tmp / "docs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "not json\n" + '{"id": "x"}\n')
    out = tmp / "out"
    proc = _cli("--input", str(path), "--output", str(out), "--decontam_prompts", str(custom))
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out, rows


def test_clusters_has_one_row_per_document_with_reasons(dedup_run):
    out, rows = dedup_run
    clusters = pq.read_table(out / "clusters")
    assert clusters.schema.remove_metadata() == CLUSTER_SCHEMA
    by_id = {r["id"]: r for r in clusters.to_pylist()}
    assert set(by_id) == {r["id"] for r in rows}
    assert by_id["zz-he"]["reason"] == "contaminated" and "benchmark=humaneval" in by_id["zz-he"]["detail"]
    assert by_id[rows[0]["id"]]["reason"] == "contaminated" and "benchmark=arena task=q1" in by_id[rows[0]["id"]][
        "detail"]
    assert (by_id["zz-copy"]["reason"], by_id["zz-copy"]["cluster_id"]) == ("exact_duplicate", rows[2]["id"])
    near = [by_id["zz-near"], by_id[rows[1]["id"]]]
    assert sorted(r["kept"] for r in near) == [False, True]
    assert {r["cluster_id"] for r in near} == {min("zz-near", rows[1]["id"])}
    kept = pq.read_table(out / "kept")
    assert kept.schema.remove_metadata() == TEXT_DOC_SCHEMA
    assert sorted(kept.column("id").to_pylist()) == sorted(i for i, r in by_id.items() if r["kept"])


def test_manifest_funnel_balances(dedup_run):
    out, rows = dedup_run
    job = json.loads((out / "manifest.json").read_text())["jobs"]["dedup"]
    assert job["stages_run"] == ["ReadDocs", "Decontaminate", "ExactDedup", "MinHashDedup", "WriteKept"]
    funnel = {s["stage"]: s for s in job["funnel"]}
    assert funnel["ReadDocs"]["dropped"] == {"bad_json": 1, "no_text": 1}
    assert funnel["Decontaminate"]["dropped"] == {"contaminated": 2}
    assert funnel["ExactDedup"]["dropped"] == {"exact_duplicate": 1}
    assert funnel["MinHashDedup"]["dropped"] == {"near_duplicate": 1}
    assert funnel["WriteKept"]["in"] == len(rows) - 4
    assert job["accounting_problems"] == []


def test_missing_input_is_a_usage_error(tmp_path):
    proc = _cli("--input", str(tmp_path / "nothing*.jsonl"), "--output", str(tmp_path / "out"))
    assert proc.returncode == 2 and "no input files match" in proc.stderr


def test_bad_keep_rule_is_a_config_error(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"id": "a", "text": "x"}\n')
    proc = _cli("--input", str(path), "--output", str(tmp_path / "out"), "--set", "dedup.near.keep=random")
    assert proc.returncode == 2 and "dedup.near" in proc.stderr


def test_json_lines_are_parsed_or_dropped_with_a_reason():
    assert text_doc_from_json('{"id": 3, "text": "t", "score": 0.5}').id == "3"
    assert text_doc_from_json("[1]") == Drop("bad_json", "not an object: [1]")
    assert text_doc_from_json('{"text": "t"}').reason == "no_id"
    assert text_doc_from_json('{"id": "a", "text": "t", "score": "high"}').reason == "bad_score"


def test_seed_parquet_in_seed_parquet_out(tmp_path):
    import pyarrow as pa

    from ledger.records import SEED_SCHEMA, Seed

    texts = [p["text"] for p in pages()[:3]]
    seeds = [Seed(f"s{i}", f"https://docs.python.org/{i}", "docs.python.org", f"<urn:{i}>", "2024-05-01T00:00:00Z",
                  "CC-MAIN-2024-22", "f.warc.gz", i, "t", t, len(t), len(t.split()))
             for i, t in enumerate([*texts, texts[0]])]
    (tmp_path / "seeds").mkdir()
    pq.write_table(pa.Table.from_pylist([s._asdict() for s in seeds], schema=SEED_SCHEMA),
                   tmp_path / "seeds" / "train-00000-of-00001.parquet")
    proc = _cli("--input", str(tmp_path / "seeds"), "--output", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    kept = pq.read_table(tmp_path / "out" / "kept")
    assert kept.schema.remove_metadata() == SEED_SCHEMA
    assert sorted(kept.column("id").to_pylist()) == ["s0", "s1", "s2"]
