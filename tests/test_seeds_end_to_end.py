"""The seeds job on the bundled sample, through the CLI, as a user runs it."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import shlex
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from ledger.records import SEED_SCHEMA
from tests.conftest import REPO
from transforms.quality import QualityConfig


@pytest.fixture(scope="module")
def seeds_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "all", "--input", str(REPO / "sample/warc/*.warc.gz"), "--output",
         str(out), "--progress_interval_s", "0.5"],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out, proc


def test_seed_shards_have_the_documented_schema_and_names(seeds_run):
    out, _ = seeds_run
    shards = sorted((out / "seeds").glob("*.parquet"))
    assert [s.name for s in shards] == [f"train-{i:05d}-of-00004.parquet" for i in range(4)]
    table = pq.read_table(out / "seeds")
    assert table.schema.remove_metadata() == SEED_SCHEMA
    written = [pq.ParquetFile(s).metadata for s in shards if pq.ParquetFile(s).metadata.num_row_groups]
    assert written and all(m.row_group(0).column(0).compression == "ZSTD" for m in written)
    assert table.num_rows > 20
    assert len(set(table.column("id").to_pylist())) == table.num_rows
    rows = table.to_pylist()
    min_lines = QualityConfig().min_code_lines
    assert all(r["code_score"] >= 0.5 and r["nl_lang"] in ("en", "zh") and r["code_lines"] >= min_lines for r in rows)
    assert {r["domain"] for r in rows} & {"doc.rust-lang.org", "www.postgresql.org", "postgresql.org"}
    dropped = {r["url"]: r for r in pq.read_table(out / "dropped" / "seeds").to_pylist()
               if r["reason"] != "not_response"}  # the page's request and metadata records share its URL
    # the real CC-MAIN-2024-22 record is an Aragonese Wikipedia article about a place: not code, not en/zh
    assert dropped["https://an.wikipedia.org/wiki/Escopete"]["reason"] in ("not_code", "language")


def test_seeds_carry_verbatim_code_and_its_language(seeds_run):
    out, _ = seeds_run
    rows = {r["url"]: r for r in pq.read_table(out / "seeds").to_pylist()}
    rust = rows["https://doc.rust-lang.org/1.63.0/book/ch04-02-references-and-borrowing.html"]
    assert rust["programming_language"] == "rust" and rust["code_blocks"] >= 10
    assert "```rust\nfn main() {\n    let s1 = String::from(\"hello\");" in rust["text"]
    assert len(rust["code_languages"]) == rust["code_blocks"] == len(rust["code_hints"])
    with_code = [r for r in rows.values() if r["code_blocks"]]
    assert len(with_code) >= 25 and sum(1 for r in with_code if r["programming_language"]) >= 20

def test_manifest_accounts_for_every_record(seeds_run):
    out, _ = seeds_run
    manifest = json.loads((out / "manifest.json").read_text())
    job = manifest["jobs"]["seeds"]
    stages = ["ReadWarc", "FirstPass", "CodeClassifier", "ExtractCodePage", "LangId", "Quality", "CodeLang", "Scrub",
              "Decontaminate", "ExactDedup", "MinHashDedup", "Balance", "WriteSeeds"]
    assert job["stages_run"] == stages
    funnel = {s["stage"]: s for s in job["funnel"]}
    for stage in funnel.values():
        assert stage["in"] == stage["kept"] + sum(stage["dropped"].values()), stage
    for before, after in itertools.pairwise(stages):
        assert funnel[before]["kept"] == funnel[after]["in"], (before, after)
    assert funnel["CodeClassifier"]["dropped"]["not_code"] > 10
    rows = sum(s["rows"] for s in job["outputs"]["seeds"])
    assert rows == funnel["WriteSeeds"]["kept"] == pq.read_table(out / "seeds").num_rows
    dropped = pq.read_table(out / "dropped" / "seeds")
    # every drop has an audit row, except request/metadata records: counted, written only with --audit_non_responses
    not_response = funnel["ReadWarc"]["dropped"]["not_response"]
    assert not_response > 0 and "not_response" not in set(dropped.column("reason").to_pylist())
    assert dropped.num_rows == sum(sum(s["dropped"].values()) for s in job["funnel"]) - not_response
    assert manifest["config"]["output"]["seeds_num_shards"] == 4
    assert manifest["versions"]["packages"]["apache-beam"] == "2.77.0"
    assert job["tokens"]["text_words"] > 0


def test_manifest_checksums_match_the_shards(seeds_run):
    out, _ = seeds_run
    manifest = json.loads((out / "manifest.json").read_text())
    for shard in manifest["shards"]["seeds"]:
        assert hashlib.sha256((out / shard["path"]).read_bytes()).hexdigest() == shard["sha256"]


def test_funnel_table_progress_and_synth_instructions_are_printed(seeds_run):
    _, proc = seeds_run
    assert "seeds funnel" in proc.stdout and "not_response" in proc.stdout
    assert "progress ReadWarc" in proc.stderr or "progress Extract" in proc.stderr
    assert "synth: skipped, no LLM was given" in proc.stdout
    # the printed command can be pasted as it is: it names this interpreter, the venv need not be active
    command = next(line for line in proc.stdout.splitlines() if "synth --output" in line and "--llm_endpoint" in line)
    words = shlex.split(command)
    assert words[1:4] == ["-m", "pipeline", "synth"]
    assert subprocess.run([*words[:4], "--help"], cwd=REPO, capture_output=True, timeout=120).returncode == 0


def test_by_default_only_our_lines_reach_the_console(seeds_run):
    """Progress lines and our summaries; no Beam harness INFO, no worker start-up noise, no apitools warning."""
    _, proc = seeds_run
    lines = proc.stderr.splitlines()
    assert any(" INFO syncode.progress: progress " in line for line in lines)
    others = [line for line in lines if not re.match(r"^\S+ \S+ (INFO|WARNING|ERROR) syncode(\.\w+)*: ", line)]
    assert others == []


def test_readme_funnel_is_this_run_of_the_sample(seeds_run):
    """The README shows the funnel a user gets from ./run_pipeline.sh; when a change moves it, paste the new one."""
    _, proc = seeds_run
    printed = proc.stdout.split("seeds funnel (", 1)[1].split("\n", 1)[1].split("\n\n", 1)[0].strip("\n")
    readme = (REPO / "README.md").read_text()
    shown = readme.split("<!-- sample funnel: -->\n```\n", 1)[1].split("```", 1)[0].strip("\n")
    assert shown == printed, "README.md's sample funnel is stale; replace it with:\n" + printed
