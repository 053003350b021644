"""CodeLang: magika tags each code block with a programming language; the page's main one has the most code chars."""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

from pipeline.config import CodeLangConfig
from pipeline.records import Seed
from transforms.stage import Stage, StageDoFn
from transforms.verbatim_code import parse_fences

STAGE = "CodeLang"
# magika groups that name a programming or data language a seed can be about ("text" holds txt, markdown, rst...)
_CODE_GROUPS = frozenset({"code"})


class BlockLabel(NamedTuple):
    """magika's answer for one block: the label ('' when unknown or not code) and its confidence."""

    label: str
    score: float


def main_language(blocks: list[str], labels: list[BlockLabel]) -> tuple[str, float]:
    """The label covering the most code characters, with (its share of labelled chars) x (its mean confidence)."""
    chars: dict[str, int] = defaultdict(int)
    weighted: dict[str, float] = defaultdict(float)
    for text, label in zip(blocks, labels, strict=True):
        if label.label:
            chars[label.label] += len(text)
            weighted[label.label] += len(text) * label.score
    if not chars:
        return "", 0.0
    best = max(chars, key=lambda k: (chars[k], k))
    share = chars[best] / sum(chars.values())
    return best, round(share * weighted[best] / chars[best], 4)


class CodeLangFn(StageDoFn):
    """Seeds in, Seeds out with per-block labels and the main programming language; it drops nothing."""

    def __init__(self, config: CodeLangConfig, progress_interval_s: float = 10.0):
        super().__init__(STAGE, progress_interval_s)
        self.config = config

    def setup(self) -> None:
        super().setup()
        from magika import Magika

        self._magika = Magika()  # ships its ONNX model in the wheel: no download

    def label_block(self, text: str) -> BlockLabel:
        """magika's deep-learning label for a block, kept only when it is a code type above the confidence floor."""
        if len(text.strip()) < self.config.min_block_chars:
            return BlockLabel("", 0.0)
        result = self._magika.identify_bytes(text.encode("utf-8", errors="replace"))
        if not result.ok:
            return BlockLabel("", 0.0)
        label, score = result.dl.label, float(result.score)
        if result.dl.group not in _CODE_GROUPS or score < self.config.min_score:
            return BlockLabel("", score)
        return BlockLabel(str(label), score)

    def decide(self, seed: Seed) -> Seed:
        blocks = [b.text for b in parse_fences(seed.text)]
        labels = [self.label_block(text) for text in blocks]
        language, score = main_language(blocks, labels)
        self.counters.count("labelled_blocks", sum(1 for lab in labels if lab.label))
        self.counters.count("with_language" if language else "without_language")
        return seed._replace(code_languages=[lab.label for lab in labels], programming_language=language,
                             programming_language_score=score)


def CodeLang(config: CodeLangConfig, progress_interval_s: float = 10.0) -> Stage:  # noqa: N802
    """Seeds in, Seeds out with their programming language (no drops)."""
    return Stage(CodeLangFn(config, progress_interval_s))
