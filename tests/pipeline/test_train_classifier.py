"""train-classifier and recall on the bundled real sample: Debian docs as positives, news pages as negatives."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipeline.classifier_data import CODE, OTHER, UrlRules, is_held_out, parse_label, read_domain_list, read_examples
from pipeline.cli import main
from pipeline.train_classifier import metrics_at
from tests.conftest import REPO
from transforms.code_classifier import code_probability
from transforms.model_files import load_fasttext

DOCS = str(REPO / "sample/warc/debian-docs-sample.warc.gz")
NEWS = str(REPO / "sample/warc/trafilatura-eval-sample.warc.gz")
def _train(args: list[str]) -> int:
    """Train in a fresh process, as users run it: fastText's trainer hit "Encountered NaN" on every seed when it ran
    in the same process right after an in-process Beam pipeline (tests/dedup/test_components.py)."""
    proc = subprocess.run([sys.executable, "-m", "pipeline", "train-classifier", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    print(proc.stdout[-3000:], proc.stderr[-3000:])
    return proc.returncode


FAST = ["--dim", "16", "--epoch", "10", "--bucket", "20000", "--threads", "1", "--min_count", "1"]


def test_url_rules_match_subdomains_and_regexes():
    rules = UrlRules(positive_domains=frozenset({"python.org"}), negative_domains=frozenset({"news.example"}),
                     negative_url_regex=r"/sport/")
    assert rules.label("https://docs.python.org/3/") == CODE
    assert rules.label("https://www.news.example/a") == OTHER
    assert rules.label("https://x.org/sport/1") == OTHER
    assert rules.label("https://x.org/a") is None


def test_labels_and_domain_lists_parse(tmp_path):
    assert [parse_label(v) for v in (1, "true", "code", 0, "other", "maybe")] == [CODE, CODE, CODE, OTHER, OTHER,
                                                                                 None]
    listing = tmp_path / "d.txt"
    listing.write_text("# comment\nwww.Rust-Lang.org\t12\t0.9\n\ndocs.python.org\n")
    assert read_domain_list(str(listing)) == {"rust-lang.org", "docs.python.org"}


def test_holdout_is_a_stable_hash_split():
    urls = [f"https://x.org/{i}" for i in range(2000)]
    held = [u for u in urls if is_held_out(u, 0.2)]
    assert held == [u for u in urls if is_held_out(u, 0.2)] and 300 < len(held) < 500


def test_metrics_at_threshold():
    assert metrics_at([0.9, 0.8, 0.2, 0.6], [True, True, True, False], 0.5) == {
        "threshold": 0.5, "n": 4, "tp": 2, "fp": 1, "fn": 1, "tn": 0, "precision": 0.6667, "recall": 0.6667,
        "f1": 0.6667}


def test_jsonl_with_labels_and_rules(tmp_path):
    rows = tmp_path / "pages.jsonl"
    rows.write_text("\n".join(json.dumps(r) for r in [
        {"url": "https://a.org/1", "text": "def f(): pass", "label": 1},
        {"url": "https://b.org/1", "html": "<p>hello there</p>"},
        {"url": "https://c.org/1", "text": "nothing", "label": "?"}]) + "\n")
    rules = UrlRules(negative_domains=frozenset({"b.org"}))
    found = [(e.url, e.label, e.text) for e in read_examples(str(rows), None, rules)]
    assert found == [("https://a.org/1", CODE, "def f(): pass"), ("https://b.org/1", OTHER, "hello there")]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("model")
    model = out / "code.ftz"
    code = _train(["--positives", DOCS, "--negatives", NEWS, "--skip_negatives_with_code_tags",
                   "--holdout_fraction", "0.3", "--cutoff", "5000", "--dsub", "2", "--output", str(model), *FAST])
    assert code == 0
    return model


def test_train_writes_model_card_and_heldout_list(trained):
    card = json.loads(trained.with_name("code.card.json").read_text())
    held = [json.loads(line) for line in trained.with_name("code.heldout.jsonl").read_text().splitlines()]
    assert card["parameters"]["dim"] == 16 and card["parameters"]["quantized"]
    assert {s["role"] for s in card["data"]["sources"]} == {"positives", "negatives"}
    assert card["data"]["sources"][1]["skipped_code_tag_negatives"] == 3
    assert len(held) == sum(card["data"]["heldout"].values()) > 0
    assert all(is_held_out(h["url"], 0.3) for h in held)
    metrics = card["metrics"]["heldout"]
    assert metrics["n"] == len(held) and metrics["tp"] + metrics["fn"] == card["data"]["heldout"]["code"]
    assert metrics["recall"] >= 0.8  # Debian docs and news pages are easy to tell apart even for a tiny model
    model = load_fasttext(str(trained))
    assert code_probability(model, "fn main() { let x = vec![1, 2]; println!(\"{:?}\", x); }") > 0.5


def test_defaults_follow_the_deepseekmath_recipe():
    import argparse

    from pipeline.train_classifier import add_flags

    parser = argparse.ArgumentParser()
    add_flags(parser)
    ns = parser.parse_args(["--output", "m.ftz"])
    assert (ns.dim, ns.lr, ns.word_ngrams, ns.min_count, ns.epoch) == (256, 0.1, 3, 3, 3)


def test_missing_class_is_a_usage_error(tmp_path, capsys):
    assert main(["train-classifier", "--positives", DOCS, "--output", str(tmp_path / "m.bin"), *FAST]) == 2
    assert "needs both code and other pages" in capsys.readouterr().out


def test_recall_lists_code_domains_and_retraining_uses_them(trained, tmp_path):
    out = tmp_path / "recall"
    assert main(["recall", "--input", DOCS, "--input", NEWS, "--output", str(out), "--code_model", str(trained),
                 "--domain_share", "0.5", "--min_pages", "2"]) == 0
    scores = [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]
    assert len(scores) == 56 + 30
    domains = read_domain_list(str(out / "positive_domains.txt"))
    assert "doc.rust-lang.org" in domains
    news_domains = {s["domain"] for s in scores if "trafilatura" in s["url"] or s["domain"].endswith(".de")}
    assert not domains & news_domains
    header, *rows = (out / "domains.tsv").read_text().splitlines()
    assert header == "domain\tpages\thigh\tshare" and len(rows) == len({s["domain"] for s in scores})
    model = tmp_path / "round2.bin"
    assert _train(["--unlabeled", DOCS, "--positive_domains", str(out / "positive_domains.txt"),
                   "--negatives", NEWS, "--output", str(model), *FAST]) == 0
    card = json.loads(model.with_name("round2.card.json").read_text())
    (unlabeled,) = [s for s in card["data"]["sources"] if s["role"] == "unlabeled"]
    assert unlabeled["code"] > 0 and unlabeled["other"] == 0  # only the rule-matched Debian pages were used
