"""CodeClassifier: a fastText model scores the first-pass text, so trafilatura runs only on code-related pages."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ledger.drop import Drop
from ledger.records import ScreenedPage
from transforms.model_files import load_fasttext
from transforms.stage import Stage, StageDoFn

STAGE = "CodeClassifier"
CODE_LABEL = "__label__code"
OTHER_LABEL = "__label__other"
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")  # a run of word characters, or one punctuation character
MAX_TOKENS = 1000
_CHUNK = 4000


@dataclass(frozen=True)
class CodeClassifierConfig:
    """The code classifier's model, threshold and how much text it reads."""

    model_path: str = "models/code_classifier.ftz"
    threshold: float = 0.5
    max_chars: int = 30000


def classifier_text(text: str, max_chars: int = 30000) -> str:
    """One line of tokens: punctuation split off (so `(`, `;`, `{` count as code signals), whitespace collapsed.

    Training and scoring both go through this function, so the model sees the same tokens in both. fastText reads
    at most 1024 words of a line and treats the rest as a new, unlabelled line, so the text is cut before that.
    """
    text = text[:max_chars]
    tokens: list[str] = []
    start = 0
    while start < len(text) and len(tokens) < MAX_TOKENS:  # tokenize only as much text as the model will read
        end = text.find(" ", start + _CHUNK)  # cut at a space, so no token is split in two
        end = len(text) if end < 0 else end + 1
        tokens.extend(_TOKEN_RE.findall(text, start, end))
        start = end
    return " ".join(tokens[:MAX_TOKENS])


def code_probability(model, text: str, max_chars: int = 30000) -> float:
    """The model's probability that the text is about code (0.0 for empty text)."""
    line = classifier_text(text, max_chars)
    if not line:
        return 0.0
    labels, probs = model.predict(line, k=2)
    for label, prob in zip(labels, probs, strict=True):
        if label == CODE_LABEL:
            return min(float(prob), 1.0)
    return 0.0


def decide_code(score: float, threshold: float) -> Drop | None:
    """Drop a page the classifier does not call code-related."""
    if score < threshold:
        return Drop("not_code", f"{score:.4f}")
    return None


class CodeClassifierFn(StageDoFn):
    """Scores ScreenedPages; the model is loaded once per worker in setup()."""

    def __init__(self, config: CodeClassifierConfig, progress_interval_s: float = 10.0):
        super().__init__(STAGE, progress_interval_s)
        self.config = config

    def setup(self) -> None:
        super().setup()
        self.model = load_fasttext(self.config.model_path)

    def decide(self, page: ScreenedPage) -> ScreenedPage | Drop:
        score = code_probability(self.model, page.plain_text, self.config.max_chars)
        return decide_code(score, self.config.threshold) or page._replace(code_score=score)


class CodeClassifier(Stage):
    """ScreenedPages in, code-related ScreenedPages (with code_score) out, with a `dropped` output."""

    def __init__(self, config: CodeClassifierConfig, progress_interval_s: float = 10.0, label: str | None = None):
        super().__init__(CodeClassifierFn(config, progress_interval_s), label)
