from __future__ import annotations

import json

import pytest

from dedup.decontam import BenchmarkIndex, Problem, build_index, bundled_problems, informative, user_problems
from transforms.decontaminate import contamination_drop


@pytest.fixture(scope="module")
def index() -> BenchmarkIndex:
    return build_index(["humaneval", "mbpp"], ngram=10)


def test_bundled_benchmarks_are_complete():
    assert len(bundled_problems("humaneval")) == 164
    assert len(bundled_problems("mbpp")) == 974
    with pytest.raises(ValueError, match="unknown benchmark"):
        bundled_problems("apps")


def test_page_quoting_a_humaneval_solution_is_dropped_with_benchmark_and_ngram(index):
    page = ("I found this on a forum, it works: def below_zero(operations: List[int]) -> bool:\n"
            "    balance = 0\n    for op in operations:\n        balance += op\n        if balance < 0:\n"
            "            return True\n    return False\nHope it helps.")
    drop = contamination_drop(index, page)
    assert drop.reason == "contaminated"
    assert "benchmark=humaneval task=HumanEval/3" in drop.detail
    assert "ngram='" in drop.detail


def test_mbpp_task_text_is_matched(index):
    mbpp_1 = bundled_problems("mbpp")[0]
    hit = index.match("Exercise: " + mbpp_1.text)
    assert (hit.benchmark, hit.task_id) == ("mbpp", "1")
    assert len(hit.ngram.split()) == 10


def test_ordinary_code_page_is_clean(index):
    page = ("The with statement wraps the execution of a block with methods defined by a context manager. "
            "Open the file with open(path) as fh and read each line, then close it when the block exits.")
    assert contamination_drop(index, page) is None


def test_user_jsonl_adds_a_benchmark_named_after_the_file(tmp_path):
    path = tmp_path / "codearena.jsonl"
    prompt = "Write a Rust function that parses a semantic version string and bumps the minor component."
    path.write_text(json.dumps({"id": "ca-7", "question": prompt}) + "\n")
    ix = build_index([], [str(path)], ngram=10)
    hit = ix.match("Task: " + prompt)
    assert (hit.benchmark, hit.task_id) == ("codearena", "ca-7")


def test_user_jsonl_without_prompts_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": 1, "answer": "x"}\n')
    with pytest.raises(ValueError, match="bad.jsonl:1: no prompt text"):
        user_problems(str(path))
    with pytest.raises(ValueError, match="not found"):
        user_problems(str(tmp_path / "missing.jsonl"))


def test_problems_shorter_than_the_ngram_are_counted():
    ix = BenchmarkIndex([Problem("b", "1", "too short")], ngram=10)
    assert ix.too_short == 1 and len(ix) == 0


@pytest.mark.parametrize("gram", ["0 1 2 3 4 5 6 7 8 9", "1 0 2 0 3 0 4 0 5 0", "a b c d e f g h i j",
                                  "x x x x x x x x x x", "foo bar foo bar foo bar foo bar foo bar",
                                  "__ 0x 1 2 3 4 5 6 7 8"])
def test_plain_ngrams_are_not_informative(gram):
    assert not informative(gram.split())


@pytest.mark.parametrize("gram", ["def below_zero operations list int bool balance 0 for op",
                                  "write a function to find the minimum cost path to reach"])
def test_ngrams_with_words_are_informative(gram):
    assert informative(gram.split())


def test_digits_and_letters_on_a_docs_page_are_not_humaneval_78(index):
    """HumanEval/78 lists `0, 1, 2, 3, 4, 5, 6, 7, 8, 9, A, B, C, D, E, F`; a page listing digits is not a copy."""
    page = "Decimal digits are 0 1 2 3 4 5 6 7 8 9; hexadecimal adds A, B, C, D, E, F. Octal stops at 7."
    assert contamination_drop(index, page) is None
    assert index.plain_ngrams > 0


def test_every_benchmark_problem_still_matches_itself_without_plain_ngrams(index):
    missed = [p.task_id for name in ("humaneval", "mbpp") for p in bundled_problems(name)
              if len(p.text.split()) >= 10 and index.match(p.text) is None]
    assert missed == []
