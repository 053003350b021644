"""Benchmark decontamination: an index of word n-grams from benchmark problems, and the match that drops a text."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from dedup.text import ngram_hashes, words
from ledger.files import read_jsonl

BUNDLED = Path(__file__).resolve().parent / "benchmarks"
BUNDLED_BENCHMARKS = {"humaneval": "HumanEval.jsonl.gz", "mbpp": "mbpp.jsonl.gz"}
PROMPT_KEYS = ("prompt", "question", "instruction", "text", "content")


class Problem(NamedTuple):
    """One benchmark problem: where it is from and the text whose n-grams must not appear in our data."""

    benchmark: str
    task_id: str
    text: str


class Contamination(NamedTuple):
    """The first n-gram a text shares with a benchmark problem, kept for audit."""

    benchmark: str
    task_id: str
    ngram: str

    def detail(self) -> str:
        return f"benchmark={self.benchmark} task={self.task_id} ngram={self.ngram!r}"


def bundled_problems(name: str) -> list[Problem]:
    """HumanEval (prompt + canonical solution) or MBPP (text + reference code), from the copies in the package."""
    if name not in BUNDLED_BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; bundled: {', '.join(sorted(BUNDLED_BENCHMARKS))}")
    rows = read_jsonl(BUNDLED / BUNDLED_BENCHMARKS[name])
    if name == "humaneval":
        return [Problem(name, r["task_id"], r["prompt"] + "\n" + r["canonical_solution"]) for r in rows]
    return [Problem(name, str(r["task_id"]), r["text"] + "\n" + r["code"]) for r in rows]


def user_problems(path: str) -> list[Problem]:
    """Prompts from a user's JSONL (CodeArena, MultiPL-E...): the first of prompt/question/instruction/text/content
    on each line; `task_id` or `id` names it. The benchmark is named after the file."""
    p = Path(path)
    if not p.exists():
        raise ValueError(f"decontamination prompts file not found: {path}")
    name = p.name.split(".")[0]
    out = []
    for n, row in enumerate(read_jsonl(p), 1):
        text = next((row[k] for k in PROMPT_KEYS if isinstance(row.get(k), str) and row[k].strip()), None)
        if text is None:
            raise ValueError(f"{path}:{n}: no prompt text (expected one of {', '.join(PROMPT_KEYS)})")
        out.append(Problem(name, str(row.get("task_id", row.get("id", n))), text))
    return out


def informative(gram: list[str]) -> bool:
    """False for an n-gram too plain to show contamination: mostly numbers or single characters (`0 1 2 ... 9`,
    `a b c ...`), or few distinct words (`0 0 0 ...`, `x y x y ...`); any text may hold those by chance."""
    plain = sum(1 for w in gram if len(w) == 1 or w.strip("_").isdigit() or not w.strip("_"))
    return plain * 2 <= len(gram) and len(set(gram)) * 2 > len(gram)


class BenchmarkIndex:
    """Hashed informative word n-grams of every benchmark problem, mapped to the first problem that has each."""

    def __init__(self, problems: Iterable[Problem], ngram: int = 10):
        self.ngram = ngram
        self._where: dict[int, tuple[int, int]] = {}
        self.problems: list[Problem] = []
        self.too_short = 0
        self.plain_ngrams = 0  # n-grams left out as uninformative (see `informative`)
        for problem in problems:
            tokens = words(problem.text)
            if len(tokens) < ngram:
                self.too_short += 1  # a problem shorter than the n-gram cannot be matched by it
                continue
            i = len(self.problems)
            self.problems.append(problem)
            for pos, h in enumerate(ngram_hashes(tokens, ngram).tolist()):
                if informative(tokens[pos:pos + ngram]):
                    self._where.setdefault(h, (i, pos))
                else:
                    self.plain_ngrams += 1

    def __len__(self) -> int:
        return len(self._where)

    def match(self, text: str) -> Contamination | None:
        """The first n-gram of `text` found in a benchmark problem, or None when the text is clean."""
        tokens = words(text)
        if len(tokens) < self.ngram:
            return None
        for h in ngram_hashes(tokens, self.ngram).tolist():
            hit = self._where.get(h)
            if hit is not None:
                problem = self.problems[hit[0]]
                gram = " ".join(words(problem.text)[hit[1]:hit[1] + self.ngram])
                return Contamination(problem.benchmark, problem.task_id, gram)
        return None


def build_index(benchmarks: Iterable[str], extra_jsonl: Iterable[str] = (), ngram: int = 10) -> BenchmarkIndex:
    """The index over the bundled benchmarks named and any user JSONL files of prompts."""
    problems: list[Problem] = []
    for name in benchmarks:
        problems.extend(bundled_problems(name))
    for path in extra_jsonl:
        problems.extend(user_problems(path))
    return BenchmarkIndex(problems, ngram)
