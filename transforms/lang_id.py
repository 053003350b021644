"""LangId: fastText lid.176 on the prose of a seed (code blocks stripped, or code decides the language)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ledger.drop import Drop
from ledger.records import Seed
from transforms.code_blocks import split_code_prose
from transforms.model_files import load_fasttext
from transforms.stage import Stage, StageDoFn

STAGE = "LangId"
_SPACE_RE = re.compile(r"\s+")
_MARKUP_RE = re.compile(r"[#*_`>|\[\]]+")  # markdown marks say nothing about the language


@dataclass(frozen=True)
class LangIdConfig:
    """Which prose languages LangId keeps and how sure lid.176 must be."""

    model_path: str = "models/lid.176.ftz"
    languages: tuple[str, ...] = ("en", "zh")
    min_score: float = 0.5
    min_score_declared: float = 0.2
    max_chars: int = 5000


def prose_for_lid(text: str, max_chars: int) -> str:
    """The prose of a page on one line, without code blocks or markdown marks, cut to max_chars."""
    prose = split_code_prose(text).prose
    return _SPACE_RE.sub(" ", _MARKUP_RE.sub(" ", prose)).strip()[:max_chars]


def identify(model, prose: str) -> tuple[str, float]:
    """The most likely language (lid.176 code such as en, zh) and its probability; ('', 0.0) for no prose."""
    if not prose:
        return "", 0.0
    labels, probs = model.predict(prose, k=1)
    return labels[0].removeprefix("__label__"), min(float(probs[0]), 1.0)


def decide_language(lang: str, score: float, config: LangIdConfig, declared: str = "") -> Drop | None:
    """Keep prose in a configured language with enough confidence; otherwise name why not. API reference pages have
    little prose and lid.176 is unsure of it: when the page declares the language the model guesses (<html lang>),
    the two weak signals agree and the lower floor `min_score_declared` applies."""
    if not lang:
        return Drop("no_prose")
    if config.languages and lang not in config.languages:
        return Drop("language", f"{lang}:{score:.3f}")
    floor = config.min_score_declared if declared.split("-")[0] == lang else config.min_score
    if score < floor:
        return Drop("language_uncertain", f"{lang}:{score:.3f}")
    return None


class LangIdFn(StageDoFn):
    """Seeds in, seeds with nl_lang and nl_score out; lid.176 is loaded once per worker in setup()."""

    def __init__(self, config: LangIdConfig, progress_interval_s: float = 10.0):
        super().__init__(STAGE, progress_interval_s)
        self.config = config

    def setup(self) -> None:
        super().setup()
        self.model = load_fasttext(self.config.model_path)

    def decide(self, seed: Seed) -> Seed | Drop:
        text = seed.title + "\n" + seed.text if seed.title else seed.text
        lang, score = identify(self.model, prose_for_lid(text, self.config.max_chars))
        drop = decide_language(lang, score, self.config, seed.page_language)
        return drop or seed._replace(nl_lang=lang, nl_score=round(score, 4))


class LangId(Stage):
    """Seeds in, seeds in the configured prose languages out, with a `dropped` output."""

    def __init__(self, config: LangIdConfig, progress_interval_s: float = 10.0, label: str | None = None):
        super().__init__(LangIdFn(config, progress_interval_s), label)
