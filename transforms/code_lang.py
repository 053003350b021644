"""CodeLang: each code block gets a language (its markup's hint, else magika); the page's has the most code chars."""

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
# Markup hints (class="language-x", fence info strings) -> magika's label names: the author's own declaration wins
HINT_LABELS = {
    "js": "javascript", "javascript": "javascript", "mjs": "javascript", "cjs": "javascript", "node": "javascript",
    "jsx": "javascript", "ts": "typescript", "typescript": "typescript", "tsx": "typescript", "py": "python",
    "python": "python", "python3": "python", "pycon": "python", "rs": "rust", "rust": "rust", "sh": "shell",
    "bash": "shell", "shell": "shell", "zsh": "shell", "console": "shell", "shell-session": "shell", "c": "c",
    "cpp": "cpp", "c++": "cpp", "cxx": "cpp", "java": "java", "go": "go", "golang": "go", "rb": "ruby",
    "ruby": "ruby", "php": "php", "sql": "sql", "psql": "sql", "postgresql": "sql", "mysql": "sql",
    "hs": "haskell", "haskell": "haskell", "ml": "ocaml", "ocaml": "ocaml", "erl": "erlang", "erlang": "erlang",
    "scala": "scala", "kotlin": "kotlin", "kt": "kotlin", "swift": "swift", "cmake": "cmake", "lua": "lua",
    "r": "r", "perl": "perl", "pl": "perl", "groovy": "groovy", "matlab": "matlab", "octave": "matlab",
    "objc": "objectivec", "objective-c": "objectivec", "objectivec": "objectivec", "lisp": "lisp",
    "common-lisp": "lisp", "clojure": "clojure", "elixir": "elixir", "dart": "dart", "julia": "julia",
    "zig": "zig", "pascal": "pascal", "delphi": "pascal", "prolog": "prolog", "coffeescript": "coffeescript",
    "coffee": "coffeescript", "css": "css", "scss": "scss", "html": "html", "xml": "xml", "json": "json",
    "yaml": "yaml", "yml": "yaml", "dockerfile": "dockerfile", "makefile": "makefile", "make": "makefile",
    "powershell": "powershell", "ps1": "powershell", "vb": "vba", "vba": "vba", "asm": "asm", "nasm": "asm",
    "cs": "cs", "csharp": "cs", "c#": "cs", "tcl": "tcl", "verilog": "verilog", "vhdl": "vhdl", "solidity": "solidity",
}


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

    def label_block(self, text: str, hint: str = "") -> BlockLabel:
        """The markup's own language when it names one magika knows; else magika's deep-learning label, kept only
        when it is a code type above the confidence floor."""
        if HINT_LABELS.get(hint.lower()):
            return BlockLabel(HINT_LABELS[hint.lower()], 1.0)
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
        fenced = parse_fences(seed.text)
        blocks = [b.text for b in fenced]
        labels = [self.label_block(b.text, b.lang_hint) for b in fenced]
        language, score = main_language(blocks, labels)
        self.counters.count("labelled_blocks", sum(1 for lab in labels if lab.label))
        self.counters.count("with_language" if language else "without_language")
        return seed._replace(code_languages=[lab.label for lab in labels], programming_language=language,
                             programming_language_score=score)


def CodeLang(config: CodeLangConfig, progress_interval_s: float = 10.0) -> Stage:  # noqa: N802
    """Seeds in, Seeds out with their programming language (no drops)."""
    return Stage(CodeLangFn(config, progress_interval_s))
