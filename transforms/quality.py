"""Quality: rules made for code pages; Gopher's symbol and short-line rules and C4's "{" rule would reject code."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple

from ledger.drop import Drop
from ledger.records import Seed
from transforms.code_blocks import split_code_prose
from transforms.stage import Stage, StageDoFn

STAGE = "Quality"
_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_WORD_RE = re.compile(r"[^\W_]+", re.U)
_BOILERPLATE_RE = re.compile(
    r"cookie|all rights reserved|©|\(c\) \d{4}|privacy policy|terms of (use|service)|sign (in|up)|log ?in\b|"
    r"subscribe|newsletter|share (on|this)|follow us|click here|skip to (main )?content|javascript is disabled|"
    r"enable javascript|accept all|advertisement|powered by|back to top|read more$",
    re.I,
)


@dataclass(frozen=True)
class QualityConfig:
    """The thresholds of the code-aware quality rules, one per drop reason."""

    min_prose_words: int = 40
    max_code_fraction: float = 0.95
    min_code_lines: int = 1
    max_dup_line_fraction: float = 0.3
    max_dup_code_block_fraction: float = 0.5
    max_top_2gram_fraction: float = 0.2
    max_boilerplate_fraction: float = 0.3
    max_line_chars: int = 3000


class QualityMetrics(NamedTuple):
    """What the rules look at, kept so thresholds can be re-tuned without re-reading pages."""

    prose_words: int
    code_lines: int
    code_fraction: float  # code characters / all non-blank characters
    dup_line_fraction: float  # characters in repeated prose lines / prose characters
    dup_code_block_fraction: float  # repeated code blocks / code blocks
    top_2gram_fraction: float  # characters in the most frequent prose word 2-gram / characters in prose words
    boilerplate_fraction: float  # boilerplate prose lines / non-blank prose lines
    max_line_chars: int


def count_words(text: str) -> int:
    """Words of space-separated scripts plus one per CJK character, so Chinese prose is not counted as empty."""
    return len(_WORD_RE.findall(_CJK_RE.sub(" ", text))) + len(_CJK_RE.findall(text))


def _dup_line_fraction(lines: list[str]) -> float:
    seen: set[str] = set()
    total = dup = 0
    for line in lines:
        line = line.strip()
        if not line:
            continue
        total += len(line)
        if line in seen:
            dup += len(line)
        seen.add(line)
    return dup / total if total else 0.0


def _top_2gram_fraction(words: list[str]) -> float:
    if len(words) < 20:
        return 0.0  # too few words for a repetition statistic to mean anything
    grams = Counter(zip(words, words[1:], strict=False))
    (first, second), count = grams.most_common(1)[0]
    return count * (len(first) + len(second)) / sum(len(w) for w in words)


def quality_metrics(text: str) -> QualityMetrics:
    """Measure a page's prose and code, split by markdown fences (or code-looking lines when there are none)."""
    split = split_code_prose(text)
    prose_lines = split.prose_lines
    prose_chars = sum(len(line.strip()) for line in prose_lines)
    code_chars = sum(len(line.strip()) for block in split.code_blocks for line in block)
    blocks = ["\n".join(line.rstrip() for line in block).strip() for block in split.code_blocks]
    blocks = [b for b in blocks if b]
    words = [w.lower() for w in _WORD_RE.findall(split.prose)]
    nonblank = [line for line in prose_lines if line.strip()]
    return QualityMetrics(
        prose_words=count_words(split.prose),
        code_lines=split.code_lines,
        code_fraction=code_chars / (code_chars + prose_chars) if code_chars + prose_chars else 0.0,
        dup_line_fraction=_dup_line_fraction(prose_lines),
        dup_code_block_fraction=(len(blocks) - len(set(blocks))) / len(blocks) if blocks else 0.0,
        top_2gram_fraction=_top_2gram_fraction(words),
        boilerplate_fraction=(sum(1 for line in nonblank if _BOILERPLATE_RE.search(line)) / len(nonblank)
                              if nonblank else 0.0),
        max_line_chars=max((len(line) for line in text.splitlines()), default=0),
    )


def decide_quality(m: QualityMetrics, config: QualityConfig) -> Drop | None:
    """The first rule the page breaks, as a named drop reason with the measured value, or None."""
    rules = (
        (m.code_lines < config.min_code_lines, "too_few_code_lines", m.code_lines),
        (m.prose_words < config.min_prose_words, "too_few_prose_words", m.prose_words),
        (m.code_fraction > config.max_code_fraction, "code_prose_imbalance", round(m.code_fraction, 3)),
        (m.max_line_chars > config.max_line_chars, "line_too_long", m.max_line_chars),
        (m.dup_line_fraction > config.max_dup_line_fraction, "repeated_lines", round(m.dup_line_fraction, 3)),
        (m.dup_code_block_fraction > config.max_dup_code_block_fraction, "repeated_code_blocks",
         round(m.dup_code_block_fraction, 3)),
        (m.top_2gram_fraction > config.max_top_2gram_fraction, "repeated_ngrams", round(m.top_2gram_fraction, 3)),
        (m.boilerplate_fraction > config.max_boilerplate_fraction, "boilerplate", round(m.boilerplate_fraction, 3)),
    )
    for broken, reason, value in rules:
        if broken:
            return Drop(reason, str(value))
    return None


class QualityFn(StageDoFn):
    """Seeds in, seeds that pass every rule out, with prose_words and code_lines filled."""

    def __init__(self, config: QualityConfig, progress_interval_s: float = 10.0):
        super().__init__(STAGE, progress_interval_s)
        self.config = config

    def decide(self, seed: Seed) -> Seed | Drop:
        metrics = quality_metrics(seed.text)
        return decide_quality(metrics, self.config) or seed._replace(prose_words=metrics.prose_words,
                                                                     code_lines=metrics.code_lines)


class Quality(Stage):
    """Seeds in, seeds that pass the code-aware quality rules out, with a `dropped` output."""

    def __init__(self, config: QualityConfig, progress_interval_s: float = 10.0, label: str | None = None):
        super().__init__(QualityFn(config, progress_interval_s), label)
