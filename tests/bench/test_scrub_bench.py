"""bench/scrub_false_positives.py runs as bench/README.md says: on extracted pages it lists and counts, per half."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO


def _bench(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SYNCODE_SHARED_DATA=str(tmp_path / "shared"), PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, str(REPO / "bench" / "scrub_false_positives.py"), *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)


def test_without_shared_data_it_says_so(tmp_path):
    proc = _bench(tmp_path, "--cache", str(tmp_path / "pages.jsonl"))
    assert proc.returncode == 0, proc.stderr
    assert "shared data not found" in proc.stdout and proc.stdout.splitlines()[-1] == "RESULT skipped=1"


def test_on_extracted_pages_it_counts_every_replacement_per_half(tmp_path):
    (tmp_path / "shared" / "warc").mkdir(parents=True)
    secret = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzQ8rT5vW2kHn"
    pages = [{"half": "tune", "source": "a", "url": "https://a.example/", "title": "AWS",
              "text": f'```ini\naws_secret_access_key = "{secret}"\n```'},
             {"half": "report", "source": "b", "url": "https://b.example/", "title": "Login",
              "text": "```python\npassword = os.environ['PASSWORD']\n```"}]
    cache = tmp_path / "pages.jsonl"
    cache.write_text("".join(json.dumps(p) + "\n" for p in pages))
    proc = _bench(tmp_path, "--cache", str(cache), "--list", str(tmp_path / "list.jsonl"))
    assert proc.returncode == 0, proc.stderr
    result = dict(kv.split("=") for kv in proc.stdout.splitlines()[-1].split()[1:])
    assert (result["pages"], result["tune_replacements"], result["report_replacements"]) == ("2", "1", "0")
    listed = [json.loads(line) for line in (tmp_path / "list.jsonl").read_text().splitlines()]
    assert [(r["half"], r["match"]) for r in listed] == [("tune", secret)]


def test_smoke_as_a_script_from_anywhere(tmp_path):
    """`python bench/scrub_false_positives.py --smoke`: the bundled pages, extracted afresh, split into both halves."""
    from tests.bench.bench_run import documented_keys, result, run_bench

    proc = run_bench([str(REPO / "bench" / "scrub_false_positives.py"), "--smoke"], cwd=tmp_path)
    keys = result(proc)
    assert list(keys)[:3] == documented_keys("pages tune_replacements")[:3]
    assert keys["pages"] == "10" and "tune 6, report 4" in proc.stdout
