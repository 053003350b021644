"""`python -m pipeline train-classifier`: train the fastText code-relatedness model, score it, write it with a card.

Defaults follow the DeepSeekMath recall recipe (dim 256, lr 0.1, wordNgrams 3, minCount 3, 3 epochs). Pages are
split by a hash of their URL into training and held-out sets; precision and recall on the held-out set go into the
card next to the model, with the data, parameters and the split rule.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ledger.files import file_sha256
from pipeline.classifier_data import (
    CODE,
    OTHER,
    DataError,
    Example,
    UrlRules,
    dedup_examples,
    expand_paths,
    is_held_out,
    read_domain_list,
    read_examples,
)
from pipeline.errors import EXIT_OK, EXIT_USAGE
from transforms.code_classifier import CODE_LABEL, OTHER_LABEL, classifier_text, code_probability

_LOG = logging.getLogger("syncode.train")
CARD_SUFFIX = ".card.json"
HELDOUT_SUFFIX = ".heldout.jsonl"


def add_flags(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group(
        "data", "Pages: .warc.gz, .parquet, .jsonl(.gz) with url and html or text (and label), or a .tar.gz of HTML "
        "files. Repeatable, globs and commas work.")
    data.add_argument("--positives", action="append", default=[], help="Files whose pages are all code-related.")
    data.add_argument("--negatives", action="append", default=[], help="Files whose pages are all not code-related.")
    data.add_argument("--labeled", action="append", default=[],
                      help="Parquet/JSONL with a label column (code/other, 1/0, true/false).")
    data.add_argument("--unlabeled", action="append", default=[],
                      help="Files labelled by the URL/domain rules below; pages no rule matches are skipped.")
    data.add_argument("--positive_domains", default=None,
                      help="File of domains (one per line, e.g. recall's positive_domains.txt) whose pages are code.")
    data.add_argument("--negative_domains", default=None, help="File of domains whose pages are not code.")
    data.add_argument("--positive_url_regex", default="", help="URLs matching this regex are code-related.")
    data.add_argument("--negative_url_regex", default="", help="URLs matching this regex are not.")
    data.add_argument("--tar_base_url", default="",
                      help="URL prefix for pages read from a tarball (default: file://TARNAME/).")
    data.add_argument("--skip_negatives_with_code_tags", action="store_true",
                      help="Leave out negatives whose HTML has <pre> or <code> (a mixed crawl's code pages).")
    out = parser.add_argument_group("output")
    out.add_argument("--output", required=True,
                     help="Model path: .ftz is quantized (small), .bin is full. The card goes to MODEL.card.json "
                     "and the held-out pages to MODEL.heldout.jsonl.")
    train = parser.add_argument_group("training")
    train.add_argument("--dim", type=int, default=256)
    train.add_argument("--lr", type=float, default=0.1)
    train.add_argument("--word_ngrams", type=int, default=3)
    train.add_argument("--min_count", type=int, default=3)
    train.add_argument("--epoch", type=int, default=3)
    train.add_argument("--bucket", type=int, default=2_000_000, help="Hash buckets for word n-grams.")
    train.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--max_chars", type=int, default=30000, help="Characters of each page the model reads.")
    train.add_argument("--balance_classes", action="store_true",
                       help="Repeat the smaller class's pages until both classes are the same size.")
    train.add_argument("--holdout_fraction", type=float, default=0.2, help="Share of pages held out (by URL hash).")
    train.add_argument("--holdout_salt", default="holdout-v1", help="Changes which pages are held out.")
    train.add_argument("--threshold", type=float, default=0.5, help="Score at which precision/recall are reported.")
    train.add_argument("--cutoff", type=int, default=50000, help="Quantization: keep this many words and n-grams.")
    train.add_argument("--dsub", type=int, default=4, help="Quantization: dimensions per product-quantizer code.")


def fasttext_line(example: Example, max_chars: int) -> str:
    return f"{CODE_LABEL if example.label == CODE else OTHER_LABEL} {classifier_text(example.text, max_chars)}\n"


def training_lines(examples: list[Example], max_chars: int, balance: bool, seed: int) -> list[str]:
    """fastText lines in a seeded random order; with `balance`, the smaller class repeated up to the larger's size."""
    import random

    by_label: dict[str, list[str]] = {CODE: [], OTHER: []}
    for example in examples:
        by_label[example.label].append(fasttext_line(example, max_chars))
    if balance:
        big = max(len(v) for v in by_label.values())
        for label, lines in by_label.items():
            if lines:
                by_label[label] = [lines[i % len(lines)] for i in range(big)]
    lines = by_label[CODE] + by_label[OTHER]
    random.Random(seed).shuffle(lines)
    return lines


def train_with_retries(fasttext, train_file: str, params: dict[str, Any], tries: int = 5):
    """fastText's trainer sometimes stops with "Encountered NaN" on the same data that trains fine on a rerun
    (seen with fasttext-numpy2 0.10.4); try again with the next seed, and record the seed that trained."""
    for attempt in range(tries):
        try:
            return fasttext.train_supervised(input=train_file, verbose=0, **params)
        except RuntimeError as exc:
            if "NaN" not in str(exc) or attempt == tries - 1:
                raise
            _LOG.warning("fastText: %s with seed %d; retrying with seed %d", exc, params["seed"], params["seed"] + 1)
            params["seed"] += 1
    raise AssertionError("unreachable")


def evaluate(model, examples: list[Example], threshold: float, max_chars: int) -> dict[str, Any]:
    """Precision, recall and F1 of the code label, with the same scoring function the pipeline uses."""
    scores = [code_probability(model, e.text, max_chars) for e in examples]
    return metrics_at(scores, [e.label == CODE for e in examples], threshold)


def metrics_at(scores: list[float], truth: list[bool], threshold: float) -> dict[str, Any]:
    """Confusion counts and precision/recall/F1 of `score >= threshold` against `truth`."""
    tp = sum(1 for s, t in zip(scores, truth, strict=True) if s >= threshold and t)
    fp = sum(1 for s, t in zip(scores, truth, strict=True) if s >= threshold and not t)
    fn = sum(1 for s, t in zip(scores, truth, strict=True) if s < threshold and t)
    tn = len(scores) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"threshold": threshold, "n": len(scores), "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def collect(ns: argparse.Namespace) -> tuple[list[Example], list[dict[str, Any]]]:
    """Every labelled example from the inputs, and one description per input file for the card."""
    rules = UrlRules(
        positive_domains=read_domain_list(ns.positive_domains) if ns.positive_domains else frozenset(),
        negative_domains=read_domain_list(ns.negative_domains) if ns.negative_domains else frozenset(),
        positive_url_regex=ns.positive_url_regex, negative_url_regex=ns.negative_url_regex)
    if ns.unlabeled and rules.empty:
        raise DataError("--unlabeled needs a rule: --positive_domains, --negative_domains or a --*_url_regex")
    examples: list[Example] = []
    sources = []
    for role, label, patterns in (("positives", CODE, ns.positives), ("negatives", OTHER, ns.negatives),
                                  ("labeled", None, ns.labeled), ("unlabeled", None, ns.unlabeled)):
        for path in expand_paths(patterns):
            found = list(read_examples(path, label, rules if role == "unlabeled" else UrlRules(), ns.tar_base_url))
            skipped = 0
            if ns.skip_negatives_with_code_tags:
                kept = [e for e in found if not (e.label == OTHER and e.has_code_tags)]
                skipped, found = len(found) - len(kept), kept
            counts = Counter(e.label for e in found)
            sources.append({"path": path, "role": role, "sha256": file_sha256(path), "code": counts[CODE],
                            "other": counts[OTHER], "skipped_code_tag_negatives": skipped})
            _LOG.info("%s %s: %d code, %d other", role, path, counts[CODE], counts[OTHER])
            examples.extend(found)
    return examples, sources


def train(ns: argparse.Namespace) -> dict[str, Any]:
    """Train, evaluate on the held-out split, write the model, its card and the held-out list; return the card."""
    import fasttext

    started = time.monotonic()
    examples, sources = collect(ns)
    examples, duplicates = dedup_examples(examples)
    held = [e for e in examples if is_held_out(e.url, ns.holdout_fraction, ns.holdout_salt)]
    training = [e for e in examples if not is_held_out(e.url, ns.holdout_fraction, ns.holdout_salt)]
    labels = Counter(e.label for e in training)
    if not labels[CODE] or not labels[OTHER]:
        raise DataError(f"training needs both code and other pages, got {dict(labels)}")
    params = {"dim": ns.dim, "lr": ns.lr, "wordNgrams": ns.word_ngrams, "minCount": ns.min_count,
              "epoch": ns.epoch, "bucket": ns.bucket, "thread": ns.threads, "seed": ns.seed, "loss": "softmax"}
    output = Path(ns.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        train_file = Path(tmp) / "train.txt"
        lines = training_lines(training, ns.max_chars, ns.balance_classes, ns.seed)
        train_file.write_text("".join(lines), encoding="utf-8")
        model = train_with_retries(fasttext, str(train_file), params)
        quantized = output.suffix == ".ftz"
        full_metrics = evaluate(model, held, ns.threshold, ns.max_chars) if quantized else None
        if quantized:
            model.quantize(input=str(train_file), qnorm=True, retrain=True, cutoff=ns.cutoff, dsub=ns.dsub,
                           thread=ns.threads)
        model.save_model(str(output))
    held_metrics = evaluate(model, held, ns.threshold, ns.max_chars)
    train_metrics = evaluate(model, training, ns.threshold, ns.max_chars)
    card = {
        "model": output.name,
        "task": "code-related web page (first-pass plain text) vs other",
        "labels": [CODE_LABEL, OTHER_LABEL],
        "text": "transforms.first_pass.plain_text (resiliparse), then transforms.code_classifier.classifier_text",
        "parameters": {**params, "max_chars": ns.max_chars, "quantized": quantized,
                       **({"cutoff": ns.cutoff, "dsub": ns.dsub, "qnorm": True, "retrain": True}
                          if quantized else {})},
        "data": {"sources": sources, "duplicates_removed": duplicates,
                 "skip_negatives_with_code_tags": ns.skip_negatives_with_code_tags,
                 "balance_classes": ns.balance_classes,
                 "train": dict(labels), "heldout": dict(Counter(e.label for e in held))},
        "holdout": {"rule": "blake2b-64(salt + '\\x1f' + url) / 2**64 < fraction", "fraction": ns.holdout_fraction,
                    "salt": ns.holdout_salt, "pages": output.name.removesuffix(output.suffix) + HELDOUT_SUFFIX},
        "metrics": {"heldout": held_metrics, "train": train_metrics,
                    **({"heldout_before_quantization": full_metrics} if full_metrics else {})},
        "size_bytes": output.stat().st_size,
        "train_seconds": round(time.monotonic() - started, 1),
    }
    stem = str(output.with_suffix(""))
    Path(stem + CARD_SUFFIX).write_text(json.dumps(card, indent=2) + "\n")
    with open(stem + HELDOUT_SUFFIX, "w") as fh:
        for example in held:
            fh.write(json.dumps({"url": example.url, "label": example.label, "source": example.source}) + "\n")
    return card


def run(ns: argparse.Namespace, _beam_argv: list[str]) -> int:
    """CLI entry: train and print the held-out metrics; a data problem is a usage error (exit 2)."""
    try:
        card = train(ns)
    except DataError as exc:
        print(f"error: {exc}")
        return EXIT_USAGE
    held = card["metrics"]["heldout"]
    print(f"model {ns.output} ({card['size_bytes']} bytes): train {card['data']['train']}, "
          f"held-out {card['data']['heldout']}\nheld-out precision={held['precision']} recall={held['recall']} "
          f"f1={held['f1']} at threshold {held['threshold']}", flush=True)
    return EXIT_OK
