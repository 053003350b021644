"""ExtractCodePage: the stage around `extract_page.extract_code_page`, run in a child process with a time limit."""

from __future__ import annotations

from urllib.parse import urlsplit

from ledger.drop import Drop
from ledger.records import Seed
from transforms.extract_page import ExtractConfig, ExtractedPage
from transforms.stage import Stage, StageDoFn
from transforms.verbatim_code import parse_fences

STAGE = "ExtractCodePage"


def domain_of(url: str) -> str:
    """The host of a URL without a leading www., for grouping and the dataset card."""
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def seed_of(page, extracted: ExtractedPage) -> Seed:
    """The seed record for a page and what extraction found on it (CodeLang fills the language fields)."""
    fenced = parse_fences(extracted.markdown)  # what the text holds, so CodeLang and readers see the same blocks
    return Seed(id=page.id, url=page.url, domain=domain_of(page.url), record_id=page.record_id,
                warc_date=page.warc_date, crawl_id=page.crawl_id, warc_file=page.warc_file, offset=page.offset,
                title=extracted.title, text=extracted.markdown, text_chars=len(extracted.markdown),
                text_words=len(extracted.markdown.split()), date=extracted.date,
                page_language=extracted.page_language, code_blocks=len(fenced),
                code_chars=sum(len(b.text) for b in fenced), code_hints=[b.lang_hint for b in fenced],
                code_score=getattr(page, "code_score", -1.0))


class ExtractCodePageFn(StageDoFn):
    """Pages in, Seeds out; extraction runs in a worker process so a page over the time limit is dropped, not hung."""

    def __init__(self, config: ExtractConfig, progress_interval_s: float = 10.0):
        super().__init__(STAGE, progress_interval_s)
        self.config = config

    def setup(self) -> None:
        super().setup()
        from transforms.extract_worker import ExtractionWorker

        self.worker = ExtractionWorker(self.config)  # a child interpreter: the time limit can kill it

    def teardown(self) -> None:
        worker = getattr(self, "worker", None)
        if worker is not None:
            worker.close()

    def decide(self, page) -> Seed | Drop:
        result = self.worker.extract(page.html, page.url)
        if isinstance(result, Drop):
            return result
        seed = seed_of(page, result)
        self.counters.count("text_chars", seed.text_chars)
        self.counters.count("text_words", seed.text_words)
        self.counters.count("code_blocks", seed.code_blocks)
        self.counters.count("code_chars", seed.code_chars)
        return seed


class ExtractCodePage(Stage):
    """Pages (or screened pages) in, Seeds out, with a `dropped` output."""

    def __init__(self, config: ExtractConfig, progress_interval_s: float = 10.0, label: str | None = None):
        super().__init__(ExtractCodePageFn(config, progress_interval_s), label)
