"""bench/dedup.py runs as bench/README.md says: its truth comes from the planting, its smoke run measures our whole
dedup job on the bundled pages, and a peer that stalls or writes too little gets no ratio."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench import dedup as bench_dedup
from bench.dedup_corpus import Planted, build_corpus, doc_metrics, fixture_pages, plant_copy, planted_kind
from tests.conftest import REPO


def _bench(tmp_path, *args: str, peer: str = "/nonexistent/python") -> subprocess.CompletedProcess:
    env = dict(os.environ, SYNCODE_SHARED_DATA=str(tmp_path / "shared"), PYTHONPATH=str(REPO),
               SYNCODE_PEER_PYTHON=peer)
    return subprocess.run([sys.executable, str(REPO / "bench" / "dedup.py"), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def _result(proc: subprocess.CompletedProcess) -> dict[str, str]:
    last = proc.stdout.splitlines()[-1]
    assert last.startswith("RESULT "), proc.stdout + proc.stderr
    return dict(kv.split("=") for kv in last.split()[1:])


def _fake_peer(tmp_path, body: str) -> str:
    """A stand-in for the peer interpreter: a shell script called as `python peer.py DOCS WORK OUT`."""
    path = tmp_path / "fake-python"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


def _word_5gram_jaccard(a: str, b: str) -> float:
    def grams(text: str) -> set[tuple[str, ...]]:
        words = text.split()
        return {tuple(words[i:i + 5]) for i in range(len(words) - 4)}

    x, y = grams(a), grams(b)
    return len(x & y) / len(x | y)


def test_the_truth_is_the_edit_rate():
    assert [planted_kind(r) for r in (0.003, 0.02, 0.021, 0.049, 0.05, 0.15)] == [
        "duplicate", "duplicate", "boundary", "boundary", "distinct", "distinct"]
    text = fixture_pages()[0]
    copy, rate = plant_copy(text, 0.01, seed=3)
    assert rate == round(0.01 * len(text.split())) / len(text.split()) and copy != text
    assert plant_copy("one two three", 0.001, seed=1)[1] == 1 / 3  # at least one edit


def test_the_documented_bounds_hold_on_the_bundled_pages():
    """<= 2% edits keeps word 5-gram Jaccard >= 0.8 wherever the edits fall; >= 5% at random positions falls below."""
    docs, planted = build_corpus(fixture_pages(), 8, 12)
    text = dict(docs)
    for cid, p in planted.items():
        j = _word_5gram_jaccard(text[p.original], text[cid])
        if p.kind == "duplicate":
            assert j >= 0.8, (cid, p, j)
        elif p.kind == "distinct":
            assert j < 0.8, (cid, p, j)


def test_doc_metrics_score_the_planted_families_only():
    planted = {"a-c0": Planted("a", 0.01, "duplicate"), "a-c1": Planted("a", 0.01, "duplicate"),
               "a-c2": Planted("a", 0.1, "distinct"), "a-c3": Planted("a", 0.03, "boundary"),
               "b-c0": Planted("b", 0.005, "duplicate")}
    m = doc_metrics({"a-c0", "a-c2", "a-c3", "other"}, planted)
    assert (m["precision"], m["recall"]) == (0.5, 1 / 3)  # a-c2 wrongly removed; 1 of 3 duplicates removed
    assert (m["distinct_removed"], m["boundary_removed"], m["unjudged_removed"]) == (1, 1, 1)
    # Removing the original instead of its copy is as good; removing a whole group counts at most its copies.
    m = doc_metrics({"a", "a-c0", "a-c1", "b"}, planted)
    assert (m["precision"], m["recall"]) == (1.0, 1.0)


def test_without_shared_data_it_says_so(tmp_path):
    proc = _bench(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "shared data not found" in proc.stdout and proc.stdout.splitlines()[-1] == "RESULT skipped=1"


def test_smoke_runs_our_whole_job_and_reports_a_stalled_peer_as_a_stall(tmp_path):
    proc = _bench(tmp_path, "--smoke", "--peer_timeout_s", "3", peer=_fake_peer(tmp_path, "sleep 120"))
    assert proc.returncode == 0, proc.stderr
    result = _result(proc)
    assert result["docs"] == "72"
    assert float(result["doc_precision_planted"]) >= 0.95 and float(result["doc_recall_planted"]) >= 0.95
    assert float(result["end_to_end_cpu_s"]) > 0 and float(result["end_to_end_wall_s"]) > 0
    assert "datatrove peer STALLED" in proc.stdout and result["datatrove_stalled"] == "1"
    assert "end_to_end_speedup_vs_datatrove" not in result and "speedup_vs_datatrove" not in result


def test_a_peer_that_kept_nothing_gets_no_ratio(tmp_path, monkeypatch, capsys):
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "a", "text": "x"}) + "\n")
    out = {"docs": 1, "kept": [], "written": 0, "pairs": []}
    monkeypatch.setenv("SYNCODE_PEER_PYTHON", _fake_peer(tmp_path, f"echo '{json.dumps(out)}' > \"$4\""))
    assert bench_dedup.run_datatrove(docs, tmp_path, 1, 30) is None
    assert "not whole" in capsys.readouterr().out
