"""bench/seeds.py runs as bench/README.md says: a smoke run on the bundled sample, splits that keep tuning apart from
reporting, hand labels for the code-tag pages, and peers that stall or fail to extract reported as such."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap

import pytest
from warcio.warcwriter import WARCWriter

from bench.seeds import labelled_pages
from bench.seeds_peers import peer_verdict, run_limited
from bench.shared_pages import LABELS, read_page_labels, split_of
from tests.conftest import REPO

_SOUND = {"pages": 4, "kept": 1, "cpu_s": 2.0, "wall_s": 2.0,
          "stats": {"Trafilatura": {"total": 4, "extracted": 4}, "LanguageFilter": {"total": 4, "forwarded": 2}}}


def _bench(tmp_path, *args: str, peer: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, SYNCODE_SHARED_DATA=str(tmp_path / "shared"),
               SYNCODE_PEER_PYTHON=peer or str(tmp_path / "no-peer"))
    env.pop("PYTHONPATH", None)  # as bench/README.md runs it: `python bench/seeds.py`, nothing on the path
    return subprocess.run([sys.executable, str(REPO / "bench" / "seeds.py"), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def _result(proc: subprocess.CompletedProcess) -> dict[str, str]:
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT "), proc.stdout[-2000:] + proc.stderr[-2000:]
    return dict(kv.split("=", 1) for kv in last.split()[1:])


def test_without_shared_data_it_says_so(tmp_path):
    proc = _bench(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "shared data not found" in proc.stdout and _result(proc) == {"skipped": "shared_data_missing"}


def test_smoke_measures_ours_and_reports_a_stalled_peer_as_a_stall(tmp_path):
    """The plain peer answers, the prefiltered one (it gets the code model's path) hangs past its limit."""
    peer = tmp_path / "fake-peer"
    peer.write_text(f"#!{sys.executable}\n" + textwrap.dedent(f"""\
        import json, sys, time
        if len(sys.argv) > 4:
            time.sleep(120)
        print(json.dumps({_SOUND!r}))
        """))
    peer.chmod(0o755)
    proc = _bench(tmp_path, "--smoke", "--peer_timeout_s", "5", peer=str(peer))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = _result(proc)
    assert result["speedup_vs_datatrove_prefiltered"] == "stall"
    assert result["datatrove_prefiltered_pages_per_s"] == "stall"
    assert result["datatrove_pages_per_s"] == "2.0" and float(result["speedup_vs_datatrove"]) > 0
    # the sample's Debian pages are code, its trafilatura-eval pages are not: the cascade keeps only the former
    assert result["cascade_recall_smoke"] == "1.0000" and result["cascade_precision_smoke"] == "1.0000"
    assert float(result["pages_per_s"]) > 0


def test_without_the_peer_it_still_measures_ours(tmp_path):
    proc = _bench(tmp_path, "--smoke")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = _result(proc)
    assert result["speedup_vs_datatrove"] == result["speedup_vs_datatrove_prefiltered"] == "peer_missing"
    assert float(result["pages_per_s"]) > 0


def test_a_peer_past_its_limit_gives_no_result(tmp_path):
    assert run_limited([sys.executable, "-c", "import time; time.sleep(60)"], 1) is None
    assert run_limited([sys.executable, "-c", "print('{\"pages\": 3}')"], 60) == {"pages": 3}


@pytest.mark.parametrize(("run", "verdict"), [
    (_SOUND, ""),
    (None, "stall: no result within 30 s"),
    ({**_SOUND, "stats": {"Trafilatura": {"total": 4, "timeout": 4}}},
     "stall: 4 of 4 pages timed out or broke the extractor, 0 extracted"),
    ({**_SOUND, "stats": {"Trafilatura": {"total": 40, "extracted": 30, "timeout": 5, "broken_process": 5}}},
     "stall: 10 of 40 pages timed out or broke the extractor, 30 extracted"),
    ({**_SOUND, "stats": {}}, "stall: the extractor saw none of 4 pages"),
    # the prefilter dropped every page: nothing to extract is no stall
    ({**_SOUND, "stats": {"FastTextClassifierFilter": {"total": 4, "dropped": 4}}}, ""),
])
def test_peer_verdict(run, verdict):
    assert peer_verdict(run, 30) == verdict


def test_split_is_stable_and_keeps_trained_pages_out():
    urls = [f"https://example.org/page/{n}" for n in range(400)]
    splits = [split_of(url, trained_on=False) for url in urls]
    assert splits == [split_of(url, trained_on=False) for url in urls]
    assert set(splits) == {"tune", "report"} and 150 < splits.count("report") < 250
    assert {split_of(url, trained_on=True) for url in urls} == {"train"}


def test_the_shipped_labels_read_every_code_tag_page_with_a_reason():
    labels = read_page_labels()
    assert len(labels) == 37
    assert sorted(label for label, _ in labels.values()).count("code") == 19
    assert all(reason.strip() for _, reason in labels.values())


def test_a_label_row_without_a_reason_is_an_error(tmp_path):
    bad = tmp_path / "labels.tsv"
    bad.write_text("# note\nhttps://a.example/\tcode\t\n")
    with pytest.raises(ValueError, match="labels.tsv:2"):
        read_page_labels(bad)
    assert (LABELS / "noncode_with_code_tags.tsv").is_file()


def _warc(path, pages: dict[str, str]) -> str:
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for url, html in pages.items():
            from warcio.statusandheaders import StatusAndHeaders

            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(html.encode()),
                                                          http_headers=headers))
    return str(path)


def test_code_tag_negatives_take_their_hand_label_and_unlabelled_ones_are_counted(tmp_path):
    body = "<p>" + "Words about the subject of the page. " * 30 + "</p>"
    negatives = _warc(tmp_path / "neg.warc.gz", {
        "https://blog.example/tmux": f"<html><body>{body}<pre>set -g mouse on</pre></body></html>",
        "https://news.example/result": f"<html><body>{body}<pre>1. Smith 53,09 sec</pre></body></html>",
        "https://news.example/unread": f"<html><body>{body}<code>x</code></body></html>",
        "https://news.example/plain": f"<html><body>{body}</body></html>"})
    labels = {"https://blog.example/tmux": ("code", "tmux config"), "https://news.example/result": ("other", "table")}
    card = {"holdout": {"fraction": 0.0, "salt": "holdout-v1"}}  # nothing held out: every plain page was trained on
    unlabelled: list[str] = []
    pages = list(labelled_pages([(negatives, "other")], card, labels, "all", None, unlabelled))
    got = {(url, label, hand) for url, _, label, _, hand in pages}
    assert got == {("https://blog.example/tmux", "code", True), ("https://news.example/result", "other", True),
                   ("https://news.example/plain", "other", False)}
    assert unlabelled == ["https://news.example/unread"]
    by_split = {url: split_of(url, trained_on=False) for url in labels}
    report = list(labelled_pages([(negatives, "other")], card, labels, "report", None, []))
    # the trained plain page is in no reported split; hand-labelled ones follow the hash
    assert {url for url, *_ in report} == {url for url, split in by_split.items() if split == "report"}
