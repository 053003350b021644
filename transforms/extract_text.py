"""ExtractText: the spine's page-to-seed step, trafilatura main text plus title (the extraction issue refines it)."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any
from urllib.parse import urlsplit

from pipeline.config import ExtractConfig
from pipeline.records import Page, Seed
from transforms.stage import Drop, Stage, StageDoFn

STAGE = "Extract"
_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.I | re.S)


def domain_of(url: str) -> str:
    """The host of a URL without a leading www., for grouping and the dataset card."""
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def page_title(html: str) -> str:
    """The document's <title>, unescaped and on one line; '' when it has none."""
    match = _TITLE_RE.search(html, 0, 200_000)
    return " ".join(unescape(match.group(1)).split()) if match else ""


def seed_from_extraction(page: Page, extracted: dict[str, Any] | None, config: ExtractConfig) -> Seed | Drop:
    """Keep the page as a seed when trafilatura found enough main text; otherwise say why not."""
    if not extracted or not (extracted.get("text") or "").strip():
        return Drop("no_main_text")
    text = extracted["text"].strip()
    if len(text) < config.min_text_chars:
        return Drop("too_short", str(len(text)))
    return Seed(id=page.id, url=page.url, domain=domain_of(page.url), record_id=page.record_id,
                warc_date=page.warc_date, crawl_id=page.crawl_id, warc_file=page.warc_file, offset=page.offset,
                title=(extracted.get("title") or "").strip(), text=text, text_chars=len(text),
                text_words=len(text.split()), code_score=float(getattr(page, "code_score", -1.0)))


class ExtractTextFn(StageDoFn):
    def __init__(self, config: ExtractConfig, progress_interval_s: float = 10.0):
        super().__init__(STAGE, progress_interval_s)
        self.config = config

    def setup(self) -> None:
        super().setup()
        import trafilatura

        self._trafilatura = trafilatura

    def decide(self, page: Page) -> Seed | Drop:
        try:
            # with_metadata=False: trafilatura's date search (htmldate/dateparser) cost more than the extraction
            raw = self._trafilatura.extract(page.html, url=page.url or None, output_format="json",
                                            with_metadata=False, include_comments=self.config.include_comments)
        except Exception as exc:  # trafilatura/lxml raise many types on hostile HTML
            return Drop("extract_error", f"{type(exc).__name__}: {exc}")
        extracted = json.loads(raw) if raw else None
        if extracted is not None and not extracted.get("title"):
            extracted["title"] = page_title(page.html)
        result = seed_from_extraction(page, extracted, self.config)
        if isinstance(result, Seed):
            self.counters.count("text_chars", result.text_chars)
            self.counters.count("text_words", result.text_words)
        return result


def ExtractText(config: ExtractConfig, progress_interval_s: float = 10.0) -> Stage:  # noqa: N802 - reads as a transform
    """Pages in, Seeds out, with a `dropped` output."""
    return Stage(ExtractTextFn(config, progress_interval_s))
