"""The cheap first pass: fast HTML-to-text for the code classifier, so trafilatura runs only where code is likely."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from ledger.drop import Drop
from ledger.records import ScreenedPage
from transforms.stage import Stage, StageDoFn

STAGE = "FirstPass"

_PRE_RE = re.compile(rb"<pre[\s>]", re.I)
_CODE_RE = re.compile(rb"<code[\s>]", re.I)
_CODE_LINE_RE = re.compile(
    r"""^\s*(?:[{}()\[\];]|(?:def|class|import|from|return|if|for|while|fn|func|function|let|const|var|public|
    private|static|void|int|struct|impl|package|\#include|SELECT|CREATE|INSERT|\$|>>>)\b)|[;{}]\s*$|=>|->|::|==""",
    re.X,
)


@dataclass(frozen=True)
class FirstPassConfig:
    """How much plain text a page needs to reach the code classifier."""

    min_text_chars: int = 100


class CodeSignals(NamedTuple):
    """Raw counts that hint a page is about code: training data uses them (negatives with code tags are skipped);
    the job does not, so it does not pay for them on every page."""

    n_pre: int
    n_code: int
    code_like_lines: int


def plain_text(html: str) -> str:
    """Visible text with line structure kept, from resiliparse: fast enough to run on every page of a crawl."""
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(html, preserve_formatting=True, main_content=False, alt_texts=False,
                              list_bullets=False)


def code_signals(html: str, text: str) -> CodeSignals:
    """Counts of <pre>/<code> tags in the raw HTML and of code-looking lines in the plain text."""
    raw = html.encode("utf-8", errors="ignore")
    lines = sum(1 for line in text.splitlines() if line.strip() and _CODE_LINE_RE.search(line))
    return CodeSignals(n_pre=len(_PRE_RE.findall(raw)), n_code=len(_CODE_RE.findall(raw)), code_like_lines=lines)


def screen_page(page, text: str):
    """The Page with its first-pass text attached, not yet scored by the code classifier."""
    return ScreenedPage(*page, plain_text=text, code_score=-1.0)


def decide_first_pass(page, config) -> Drop | object:
    """The screened page, or a Drop when the fast text pass finds (almost) nothing to read."""
    try:
        text = plain_text(page.html)
    except Exception as exc:  # resiliparse raises on a few hostile documents; count them, never crash
        return Drop("first_pass_error", f"{type(exc).__name__}: {exc}")
    if len(text.strip()) < config.min_text_chars:
        return Drop("no_text", str(len(text.strip())))
    return screen_page(page, text)


class FirstPassFn(StageDoFn):
    """Pages in, ScreenedPages out: resiliparse plain text for every page of the crawl."""

    def __init__(self, config: FirstPassConfig, progress_interval_s: float = 10.0):
        super().__init__(STAGE, progress_interval_s)
        self.config = config

    def decide(self, page):
        return decide_first_pass(page, self.config)


class FirstPass(Stage):
    """Pages in, ScreenedPages out, with a `dropped` output."""

    def __init__(self, config: FirstPassConfig, progress_interval_s: float = 10.0, label: str | None = None):
        super().__init__(FirstPassFn(config, progress_interval_s), label)
