"""Verdicts per language: a known-good program passes, a known-wrong one fails, a broken one does not compile.

The problem is the same everywhere: gcd(a, b). The tests exit non-zero on a wrong answer (or use the language's own
test harness: Go's `testing`, Rust's `#[test]`).
"""

from __future__ import annotations

import pytest

from sandbox import Sample
from tests.sandbox.conftest import need

# language -> (good program, wrong program, tests, a program that does not compile or "" for interpreters)
CASES = {
    "python": ("def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n",
               "def gcd(a, b):\n    return min(a, b)\n",
               "assert gcd(12, 18) == 6\nassert gcd(7, 5) == 1\nassert gcd(0, 9) == 9\n", ""),
    "javascript": ("function gcd(a, b) { while (b) { [a, b] = [b, a % b]; } return a; }\n",
                   "function gcd(a, b) { return Math.min(a, b); }\n",
                   "const assert = require('assert');\nassert.strictEqual(gcd(12, 18), 6);\n"
                   "assert.strictEqual(gcd(7, 5), 1);\nassert.strictEqual(gcd(0, 9), 9);\n", ""),
    "typescript": ("function gcd(a: number, b: number): number { while (b) { [a, b] = [b, a % b]; } return a; }\n",
                   "function gcd(a: number, b: number): number { return Math.min(a, b); }\n",
                   "const cases: Array<[number, number, number]> = [[12, 18, 6], [7, 5, 1], [0, 9, 9]];\n"
                   "for (const [a, b, want] of cases) {\n"
                   "  if (gcd(a, b) !== want) { throw new Error(`gcd ${a} ${b}`); }\n}\n",
                   "function gcd(a: number, b: number): number { return ( }\n"),
    "c": ("int gcd(int a, int b) { while (b) { int t = a % b; a = b; b = t; } return a; }\n",
          "int gcd(int a, int b) { return a < b ? a : b; }\n",
          "#include <math.h>\nint main(void) { return !(gcd(12, 18) == 6 && gcd(7, 5) == 1 && gcd(0, 9) == 9 "
          "&& (int)sqrt(49.0) == 7); }\n",
          "int gcd(int a, int b) { return a +; }\n"),
    "cpp": ("#include <numeric>\nlong gcd2(long a, long b) { return std::gcd(a, b); }\n",
            "#include <algorithm>\nlong gcd2(long a, long b) { return std::min(a, b); }\n",
            "#include <cassert>\n#include <vector>\nint main() { std::vector<long> w{gcd2(12, 18), gcd2(7, 5), "
            "gcd2(0, 9)}; return w == std::vector<long>{6, 1, 9} ? 0 : 1; }\n",
            "long gcd2(long a, long b) { return std::gcd(a b); }\n"),
    "java": ("class Solution {\n  static int gcd(int a, int b) { return b == 0 ? a : gcd(b, a % b); }\n}\n",
             "class Solution {\n  static int gcd(int a, int b) { return Math.min(a, b); }\n}\n",
             "public class Main {\n  public static void main(String[] args) {\n"
             "    if (Solution.gcd(12, 18) != 6 || Solution.gcd(7, 5) != 1 || Solution.gcd(0, 9) != 9) "
             "System.exit(1);\n  }\n}\n",
             "class Solution {\n  static int gcd(int a, int b) { return a +; }\n}\n"),
    "go": ("package main\n\nfunc gcd(a, b int) int {\n\tfor b != 0 {\n\t\ta, b = b, a%b\n\t}\n\treturn a\n}\n",
           "package main\n\nfunc gcd(a, b int) int {\n\tif a < b {\n\t\treturn a\n\t}\n\treturn b\n}\n",
           "func main() {\n\tif gcd(12, 18) != 6 || gcd(7, 5) != 1 || gcd(0, 9) != 9 {\n"
           "\t\tpanic(\"wrong\")\n\t}\n}\n",
           "package main\n\nfunc gcd(a, b int) int { return a + }\n"),
    "rust": ("fn gcd(a: u64, b: u64) -> u64 { if b == 0 { a } else { gcd(b, a % b) } }\n",
             "fn gcd(a: u64, b: u64) -> u64 { a.min(b) }\n",
             "fn main() { assert_eq!(gcd(12, 18), 6); assert_eq!(gcd(7, 5), 1); assert_eq!(gcd(0, 9), 9); }\n",
             "fn gcd(a: u64, b: u64) -> u64 { a + }\n"),
    "bash": ("gcd() { local a=$1 b=$2 t; while [ \"$b\" -ne 0 ]; do t=$((a % b)); a=$b; b=$t; done; echo $a; }\n",
             "gcd() { if [ \"$1\" -lt \"$2\" ]; then echo $1; else echo $2; fi; }\n",
             "set -e\n[ \"$(gcd 12 18)\" = 6 ]\n[ \"$(gcd 7 5)\" = 1 ]\n[ \"$(gcd 0 9)\" = 9 ]\n", ""),
    "php": ("<?php\nfunction gcd($a, $b) { while ($b) { [$a, $b] = [$b, $a % $b]; } return $a; }\n",
            "<?php\nfunction gcd($a, $b) { return min($a, $b); }\n",
            "<?php\nif (gcd(12, 18) !== 6 || gcd(7, 5) !== 1 || gcd(0, 9) !== 9) { exit(1); }\n", ""),
    "ruby": ("def gcd(a, b)\n  b.zero? ? a : gcd(b, a % b)\nend\n",
             "def gcd(a, b)\n  [a, b].min\nend\n",
             "raise 'wrong' unless gcd(12, 18) == 6 && gcd(7, 5) == 1 && gcd(0, 9) == 9\n", ""),
}

# Each language's own test harness: Go's `testing` (a _test.go file), Rust's #[test] (rustc --test).
HARNESS = {
    "go": ("package main\n\nimport \"testing\"\n\nfunc TestGcd(t *testing.T) {\n"
           "\tif gcd(12, 18) != 6 || gcd(7, 5) != 1 || gcd(0, 9) != 9 {\n\t\tt.Fatal(\"wrong\")\n\t}\n}\n"),
    "rust": "#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n    fn small() { assert_eq!(gcd(12, 18), 6); "
            "assert_eq!(gcd(0, 9), 9); }\n}\n",
}


def _samples() -> list[Sample]:
    samples = []
    for language, (good, wrong, tests, broken) in CASES.items():
        samples += [Sample(f"{language}/good", language, good, tests),
                    Sample(f"{language}/wrong", language, wrong, tests)]
        if broken:
            samples.append(Sample(f"{language}/broken", language, broken, tests))
    for language, tests in HARNESS.items():
        good, wrong = CASES[language][:2]
        if language == "go":  # the program of a `go test` run needs no main
            good, wrong = (p + "\nfunc main() {}\n" for p in (good, wrong))
        samples += [Sample(f"{language}/harness-good", language, good, tests),
                    Sample(f"{language}/harness-wrong", language, wrong, tests)]
    return samples


@pytest.fixture(scope="module")
def verdicts(box):
    wanted = [s for s in _samples() if box.toolchains.get(s.language)]
    return {o.id: o for o in box.run_many(wanted)}


@pytest.mark.parametrize("language", list(CASES))
def test_good_passes_wrong_fails(box, verdicts, language: str) -> None:
    need(box, language)
    good, wrong = verdicts[f"{language}/good"], verdicts[f"{language}/wrong"]
    assert good.status == "passed", (good.reason, good.stdout, good.stderr)
    assert good.passed and good.level == box.level
    assert wrong.status == "failed", (wrong.reason, wrong.stdout, wrong.stderr)
    assert not wrong.passed


@pytest.mark.parametrize("language", [k for k, v in CASES.items() if v[3]])
def test_broken_program_is_a_compile_error(box, verdicts, language: str) -> None:
    need(box, language)
    broken = verdicts[f"{language}/broken"]
    assert broken.status == "compile_error", (broken.reason, broken.stderr)
    assert broken.stderr  # the compiler's message comes back


@pytest.mark.parametrize("language", list(HARNESS))
def test_language_test_harness(box, verdicts, language: str) -> None:
    need(box, language)
    assert verdicts[f"{language}/harness-good"].status == "passed", verdicts[f"{language}/harness-good"].stderr
    assert verdicts[f"{language}/harness-wrong"].status == "failed"


def test_unknown_language_is_no_runtime(box) -> None:
    outcome = box.run(Sample("x", "cobol", "DISPLAY 'HI'.", ""))
    assert outcome.status == "no_runtime" and not outcome.passed and "cobol" in outcome.reason


def test_missing_toolchain_is_no_runtime(box, monkeypatch) -> None:
    monkeypatch.setitem(box.toolchains, "ruby", False)
    assert box.run(Sample("r", "ruby", "puts 1", "")).status == "no_runtime"


def test_malformed_sample_is_a_sandbox_error_row(box) -> None:
    outcome = box.run(Sample("bad", "python", None, ""))  # type: ignore[arg-type]
    assert outcome.status == "sandbox_error" and outcome.id == "bad" and "program" in outcome.reason


def test_run_many_yields_every_id_once(box) -> None:
    samples = [Sample(f"s{i}", "python", f"x = {i}", f"assert x == {i if i % 3 else -1}") for i in range(8)]
    outcomes = list(box.run_many(samples))
    assert sorted(o.id for o in outcomes) == sorted(s.id for s in samples)
    assert {o.id for o in outcomes if o.passed} == {f"s{i}" for i in range(8) if i % 3}


@pytest.mark.parametrize("compile_step", ["", "true"])
def test_a_sandbox_that_cannot_be_set_up_is_a_sandbox_error(box, compile_step: str) -> None:
    """A mount bwrap cannot make (here: a bind of a missing path) fails the run as sandbox_error, never a pass."""
    from sandbox.languages import Recipe

    unit = Recipe({"main.py": "pass\n"}, compile_step, ["/usr/bin/python3", "main.py"],
                  binds=(("/nonexistent-syncode-path", "/opt/x"),))
    outcome = box._execute("setup", "python", unit, box.level, 256)
    assert outcome.status == "sandbox_error" and not outcome.passed, outcome
    assert "bwrap" in outcome.stderr


def test_jvm_at_its_heap_cap_is_memory_limit_even_when_caught() -> None:
    from sandbox import SandboxSettings
    from tests.sandbox.conftest import make_sandbox

    small = make_sandbox(SandboxSettings(wall_timeout_s=60, memory_mb_by_language={"java": 384}))
    need(small, "java")
    program = ("public class Main {\n  public static void main(String[] a) {\n"
               "    java.util.List<long[]> keep = new java.util.ArrayList<>();\n"
               "    try { while (true) keep.add(new long[1 << 20]); }\n"
               "    catch (OutOfMemoryError e) { keep = null; System.exit(0); }\n  }\n}\n")
    outcome = small.run(Sample("jvm-oom", "java", program, ""))
    assert outcome.status == "memory_limit", (outcome.reason, outcome.stdout, outcome.stderr)
