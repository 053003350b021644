"""`python -m pipeline recall`: one round of the iterative recall recipe (DeepSeekMath, section 2.1).

1. score every page of a crawl with the code classifier; 2. group the pages by domain; 3. list the domains where more
than X% of pages score high, for review or for automatic use as positives; 4. retrain with
`train-classifier --unlabeled CRAWL --positive_domains OUT/positive_domains.txt ...` (the command is printed).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.classifier_data import iter_warc_html
from pipeline.errors import EXIT_OK
from transforms.code_classifier import CodeClassifierConfig, code_probability
from transforms.extract_code import domain_of
from transforms.first_pass import plain_text
from transforms.model_files import load_fasttext
from transforms.warc_inputs import resolve_inputs

_LOG = logging.getLogger("syncode.recall")


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", action="append", default=[], required=True,
                        help="WARC files of the crawl to score: paths, globs or a warc.paths.gz listing. Repeatable.")
    parser.add_argument("--output", required=True, help="Directory for scores.jsonl, domains.tsv, "
                        "positive_domains.txt and review.tsv.")
    parser.add_argument("--code_model", default=CodeClassifierConfig.model_path, help="The classifier to score with.")
    parser.add_argument("--threshold", type=float, default=CodeClassifierConfig.threshold,
                        help="A page scoring at least this is 'high' (code-related).")
    parser.add_argument("--domain_share", type=float, default=0.1,
                        help="List a domain when more than this share of its pages score high (X; 0.1 = 10%%).")
    parser.add_argument("--min_pages", type=int, default=3, help="Domains with fewer scored pages are not listed.")
    parser.add_argument("--max_chars", type=int, default=CodeClassifierConfig.max_chars)
    parser.add_argument("--cc_base_url", default="https://data.commoncrawl.org/",
                        help="Base URL for the relative paths in a warc.paths.gz listing.")


@dataclass
class DomainStats:
    """Pages of one domain, how many scored high, and the low-scoring URLs a reviewer would look at."""

    pages: int = 0
    high: int = 0
    low_urls: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.high / self.pages if self.pages else 0.0


def code_domains(stats: dict[str, DomainStats], share: float, min_pages: int) -> list[str]:
    """Domains with at least min_pages pages and more than `share` of them high, most code-heavy first."""
    chosen = [d for d, s in stats.items() if d and s.pages >= min_pages and s.share > share]
    return sorted(chosen, key=lambda d: (-stats[d].share, -stats[d].pages, d))


def add_score(stats: dict[str, DomainStats], url: str, score: float, threshold: float, keep_low: int = 50) -> None:
    entry = stats[domain_of(url)]
    entry.pages += 1
    if score >= threshold:
        entry.high += 1
    elif len(entry.low_urls) < keep_low:
        entry.low_urls.append(url)


def run(ns: argparse.Namespace, _beam_argv: list[str]) -> int:
    """Score the crawl, write the domain lists, print the retrain command."""
    model = load_fasttext(ns.code_model)
    out = Path(ns.output)
    out.mkdir(parents=True, exist_ok=True)
    files = resolve_inputs(ns.input, ns.cc_base_url)
    stats: dict[str, DomainStats] = defaultdict(DomainStats)
    started, pages = time.monotonic(), 0
    with open(out / "scores.jsonl", "w") as scores:
        for path in files:
            for url, html in iter_warc_html(path):
                try:
                    score = code_probability(model, plain_text(html), ns.max_chars)
                except Exception as exc:  # one hostile page must not stop a crawl-wide scoring run
                    _LOG.warning("recall: cannot score %s: %s", url, exc)
                    continue
                pages += 1
                add_score(stats, url, score, ns.threshold)
                scores.write(json.dumps({"url": url, "domain": domain_of(url), "score": round(score, 4)}) + "\n")
    with open(out / "domains.tsv", "w") as fh:
        fh.write("domain\tpages\thigh\tshare\n")
        for domain, s in sorted(stats.items(), key=lambda kv: (-kv[1].share, -kv[1].pages, kv[0])):
            fh.write(f"{domain}\t{s.pages}\t{s.high}\t{s.share:.3f}\n")
    chosen = code_domains(stats, ns.domain_share, ns.min_pages)
    (out / "positive_domains.txt").write_text(
        f"# domains where more than {ns.domain_share:.0%} of pages score >= {ns.threshold} ({ns.code_model})\n"
        + "".join(d + "\n" for d in chosen))
    with open(out / "review.tsv", "w") as fh:
        fh.write("domain\turl\n")  # pages of code domains the model missed: label these by hand, or trust the domain
        for domain in chosen:
            for url in stats[domain].low_urls:
                fh.write(f"{domain}\t{url}\n")
    rate = pages / max(time.monotonic() - started, 1e-9)
    print(f"recall: scored {pages} pages from {len(files)} file(s) ({rate:.0f} pages/s), {len(stats)} domains, "
          f"{len(chosen)} with more than {ns.domain_share:.0%} high-scoring pages -> {out / 'positive_domains.txt'}\n"
          "review the pages in review.tsv, then retrain, e.g.:\n"
          f"  python -m pipeline train-classifier --unlabeled {' --unlabeled '.join(ns.input)} "
          f"--positive_domains {out / 'positive_domains.txt'} --positives ... --negatives ... "
          "--output models/code_classifier.ftz", flush=True)
    return EXIT_OK
