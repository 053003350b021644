"""Labelled pages for the code classifier, read from WARC, Parquet, JSONL or a tarball of HTML files.

Labels come from the input (`--positives`, `--negatives`), from a `label` column, or from URL/domain rules applied
to unlabelled pages (the iterative recall recipe: domains found by `python -m pipeline recall`).
"""

from __future__ import annotations

import glob
import re
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ledger.files import read_jsonl
from ledger.ids import stable_id, unit_hash
from transforms.extract_code import domain_of
from transforms.first_pass import code_signals, plain_text
from transforms.read_warc import RawResponse, ReadConfig, decide_response, declared_charset, decode_html

CODE = "code"
OTHER = "other"
_TRUE = {"1", "true", "yes", "code", "positive", "pos", "__label__code"}
_FALSE = {"0", "false", "no", "other", "negative", "neg", "not_code", "__label__other"}


class DataError(ValueError):
    """Training input that cannot be used, with the file and what is wrong."""


class Example(NamedTuple):
    """One labelled page: the first-pass text the classifier reads, and where it came from."""

    url: str
    domain: str
    text: str
    label: str  # CODE or OTHER
    has_code_tags: bool  # <pre> or <code> in the HTML (False when only text was given)
    source: str


@dataclass(frozen=True)
class UrlRules:
    """Label pages by domain (a domain matches its subdomains) or URL regex; positives win over negatives."""

    positive_domains: frozenset[str] = field(default_factory=frozenset)
    negative_domains: frozenset[str] = field(default_factory=frozenset)
    positive_url_regex: str = ""
    negative_url_regex: str = ""

    def label(self, url: str) -> str | None:
        domain = domain_of(url)
        parts = domain.split(".")
        suffixes = {".".join(parts[i:]) for i in range(len(parts))}
        if suffixes & self.positive_domains or (self.positive_url_regex and re.search(self.positive_url_regex, url)):
            return CODE
        if suffixes & self.negative_domains or (self.negative_url_regex and re.search(self.negative_url_regex, url)):
            return OTHER
        return None

    @property
    def empty(self) -> bool:
        return not (self.positive_domains or self.negative_domains or self.positive_url_regex
                    or self.negative_url_regex)


def read_domain_list(path: str) -> frozenset[str]:
    """Domains, one per line (a CSV/TSV line's first field), '#' comments and blank lines ignored."""
    domains = set()
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            domains.add(re.split(r"[,\t ]", line, maxsplit=1)[0].lower().removeprefix("www."))
    return frozenset(domains)


def parse_label(value: object) -> str | None:
    """A label column value as CODE or OTHER; None when it is neither."""
    text = str(value).strip().lower()
    return CODE if text in _TRUE else OTHER if text in _FALSE else None


def expand_paths(patterns: Iterable[str]) -> list[str]:
    """Globs and comma-separated lists to files; a pattern that matches nothing is an error."""
    files: list[str] = []
    for pattern in patterns:
        for part in filter(None, (p.strip() for p in pattern.split(","))):
            matches = sorted(glob.glob(part)) if any(c in part for c in "*?[") else [part]
            matches = [m for m in matches if Path(m).is_file()]
            if not matches:
                raise DataError(f"no training file matches {part!r}")
            files.extend(matches)
    return files


def iter_warc_html(path: str, config: ReadConfig | None = None) -> Iterator[tuple[str, str]]:
    """(url, html) of every HTML response in a WARC, with the same rules as ReadWarc."""
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems
    from warcio.archiveiterator import ArchiveIterator

    config = config or ReadConfig()
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        for record in ArchiveIterator(fh):
            if record.rec_type != "response":
                continue
            http = record.http_headers
            payload = record.content_stream().read(config.max_payload_bytes + 1)
            raw = RawResponse(record.rec_type, http.get_statuscode() if http else "", record.format,
                              (http.get_header("Content-Type") if http else "") or "",
                              record.rec_headers.get_header("WARC-Identified-Payload-Type") or "", payload)
            if decide_response(raw, config) is None:
                html, _ = decode_html(payload, declared_charset(raw.content_type, payload[:4096]))
                yield record.rec_headers.get_header("WARC-Target-URI") or "", html


def iter_tar_html(path: str, base_url: str = "") -> Iterator[tuple[str, str]]:
    """(url, html) of every .html/.htm file in a tarball; the URL is base_url + the member path."""
    base = base_url or f"file://{Path(path).name}/"
    with tarfile.open(path) as tar:
        for member in tar:
            if member.isfile() and member.name.lower().endswith((".html", ".htm")):
                data = tar.extractfile(member).read()
                yield base + member.name.lstrip("./"), data.decode("utf-8", errors="replace")


def iter_table_rows(path: str) -> Iterator[dict]:
    """Rows of a JSONL (optionally .gz) or Parquet file as dicts."""
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=512):
            yield from batch.to_pylist()
        return
    try:
        yield from read_jsonl(path)
    except ValueError as exc:
        raise DataError(str(exc)) from exc


def _example(url: str, html: str | None, text: str | None, label: str, source: str) -> Example | None:
    if html is not None:
        text = plain_text(html)
        signals = code_signals(html, text)
        has_tags = bool(signals.n_pre or signals.n_code)
    else:
        has_tags = False
    if not (text or "").strip():
        return None
    return Example(url, domain_of(url), text, label, has_tags, source)


def read_examples(path: str, label: str | None, rules: UrlRules, base_url: str = "") -> Iterator[Example]:
    """Labelled examples from one file: `label` for all, else the row's `label` column, else the URL rules.

    Pages with no label from any of these are skipped (they are neither positives nor negatives).
    """
    name = Path(path).name
    if name.endswith((".warc.gz", ".warc", ".arc.gz")) or ".warc" in name:
        pages: Iterator = ((url, html, None, None) for url, html in iter_warc_html(path))
    elif name.endswith((".tar.gz", ".tgz", ".tar")):
        pages = ((url, html, None, None) for url, html in iter_tar_html(path, base_url))
    elif name.endswith((".parquet", ".jsonl", ".jsonl.gz", ".json")):
        pages = ((str(r.get("url") or ""), r.get("html"), r.get("text"), r.get("label"))
                 for r in iter_table_rows(path))
    else:
        raise DataError(f"{path}: unknown training file type (want .warc.gz, .parquet, .jsonl or .tar.gz of HTML)")
    for url, html, text, row_label in pages:
        if html is None and text is None:
            raise DataError(f"{path}: rows need an 'html' or a 'text' column")
        chosen = label or (parse_label(row_label) if row_label is not None else None) or rules.label(url)
        if chosen is None:
            continue
        example = _example(url, html, text, chosen, name)
        if example is not None:
            yield example


def is_held_out(url: str, fraction: float, salt: str = "holdout-v1") -> bool:
    """Deterministic split by a hash of the URL, so the held-out pages are known without storing them."""
    return unit_hash(salt, url) < fraction


def dedup_examples(examples: Iterable[Example]) -> tuple[list[Example], int]:
    """The examples with exact duplicate texts removed (the first one kept), and how many were removed."""
    seen: set[str] = set()
    kept: list[Example] = []
    removed = 0
    for example in examples:
        key = stable_id(example.text, size=16)
        if key in seen:
            removed += 1
            continue
        seen.add(key)
        kept.append(example)
    return kept, removed
