"""First-pass HTML-to-text: resiliparse against selectolax, speed and text quality on the same shared pages.

Reads ../shared/data (or $SYNCODE_SHARED_DATA), or with --smoke the few pages bundled in tests/data/bench/shared.
selectolax is the peer (`pip install -e ".[bench]"`); without it the peer is skipped, said so, and its keys are nan.
Quality is what the code classifier needs from this text:
- pre_lines: share of <pre> blocks (2+ lines) whose lines (stripped) appear in order in the text; the blocks are
  read with lxml, a parser neither extractor uses;
- article_recall: share of the article-benchmark ground-truth tokens present in the page text (words glued
  across block elements count as missing).
Last line: RESULT key=value ...
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if not __package__:  # run as `python bench/first_pass_text.py`: the repo, not bench/ (whose dedup.py shadows), leads
    sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]

from lxml import html as lxml_html  # noqa: E402

from bench import shared_pages  # noqa: E402
from bench.smoke import use_smoke_pages  # noqa: E402
from transforms.first_pass import plain_text  # noqa: E402

_TOKEN_RE = re.compile(r"\w+")


def resiliparse_text(html: str) -> str:
    return plain_text(html)


def selectolax_text(html: str) -> str:
    """selectolax (lexbor) visible text: scripts and styles removed, text nodes joined as they are in the DOM."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    tree.strip_tags(["script", "style", "noscript", "template"])
    root = tree.body or tree.root
    return root.text(deep=True, separator="", strip=False) if root is not None else ""


def selectolax_lines_text(html: str) -> str:
    """selectolax with a newline between text nodes: blocks are separated, but inline elements break lines too."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    tree.strip_tags(["script", "style", "noscript", "template"])
    root = tree.body or tree.root
    return root.text(deep=True, separator="\n", strip=False) if root is not None else ""


EXTRACTORS = {"resiliparse": resiliparse_text, "selectolax": selectolax_text, "selectolax_nl": selectolax_lines_text}


def pre_blocks(html: str) -> list[list[str]]:
    """The reference: the stripped non-blank lines of every outermost <pre> (<br> as newline) with 2+ of them."""
    try:
        tree = lxml_html.document_fromstring(html.encode("utf-8", errors="replace"),
                                             parser=lxml_html.HTMLParser(encoding="utf-8"))
    except Exception:  # noqa: BLE001 - an unparsable page has no reference blocks
        return []
    blocks = []
    for pre in tree.iter("pre"):
        if next(pre.iterancestors("pre"), None) is not None:
            continue
        for br in pre.iter("br"):
            br.tail = "\n" + (br.tail or "")
        lines = [line.strip() for line in "".join(pre.itertext()).splitlines() if line.strip()]
        if len(lines) >= 2:
            blocks.append(lines)
    return blocks


def lines_in_order(block: list[str], text_lines: list[str]) -> bool:
    """Every line of the block appears, in order, as a stripped line of the text (other lines may interleave)."""
    it = iter(text_lines)
    return all(any(line == t for t in it) for line in block)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=600, help="debian-docs pages sampled (seed 7)")
    parser.add_argument("--smoke", action="store_true",
                        help="the 10 real pages of tests/data/bench/shared that it reads: checks that it runs")
    args = parser.parse_args()
    if args.smoke:
        use_smoke_pages()
        args.pages = None
    shared_pages.require_shared()
    code_pages = shared_pages.debian_docs(args.pages) + [p for p in shared_pages.trafilatura_eval()
                                                          if "<pre" in p["html"]]
    articles = shared_pages.article_benchmark()
    all_html = [p["html"] for p in code_pages] + [p["html"] for p in articles]
    print(f"pages: {len(code_pages)} with code (debian-docs sample + trafilatura-eval <pre> pages), "
          f"{len(articles)} articles" + (f" [smoke: {shared_pages.SHARED}]" if args.smoke else ""))
    extractors = dict(EXTRACTORS)
    if importlib.util.find_spec("selectolax") is None:
        print('selectolax not installed (pip install -e ".[bench]"): the peer is skipped, its keys are nan')
        extractors = {"resiliparse": resiliparse_text}
    references = [pre_blocks(p["html"]) for p in code_pages]
    results = {}
    for name, extract in extractors.items():
        extract(all_html[0])  # import and warm up outside the clock
        start = time.perf_counter()
        texts = [extract(h) for h in all_html]
        elapsed = time.perf_counter() - start
        code_texts, article_texts = texts[: len(code_pages)], texts[len(code_pages):]
        found = total = 0
        for blocks, text in zip(references, code_texts, strict=True):
            text_lines = [line.strip() for line in text.splitlines()]
            for block in blocks:
                total += 1
                found += lines_in_order(block, text_lines)
        recall = []
        for page, text in zip(articles, article_texts, strict=True):
            truth, got = Counter(_TOKEN_RE.findall(page["body"].lower())), Counter(_TOKEN_RE.findall(text.lower()))
            recall.append(sum((truth & got).values()) / max(1, sum(truth.values())))
        results[name] = {"pages_per_s": len(all_html) / elapsed, "pre_lines": found / max(1, total),
                         "article_recall": sum(recall) / len(recall)}
        print(f"{name:14s} {results[name]['pages_per_s']:8.1f} pages/s  pre_lines={results[name]['pre_lines']:.3f}"
              f"  article_recall={results[name]['article_recall']:.4f}  ({total} <pre>)")
    nan = {"pages_per_s": float("nan"), "pre_lines": float("nan"), "article_recall": float("nan")}
    r, s = results["resiliparse"], results.get("selectolax", nan)
    print(f"RESULT pages={len(all_html)} resiliparse_pages_per_s={r['pages_per_s']:.1f} "
          f"selectolax_pages_per_s={s['pages_per_s']:.1f} speed_ratio={r['pages_per_s'] / s['pages_per_s']:.2f} "
          f"resiliparse_pre_lines={r['pre_lines']:.3f} selectolax_pre_lines={s['pre_lines']:.3f} "
          f"resiliparse_article_recall={r['article_recall']:.4f} selectolax_article_recall={s['article_recall']:.4f} "
          f"selectolax_status={'ok' if 'selectolax' in results else 'skipped'}")

if __name__ == "__main__":
    main()
