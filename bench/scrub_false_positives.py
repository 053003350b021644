"""Every replacement Scrub makes on the extracted text of the shared documentation pages, for reading by hand.

Documentation pages are full of example credentials (`password = "..."`, `token: <your-token>`) and hold almost no
live secrets, so what Scrub replaces there is mostly false positives; this lists each replacement with its context
so a person can classify it, and counts them per rule on two halves of the pages:

- tune: debian-docs files 00-04 (1,460 pages), the half meant for tuning the value rule on,
- report: debian-docs files 05-09, the Python 3.11 docs subset and the trafilatura-eval pages (2,584 pages).

Honest note (issue 12): the rule's trailing-punctuation and `%s` clauses came from the tune half; the key's-own-word
clause and running the URL/connection-string passwords through the value rule came from reading both halves, so
the report half is not untouched for those two.

The text is what ExtractCodePage makes of each page (Markdown with verbatim code, plus title and URL), extracted
once and cached under $SYNCODE_SCRUB_CACHE (default: the temp dir) because extraction takes most of the time.
`--list FILE` writes every replacement as JSONL (half, url, kind, matched text, context).
Last line: RESULT key=value ...
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if not __package__:  # run as `python bench/scrub_false_positives.py`: the repo, not bench/ (dedup.py shadows), leads
    sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]

from bench import shared_pages  # noqa: E402
from bench.smoke import use_smoke_pages  # noqa: E402

PYTHON_DOCS = Path("python-docs-html") / "python3.11-doc-html-subset.tar.gz"  # under the shared data
PYTHON_DOCS_URL = "https://docs.python.org/3.11/"
_TUNE_FILES = re.compile(r"debian-docs-0[0-4]\.warc\.gz$")


def _sources() -> Iterator[tuple[str, str, str, str]]:
    """(half, source, url, html) of every shared documentation page."""
    from pipeline.classifier_data import iter_tar_html, iter_warc_html

    warc, python_docs = shared_pages.WARC, shared_pages.SHARED / PYTHON_DOCS
    for path in sorted((warc / "debian-docs").glob("*.warc.gz")):
        half = "tune" if _TUNE_FILES.search(path.name) else "report"
        for url, html in iter_warc_html(str(path)):
            yield half, path.name, url, html
    if python_docs.is_file():
        for url, html in iter_tar_html(str(python_docs), PYTHON_DOCS_URL):
            yield "report", python_docs.name, url, html
    for path in sorted((warc / "trafilatura-eval").glob("*.warc.gz")):
        for url, html in iter_warc_html(str(path)):
            yield "report", path.name, url, html


def extracted_pages(cache: Path | None) -> list[dict]:
    """{half, source, url, title, text} of every page ExtractCodePage keeps (length floor off), cached as JSONL."""
    if cache is not None and cache.is_file():
        return [json.loads(line) for line in cache.read_text().splitlines()]
    from ledger.drop import Drop
    from transforms.extract_page import ExtractConfig, extract_code_page

    config = ExtractConfig(min_text_chars=0)
    rows = []
    for n, (half, source, url, html) in enumerate(_sources()):
        page = extract_code_page(html, url, config)
        if not isinstance(page, Drop):
            rows.append({"half": half, "source": source, "url": url, "title": page.title, "text": page.markdown})
        if n % 200 == 0:
            print(f"extracted {n} pages", file=sys.stderr, flush=True)
    if cache is not None:
        tmp = cache.with_suffix(".part")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        tmp.replace(cache)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=os.environ.get("SYNCODE_SCRUB_CACHE")
                        or str(Path(tempfile.gettempdir()) / "syncode-scrub-docs.jsonl"))
    parser.add_argument("--list", default="", help="write every replacement here as JSONL")
    parser.add_argument("--extract-only", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="the debian-docs and trafilatura-eval pages of "
                        "tests/data/bench/shared, extracted afresh and not cached: checks that it runs")
    args = parser.parse_args()
    if args.smoke:
        use_smoke_pages()
    shared_pages.require_shared()
    pages = extracted_pages(None if args.smoke else Path(args.cache))
    print(f"{len(pages)} extracted pages: " + ", ".join(f"{k} {v}" for k, v in Counter(p["half"] for p in pages)
                                                        .items()))
    if args.extract_only:
        print(f"RESULT pages={len(pages)}")
        return
    report(pages, args.list)


def _matches():
    """scrub_matches, or for a checkout from before it existed the same walk over the old pattern table."""
    from transforms import scrub

    if hasattr(scrub, "scrub_matches"):
        return scrub.scrub_matches
    old_secrets = scrub._SECRETS  # noqa: SLF001 - the table of the scrubber before the by-name rule

    def old_matches(text: str, config) -> list:
        found = []
        for kind, pattern, placeholder in old_secrets:
            for match in pattern.finditer(text):
                start, end = match.span("secret") if "secret" in pattern.groupindex else match.span()
                found.append((kind, start, end, text))
            text = scrub._replace(pattern, placeholder, text, Counter(), kind)  # noqa: SLF001
        return found

    return old_matches


def _kept_named(pages: list[dict]) -> Counter:
    """How many secret-named values the value rule keeps, by reason ("replaced": those it does not keep)."""
    from transforms.secret_patterns import NAMED, why_not_secret

    reasons: Counter = Counter()
    for page in pages:
        for field in ("text", "title", "url"):
            for match in NAMED.finditer(page[field]):
                group = "quoted" if match.group("quote") else "bare"
                reasons[why_not_secret(match.group(group), group == "quoted") or "replaced"] += 1
    return reasons


def report(pages: list[dict], list_path: str) -> None:
    """Count and list every secret replacement (e-mail and IP addresses left out) per half and kind."""
    from transforms import scrub
    from transforms.scrub import ScrubConfig

    matches, config = _matches(), ScrubConfig(emails=False, ip_addresses=False)
    counts: dict[str, Counter] = {"tune": Counter(), "report": Counter()}
    rows = []
    for page in pages:
        for field in ("text", "title", "url"):
            for kind, start, end, text in matches(page[field], config):
                counts[page["half"]][kind] += 1
                context = text[max(0, start - 60): end + 30].replace("\n", "\\n")
                rows.append({"half": page["half"], "url": page["url"], "field": field, "kind": kind,
                             "match": text[start:end], "context": context})
    kept = _kept_named(pages) if hasattr(scrub, "scrub_matches") else Counter()
    if list_path:
        Path(list_path).write_text("".join(json.dumps(r) + "\n" for r in rows))
    for row in rows:
        print(f"[{row['half']}] {row['kind']}: {row['match'][:80]!r} <- {row['context'][:200]}")
    for half in ("tune", "report"):
        print(f"{half}: " + (", ".join(f"{k}={v}" for k, v in sorted(counts[half].items())) or "none"))
    print("secret-named values kept as stand-ins, by reason: "
          + ", ".join(f"{reason}={n}" for reason, n in kept.most_common()))
    keys = " ".join(f"{half}_{kind}={n}" for half in ("tune", "report") for kind, n in sorted(counts[half].items()))
    print(f"RESULT pages={len(pages)} tune_replacements={sum(counts['tune'].values())} "
          f"report_replacements={sum(counts['report'].values())} {keys}".rstrip())


if __name__ == "__main__":
    main()
