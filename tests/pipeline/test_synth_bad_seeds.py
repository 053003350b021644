"""`python -m pipeline synth` given a truncated and a garbage seed Parquet beside a good one: each bad file is
counted as unreadable, named on one log line and in the audit, and the job goes on with the good seeds."""

from __future__ import annotations

import subprocess
import sys

import pyarrow.parquet as pq

from tests.conftest import DATA, REPO
from tests.fault_server import FaultServer


def test_synth_counts_corrupt_seed_files_as_unreadable_and_goes_on(tmp_path):
    real = (DATA / "seeds" / "train-00000-of-00001.parquet").read_bytes()
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "train-00000-of-00003.parquet").write_bytes(real)
    truncated = seeds / "train-00001-of-00003.parquet"
    truncated.write_bytes(real[: len(real) // 2])
    garbage = seeds / "train-00002-of-00003.parquet"
    garbage.write_bytes(bytes(range(256)) * 40)
    out = tmp_path / "out"
    with FaultServer() as server:
        proc = subprocess.run([sys.executable, "-m", "pipeline", "synth", "--output", str(out), "--seeds", str(seeds),
                               "--llm_endpoint", server.url], cwd=REPO, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert "Traceback" not in log
    for path in (truncated, garbage):
        assert sum(str(path) in line and "unreadable" in line for line in log.splitlines()) == 1, path
    assert "  - unreadable" in proc.stdout
    dropped = pq.read_table(out / "dropped" / "synth").to_pylist()
    assert sorted(d["url"] for d in dropped if d["stage"] == "ReadSeeds") == [str(truncated), str(garbage)]
    assert pq.read_table(out / "data").num_rows > 0
