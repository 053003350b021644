"""bench/extract.py runs as bench/README.md writes it, and reports a datatrove peer that did not run as such."""

from __future__ import annotations

import sys

import pytest

from tests.bench.bench_run import documented_keys, result, run_bench
from tests.conftest import REPO

SCRIPT = str(REPO / "bench" / "extract.py")


def test_smoke_as_a_script_from_anywhere(tmp_path):
    """`python bench/extract.py --smoke` from another directory: the documented keys, measured on the bundled pages."""
    proc = run_bench([SCRIPT, "--smoke"], cwd=tmp_path, SYNCODE_PEER_PYTHON=str(tmp_path / "no-peer"))
    keys = result(proc)
    assert list(keys) == documented_keys("code_fidelity")
    assert (keys["pages_debian"], keys["pages_eval"], keys["datatrove_status"]) == ("6", "4", "skipped")
    assert keys["datatrove_code_fidelity"] == "nan"
    assert 0 < float(keys["code_fidelity"]) <= 1 and 0 < float(keys["article_f1"]) <= 1
    assert "tests/data/bench/shared" in proc.stdout


def test_smoke_as_a_module(tmp_path):
    proc = run_bench(["-m", "bench.extract", "--smoke", "--no-datatrove"], cwd=REPO)
    assert result(proc)["datatrove_status"] == "skipped"


def _fake_peer(tmp_path, body: str):
    """A stand-in for the peer interpreter: ignores the script it is given and runs `body` on the pages."""
    peer = tmp_path / "peer-python"
    peer.write_text(f"#!{sys.executable}\nimport json, sys, time\n{body}\n")
    peer.chmod(0o755)
    return peer


PAGES = [{"html": "<html><body><pre>a = 1\nb = 2</pre></body></html>"}, {"html": "<p>prose</p>"}]


@pytest.mark.parametrize(("body", "status"), [
    # trafilatura fails to import inside the peer (lxml_html_clean missing): every page empty, each with its error
    ("for line in sys.stdin:\n    print(json.dumps({'text': '', 'seconds': 0.0,"
     " 'error': 'ImportError: lxml.html.clean module is now a separate project lxml_html_clean'}), flush=True)",
     "no_text"),
    ("time.sleep(60)", "stall"),
    ("sys.exit('datatrove is not installed')", "failed"),
])
def test_a_peer_that_did_not_extract_gets_no_figure(tmp_path, monkeypatch, body, status):
    from bench.extract import run_datatrove

    monkeypatch.setenv("SYNCODE_PEER_PYTHON", str(_fake_peer(tmp_path, body)))
    run = run_datatrove(PAGES, timeout_s=3)
    assert (run.status, run.texts) == (status, None)


def test_a_peer_that_extracted_gets_its_texts(tmp_path, monkeypatch):
    from bench.extract import run_datatrove

    body = ("for line in sys.stdin:\n    html = json.loads(line)['html']\n"
            "    print(json.dumps({'text': html, 'seconds': 0.5, 'error': ''}), flush=True)")
    monkeypatch.setenv("SYNCODE_PEER_PYTHON", str(_fake_peer(tmp_path, body)))
    run = run_datatrove(PAGES, timeout_s=30)
    assert (run.status, run.texts, run.seconds) == ("ok", [p["html"] for p in PAGES], 1.0)
