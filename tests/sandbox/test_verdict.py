"""The status decision and the source-unit rules: pure functions, exact statuses."""

from __future__ import annotations

import pytest

from sandbox.languages import GO_TEST_RE, canonical_language, java_main_class, joined, recipe
from sandbox.verdict import RunFacts, decide_status, runtime_out_of_memory

RAN = {"started": True, "compiled": True, "compile_failed": False}


@pytest.mark.parametrize(("facts", "status"), [
    (RunFacts(**RAN, exit_code=0), "passed"),
    (RunFacts(**RAN, exit_code=1), "failed"),
    (RunFacts(**RAN, exit_code=-9), "failed"),
    # an exhausted limit never passes, even when the program caught it and exited 0
    (RunFacts(**RAN, exit_code=0, memory_exceeded=True), "memory_limit"),
    (RunFacts(**RAN, exit_code=0, output_exceeded=True), "output_limit"),
    (RunFacts(**RAN, exit_code=0, processes_exceeded=True), "failed"),
    (RunFacts(**RAN, exit_code=None, timed_out=True), "timeout"),
    # the cap that was hit says more than the clock that then ran out
    (RunFacts(**RAN, exit_code=None, timed_out=True, processes_exceeded=True), "failed"),
    (RunFacts(**RAN, exit_code=None, timed_out=True, memory_exceeded=True), "memory_limit"),
    (RunFacts(started=True, compiled=False, compile_failed=True, exit_code=1), "compile_error"),
    (RunFacts(started=True, compiled=False, compile_failed=False, exit_code=None, timed_out=True), "timeout"),
    (RunFacts(started=True, compiled=False, compile_failed=False, exit_code=137), "compile_error"),
    (RunFacts(started=False, compiled=False, compile_failed=False, exit_code=1), "sandbox_error"),
])
def test_decide_status(facts: RunFacts, status: str) -> None:
    assert decide_status(facts)[0] == status


def test_timeout_reason_names_the_clock() -> None:
    compile_clock = RunFacts(started=True, compiled=False, compile_failed=False, exit_code=None, timed_out=True)
    assert decide_status(compile_clock)[1] == "the compile timeout ran out"
    assert decide_status(RunFacts(**RAN, exit_code=None, timed_out=True))[1] == "the wall timeout ran out"


def test_runtime_out_of_memory_only_downgrades() -> None:
    jvm = b"Terminating due to java.lang.OutOfMemoryError: Java heap space\n"
    assert runtime_out_of_memory(jvm, 3)
    assert runtime_out_of_memory(b"FATAL ERROR: Reached heap limit ... JavaScript heap out of memory", 134)
    assert not runtime_out_of_memory(jvm, 0)  # a program printing the words and exiting 0 is judged on its exit
    assert not runtime_out_of_memory(b"AssertionError\n", 1)


def test_java_file_is_named_after_the_public_class_with_main() -> None:
    source = ("class Helper { int x; }\npublic class Solution { int f() { return 1; } }\n"
              "public class Runner { public static void main(String[] a) {} }\n")
    assert java_main_class(source) == "Runner"
    assert java_main_class("class Main { public static void main(String[] a) {} }") == "Main"
    assert java_main_class("interface X {}") == "Main"


def test_go_tests_are_their_own_file_only_with_testxxx() -> None:
    tests = 'package main\n\nimport "testing"\n\nfunc TestAdd(t *testing.T) {\n}\n'
    assert GO_TEST_RE.search(tests)
    unit = recipe("go", "package main\nfunc add(a, b int) int { return a + b }\n", tests, 512, None)
    assert set(unit.files) == {"go.mod", "main.go", "main_test.go"} and "go test" in unit.compile
    plain = recipe("go", "package main\n", "func main() {}\n", 512, None)
    assert set(plain.files) == {"go.mod", "main.go"} and "go build" in plain.compile


def test_rust_test_attribute_selects_the_test_harness() -> None:
    assert "--test" in recipe("rust", "fn f() {}", "#[test]\nfn t() { f(); }", 512, None).compile
    assert "--test" not in recipe("rust", "fn f() {}", "fn main() { f(); }", 512, None).compile


def test_c_and_cpp_standards_and_libm() -> None:
    c = recipe("c", "", "", 512, None).compile
    cpp = recipe("cpp", "", "", 512, "/somewhere").compile
    assert "-std=c17" in c and c.endswith("-lm")
    assert "-std=c++17" in cpp and cpp.endswith("-lm") and "-include bits/stdc++.h" in cpp


def test_program_then_tests_in_one_unit() -> None:
    assert joined("def f(): pass", "assert f() is None") == "def f(): pass\n\nassert f() is None\n"
    php = recipe("php", "<?php function f() { return 1; }", "<?php assert(f() === 1);", 512, None)
    assert php.files["main.php"].count("<?php") == 1


def test_language_aliases() -> None:
    assert canonical_language("Python3") == "python"
    assert canonical_language("C++") == "cpp"
    assert canonical_language("TS") == "typescript"
    assert canonical_language("cobol") == "cobol"
