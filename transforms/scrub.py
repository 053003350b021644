"""Scrub: replace secrets and PII with placeholders before any text leaves the seeds job, counting each kind."""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ledger.records import Dropped, Seed
from transforms.stage import Stage, StageDoFn

STAGE = "Scrub"


@dataclass(frozen=True)
class ScrubConfig:
    """Which kinds of secrets and PII Scrub replaces."""

    secrets: bool = True
    emails: bool = True
    ip_addresses: bool = True
    keep_private_ips: bool = True

# (kind, pattern, placeholder); a pattern with a group named "secret" replaces only that group.
_SECRETS: tuple[tuple[str, re.Pattern, str], ...] = (
    ("private_key", re.compile(r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
                               r"(?:[\s\S]{0,20000}?-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
                               r"|[A-Za-z0-9+/=:\s-]{0,20000})"), "<PRIVATE_KEY>"),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "<JWT>"),
    ("aws_key", re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA)[0-9A-Z]{16}\b"), "<AWS_KEY>"),
    ("aws_secret", re.compile(r"(?i)aws.{0,20}?(?:secret|key).{0,20}?[=:]\s*[\"']?(?P<secret>[A-Za-z0-9/+=]{40})"
                              r"(?![A-Za-z0-9/+=])"), "<AWS_SECRET>"),
    ("github_token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
     "<GITHUB_TOKEN>"),
    ("slack_token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,250}|https://hooks\.slack\.com/services/"
                               r"T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+"), "<SLACK_TOKEN>"),
    ("openai_key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200}\b"), "<OPENAI_KEY>"),
    ("password", re.compile(r"\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@'\"<>]{1,100}:(?P<secret>[^\s@/'\"<>]{1,200})@"),
     "<PASSWORD>"),
    # ADO.NET/ODBC style: ...;Password=x  or  Password=x;...  (not `password = input()` in code)
    ("password", re.compile(r"(?i);\s*(?:password|pwd)\s*=\s*(?P<secret>[^;'\"\s<>]{1,200})"), "<PASSWORD>"),
    ("password", re.compile(r"(?i)\b(?:password|pwd)=(?P<secret>[^;'\"\s<>]{1,200});"), "<PASSWORD>"),
)
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}\b")
_IPV4 = re.compile(r"(?<![\w.-])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
                   r"(?![\w.])")


def _replace(pattern: re.Pattern, placeholder: str, text: str, counts: Counter, kind: str,
             keep: Callable[[str], bool] | None = None) -> str:
    def sub(match: re.Match) -> str:
        if keep is not None and keep(match.group(0)):
            return match.group(0)
        counts[kind] += 1
        if "secret" in pattern.groupindex:
            start, end = match.span("secret")
            base = match.start()
            whole = match.group(0)
            return whole[: start - base] + placeholder + whole[end - base:]
        return placeholder

    return pattern.sub(sub, text)


def _is_private_ip(text: str) -> bool:
    try:
        return not ipaddress.ip_address(text).is_global
    except ValueError:
        return True  # not an address after all: leave it


def scrub_text(text: str, config: ScrubConfig) -> tuple[str, Counter]:
    """The text with secrets, e-mail addresses and IP addresses replaced, and how many of each kind."""
    counts: Counter = Counter()
    if config.secrets:
        for kind, pattern, placeholder in _SECRETS:
            text = _replace(pattern, placeholder, text, counts, kind)
    if config.emails:
        text = _replace(_EMAIL, "<EMAIL>", text, counts, "email")
    if config.ip_addresses:
        text = _replace(_IPV4, "<IP_ADDRESS>", text, counts, "ip_address",
                        _is_private_ip if config.keep_private_ips else None)
    return text, counts


def scrub_seed(seed: Seed, config: ScrubConfig) -> tuple[Seed, Counter]:
    """The seed with its text, title and URL scrubbed; sizes are recomputed for the new text."""
    text, counts = scrub_text(seed.text, config)
    title, title_counts = scrub_text(seed.title, config)
    url, url_counts = scrub_text(seed.url, config)
    counts.update(title_counts)
    counts.update(url_counts)
    total = sum(counts.values())
    if not total:
        return seed, counts
    return seed._replace(text=text, title=title, url=url, text_chars=len(text), text_words=len(text.split()),
                         scrubbed=seed.scrubbed + total), counts


def scrub_dropped(row: Dropped, config: ScrubConfig) -> Dropped:
    """An audit row with its URL and detail scrubbed too, since OUT/dropped also leaves the job."""
    return row._replace(url=scrub_text(row.url, config)[0], detail=scrub_text(row.detail, config)[0])


class ScrubFn(StageDoFn):
    """Seeds in, scrubbed seeds out; never drops, counts `scrubbed_<kind>` per replacement."""

    def __init__(self, config: ScrubConfig, progress_interval_s: float = 10.0):
        super().__init__(STAGE, progress_interval_s)
        self.config = config

    def decide(self, seed: Seed) -> Seed:
        scrubbed, counts = scrub_seed(seed, self.config)
        for kind, n in counts.items():
            self.counters.count("scrubbed_" + kind, n)
        return scrubbed


class Scrub(Stage):
    """Seeds in, seeds without secrets or PII out (a `dropped` output that stays empty, for a uniform shape)."""

    def __init__(self, config: ScrubConfig, progress_interval_s: float = 10.0, label: str | None = None):
        super().__init__(ScrubFn(config, progress_interval_s), label)
