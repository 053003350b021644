"""Scrub: replace secrets and PII with placeholders before any text leaves the seeds job, counting each kind."""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ledger.records import Dropped, Seed
from transforms.secret_patterns import (
    NAMED,
    NAMED_HINTS,
    SHAPES,
    VALUE_CHECKED,
    has_hint,
    is_secret_value,
    named_placeholder,
    secret_name,
)
from transforms.stage import Stage, StageDoFn

STAGE = "Scrub"


@dataclass(frozen=True)
class ScrubConfig:
    """Which kinds of secrets and PII Scrub replaces."""

    secrets: bool = True
    emails: bool = True
    ip_addresses: bool = True
    keep_private_ips: bool = True


_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}\b")
_IPV4 = re.compile(r"(?<![\w.-])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
                   r"(?![\w.])")


Found = list[tuple[str, int, int, str]]  # (kind, start, end, the text it was found in) of each replacement


def _secret_span(match: re.Match) -> tuple[int, int]:
    """The span of the first "secret..." group that took part, else of the whole match."""
    for name in match.re.groupindex:
        if name.startswith("secret") and match.group(name) is not None:
            return match.span(name)
    return match.span()


def _replace(pattern: re.Pattern, placeholder: str, text: str, counts: Counter, kind: str,
             keep: Callable[[str], bool] | None = None, found: Found | None = None) -> str:
    def sub(match: re.Match) -> str:
        start, end = _secret_span(match)
        if keep is not None and keep(match.string[start:end]):
            return match.group(0)
        return _replaced(match, start, end, placeholder, counts, kind, found)

    return pattern.sub(sub, text)


def _replaced(match: re.Match, start: int, end: int, placeholder: str, counts: Counter, kind: str,
              found: Found | None) -> str:
    counts[kind] += 1
    if found is not None:
        found.append((kind, start, end, match.string))
    base, whole = match.start(), match.group(0)
    return whole[: start - base] + placeholder + whole[end - base:]


def _replace_named(text: str, counts: Counter, found: Found | None) -> str:
    """Values of secret-named keys that could be credentials (see secret_patterns.is_secret_value)."""
    def sub(match: re.Match) -> str:
        group = "quoted" if match.group("quote") else "bare"
        if not is_secret_value(match.group(group), quoted=group == "quoted"):
            return match.group(0)
        start, end = match.span(group)
        return _replaced(match, start, end, named_placeholder(secret_name(match)), counts, "named_secret", found)

    return NAMED.sub(sub, text)


def _not_a_password(value: str) -> bool:
    return not is_secret_value(value, quoted=True)


def _is_private_ip(text: str) -> bool:
    try:
        return not ipaddress.ip_address(text).is_global
    except ValueError:
        return True  # not an address after all: leave it


def _scrub(text: str, config: ScrubConfig, found: Found | None) -> tuple[str, Counter]:
    counts: Counter = Counter()
    if config.secrets:
        lowered = text.lower()  # for the hints: no match is completed by a placeholder, so it holds as text changes
        for kind, pattern, placeholder, hints in SHAPES:
            if has_hint(text, lowered, pattern, hints):
                keep = _not_a_password if kind in VALUE_CHECKED else None
                text = _replace(pattern, placeholder, text, counts, kind, keep, found)
        if has_hint(text, lowered, NAMED, NAMED_HINTS):
            text = _replace_named(text, counts, found)
    if config.emails:
        text = _replace(_EMAIL, "<EMAIL>", text, counts, "email", found=found)
    if config.ip_addresses:
        text = _replace(_IPV4, "<IP_ADDRESS>", text, counts, "ip_address",
                        _is_private_ip if config.keep_private_ips else None, found)
    return text, counts


def scrub_text(text: str, config: ScrubConfig) -> tuple[str, Counter]:
    """The text with secrets, e-mail addresses and IP addresses replaced, and how many of each kind."""
    return _scrub(text, config, None)


def scrub_matches(text: str, config: ScrubConfig) -> Found:
    """Every replacement scrub_text makes, as (kind, start, end, text it was found in), for audits and benches."""
    found: Found = []
    _scrub(text, config, found)
    return found


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
