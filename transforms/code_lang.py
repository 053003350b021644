"""CodeLang: each code block gets a language (its markup's hint, else magika); the page's has the most code chars.

magika costs the same ~10 ms for any block (it reads a fixed 2 KiB window), so a page's blocks are deduplicated, only
the longest `max_blocks_per_page` unhinted ones are candidates, and magika reads them longest first until the rest
could no longer change the page's language. Blocks it did not read keep the label ''."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from ledger.records import Seed
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


@dataclass(frozen=True)
class CodeLangConfig:
    """How CodeLang labels blocks: magika's floor, block size and how many blocks it reads."""

    min_score: float = 0.2
    min_block_chars: int = 20
    max_blocks_per_page: int = 8
    stop_when_settled: bool = True
    onnx_threads: int = 1


class BlockLabel(NamedTuple):
    """magika's answer for one block: the label ('' when unknown or not code) and its confidence."""

    label: str
    score: float


def blocks_to_label(texts: list[str], hints: list[str], min_chars: int, max_blocks: int) -> list[int]:
    """Indices of the blocks magika reads: no known hint, at least `min_chars`, one per distinct text, the longest
    `max_blocks` of them (0 or less: no cap), in page order."""
    first: dict[str, int] = {}
    for n, (text, hint) in enumerate(zip(texts, hints, strict=True)):
        if HINT_LABELS.get(hint.lower()) or len(text.strip()) < min_chars:
            continue
        first.setdefault(text, n)
    chosen = sorted(first.values(), key=lambda n: (-len(texts[n]), n))
    return sorted(chosen[:max_blocks] if max_blocks > 0 else chosen)


def language_settled(chars: dict[str, int], unread: int) -> bool:
    """Whether labelling `unread` more code characters could no longer change which label has the most."""
    if not chars:
        return unread == 0
    top = sorted(chars.values(), reverse=True)
    return top[0] - (top[1] if len(top) > 1 else 0) > unread


def main_language(blocks: list[str], labels: list[BlockLabel], unread_chars: int = 0) -> tuple[str, float]:
    """The label covering the most code characters, with (its share of labelled chars) x (its mean confidence);
    characters magika did not read count against the share, so stopping early never overstates it."""
    chars: dict[str, int] = defaultdict(int)
    weighted: dict[str, float] = defaultdict(float)
    for text, label in zip(blocks, labels, strict=True):
        if label.label:
            chars[label.label] += len(text)
            weighted[label.label] += len(text) * label.score
    if not chars:
        return "", 0.0
    best = max(chars, key=lambda k: (chars[k], k))
    share = chars[best] / (sum(chars.values()) + unread_chars)
    return best, round(share * weighted[best] / chars[best], 4)


class CodeLangFn(StageDoFn):
    """Seeds in, Seeds out with per-block labels and the main programming language; it drops nothing."""

    def __init__(self, config: CodeLangConfig, progress_interval_s: float = 10.0):
        super().__init__(STAGE, progress_interval_s)
        self.config = config

    def setup(self) -> None:
        super().setup()
        import onnxruntime
        from magika import Magika

        self._magika = Magika()  # ships its ONNX model in the wheel: no download
        # one thread: Beam runs a worker process per core, and ONNX's default pool would fight the others for them
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = self.config.onnx_threads
        self._magika._onnx_session = onnxruntime.InferenceSession(  # magika 1.0 takes no session options
            self._magika._model_path, sess_options=options, providers=["CPUExecutionProvider"])

    def magika_label(self, text: str) -> BlockLabel:
        """magika's deep-learning label for one block, kept only when it is a code type above the confidence floor."""
        result = self._magika.identify_bytes(text.encode("utf-8", errors="replace"))
        if not result.ok:
            return BlockLabel("", 0.0)
        label, score = result.dl.label, float(result.score)
        if result.dl.group not in _CODE_GROUPS or score < self.config.min_score:
            return BlockLabel("", score)
        return BlockLabel(str(label), score)

    def label_blocks(self, texts: list[str], hints: list[str]) -> tuple[list[BlockLabel], int]:
        """One label per block: hints as given; magika on the blocks `blocks_to_label` picks, longest first, until
        the page's main language is settled; identical texts share a label. The rest get ('', 0.0). Also returns
        the code characters of the candidate blocks magika did not read."""
        labels = [BlockLabel(HINT_LABELS[h.lower()], 1.0) if HINT_LABELS.get(h.lower()) else None for h in hints]
        chars: dict[str, int] = defaultdict(int)  # what main_language will weigh: code characters per label
        copies: dict[str, int] = defaultdict(int)
        for text, label in zip(texts, labels, strict=True):
            if label is not None:
                chars[label.label] += len(text)
            else:
                copies[text] += 1
        queue = sorted(blocks_to_label(texts, hints, self.config.min_block_chars, self.config.max_blocks_per_page),
                       key=lambda n: -len(texts[n]))
        unread = sum(len(texts[n]) * copies[texts[n]] for n in queue)
        read: dict[str, BlockLabel] = {}
        for n in queue:
            if self.config.stop_when_settled and language_settled(chars, unread):
                self.counters.count("magika_blocks_skipped", len(queue) - len(read))
                break
            read[texts[n]] = label = self.magika_label(texts[n])
            weight = len(texts[n]) * copies[texts[n]]
            unread -= weight
            if label.label:
                chars[label.label] += weight
        self.counters.count("magika_blocks", len(read))
        empty = BlockLabel("", 0.0)
        return [label if label is not None else read.get(text, empty)
                for text, label in zip(texts, labels, strict=True)], unread

    def decide(self, seed: Seed) -> Seed:
        fenced = parse_fences(seed.text)
        blocks = [b.text for b in fenced]
        labels, unread = self.label_blocks(blocks, [b.lang_hint for b in fenced])
        language, score = main_language(blocks, labels, unread)
        self.counters.count("labelled_blocks", sum(1 for lab in labels if lab.label))
        self.counters.count("with_language" if language else "without_language")
        return seed._replace(code_languages=[lab.label for lab in labels], programming_language=language,
                             programming_language_score=score)


class CodeLang(Stage):
    """Seeds in, Seeds out with their programming language (no drops)."""

    def __init__(self, config: CodeLangConfig, progress_interval_s: float = 10.0, label: str | None = None):
        super().__init__(CodeLangFn(config, progress_interval_s), label)
