"""What trainers and maintainers rely on: every reader opens the output, verify catches damage, shards regenerate
alone, a killed run resumes cleanly."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.verify_output import verify_output
from tests.conftest import REPO

SAMPLE = str(REPO / "sample/warc/*.warc.gz")


def _seeds(out: Path, *extra: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", "seeds", "--input", SAMPLE, "--output", str(out), *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def seeds_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("contract") / "out"
    proc = _seeds(out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture
def copy_of(seeds_out, tmp_path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(seeds_out, dst)
    return dst


def test_every_trainer_reader_opens_the_shards(seeds_out):
    import datasets
    import duckdb
    import polars as pl
    import pyarrow.dataset as ds

    rows = sum(s["rows"] for s in json.loads((seeds_out / "manifest.json").read_text())["shards"]["seeds"])
    assert ds.dataset(seeds_out / "seeds", format="parquet").count_rows() == rows
    assert duckdb.sql(f"select count(*) from read_parquet('{seeds_out}/seeds/*.parquet')").fetchall()[0][0] == rows
    assert pl.scan_parquet(f"{seeds_out}/seeds/*.parquet").select(pl.len()).collect().item() == rows
    hf = datasets.load_dataset("parquet", data_dir=str(seeds_out / "seeds"), split="train",
                               cache_dir=str(seeds_out.parent / "hf-cache"))
    assert hf.num_rows == rows and "text" in hf.column_names


def test_dataset_card_has_front_matter_and_funnel(seeds_out):
    card = (seeds_out / "README.md").read_text()
    assert card.startswith("---\n") and "configs:" in card and "path: seeds/train-*.parquet" in card
    assert "## Funnel" in card and "ReadWarc" in card


def test_verify_passes_on_a_fresh_output(seeds_out):
    assert verify_output(str(seeds_out)) == []
    proc = subprocess.run([sys.executable, "-m", "pipeline", "verify", str(seeds_out)], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "OK" in proc.stdout


def test_verify_catches_a_changed_byte(copy_of):
    shard = sorted((copy_of / "seeds").glob("train-*.parquet"))[1]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    problems = verify_output(str(copy_of))
    assert any("sha256 does not match" in p for p in problems)
    proc = subprocess.run([sys.executable, "-m", "pipeline", "verify", str(copy_of)], cwd=REPO, capture_output=True)
    assert proc.returncode == 1


def test_verify_reports_an_unreadable_shard_instead_of_crashing(copy_of):
    shard = sorted((copy_of / "seeds").glob("train-*.parquet"))[0]
    shard.write_bytes(shard.read_bytes()[:100])
    problems = verify_output(str(copy_of))
    assert any("cannot be read as Parquet" in p for p in problems)


def test_verify_catches_a_missing_shard_and_an_unlisted_one(copy_of):
    shards = sorted((copy_of / "seeds").glob("train-*.parquet"))
    shards[0].rename(copy_of / "seeds" / "train-00000-of-00009.parquet")
    problems = verify_output(str(copy_of))
    assert any("missing" in p for p in problems)
    assert any("not in the manifest" in p for p in problems)


def test_verify_catches_duplicate_ids_and_wrong_counts(copy_of):
    import pyarrow as pa
    import pyarrow.parquet as pq

    manifest = json.loads((copy_of / "manifest.json").read_text())
    a, b = (copy_of / s["path"] for s in manifest["shards"]["seeds"][:2])
    doubled = pa.concat_tables([pq.read_table(b), pq.read_table(a).slice(0, 1)])
    pq.write_table(doubled, b, compression="zstd")
    problems = verify_output(str(copy_of))
    assert any("duplicate id" in p for p in problems)
    assert any("rows, manifest says" in p for p in problems)


def test_inspect_writes_plots_and_html(seeds_out, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pipeline", "inspect", str(seeds_out), "--report_dir",
                           str(tmp_path / "r")], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "seeds.domain" in proc.stdout and "sample row" in proc.stdout
    assert (tmp_path / "r" / "seeds-domain.png").read_bytes()[:4] == b"\x89PNG"
    assert "<img src='data:image/png;base64," in (tmp_path / "r" / "index.html").read_text()


def test_regenerating_one_shard_leaves_the_others_byte_identical(copy_of):
    shards = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in (copy_of / "seeds").glob("*.parquet")}
    proc = _seeds(copy_of, "--only_shards", "1", "--set", "extract.min_text_chars=3000")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for p in (copy_of / "seeds").glob("*.parquet"):
        same = (p.stat().st_mtime_ns, p.read_bytes()) == shards[p.name]
        assert same == (not p.name.startswith("train-00001")), p.name
    manifest = json.loads((copy_of / "manifest.json").read_text())
    assert manifest["jobs"]["seeds"]["regenerations"][0]["only_shards"] == [1]
    assert verify_output(str(copy_of)) == []


def test_a_killed_run_resumes_without_duplicates(tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "seeds", "--input", SAMPLE, "--output", str(out)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(4)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    (out / "seeds").mkdir(parents=True, exist_ok=True)
    (out / "seeds" / ".tmp-deadbeef-train-00000-of-00004.parquet").write_bytes(b"PAR1 half a shard")
    rerun = _seeds(out)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert verify_output(str(out)) == []  # includes: no duplicate ids, rows = what the writer kept
    assert not list((out / "seeds").glob(".tmp-*"))
