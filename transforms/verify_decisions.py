"""The verification decisions, pure: which path a question takes, the program a response holds, the tests a reply
holds, the stable order the judge sees, what a verdict says, and which response wins by tests or by verdict."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from ledger.drop import Drop
from ledger.ids import stable_id
from ledger.records import Pair, PreferencePair
from prompts.render import parse_json_reply, schema_problem

TESTS, JUDGE = "tests", "judge"
# syncode's sandbox languages, and the names questions give them (the question model writes free text)
SANDBOX_LANGUAGES = ("python", "javascript", "typescript", "c", "cpp", "java", "go", "rust", "bash", "php", "ruby")
_ALIASES = {"python3": "python", "py": "python", "js": "javascript", "node": "javascript", "node.js": "javascript",
            "nodejs": "javascript", "ts": "typescript", "c++": "cpp", "cxx": "cpp", "golang": "go", "rs": "rust",
            "shell": "bash", "sh": "bash", "bash script": "bash", "shell script": "bash", "rb": "ruby"}
# the fence labels a response may give its code, per sandbox language
_FENCE_LABELS = {"python": {"python", "py", "python3"}, "javascript": {"javascript", "js", "node"},
                 "typescript": {"typescript", "ts"}, "c": {"c", "h"}, "cpp": {"cpp", "c++", "cxx", "cc", "hpp"},
                 "java": {"java"}, "go": {"go", "golang"}, "rust": {"rust", "rs"},
                 "bash": {"bash", "sh", "shell", "zsh"}, "php": {"php"}, "ruby": {"ruby", "rb"}}
_FENCE = re.compile(r"^```[ \t]*([^\s`]*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
PASSED = "passed"
# outcomes that are the response's fault; no_runtime and sandbox_error say nothing about it
FAILING = frozenset({"failed", "compile_error", "timeout", "memory_limit", "output_limit", "no_code"})


def sandbox_language(name: str) -> str | None:
    """The sandbox language a question's programming language names, or None when the sandbox has none for it."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    return key if key in SANDBOX_LANGUAGES else None


def verification_route(algorithmic: bool, testable: bool, programming_language: str, tests_enabled: bool) -> str:
    """`tests` for an algorithmic, testable question in a sandbox language (when tests are on), else `judge`."""
    if tests_enabled and algorithmic and testable and sandbox_language(programming_language):
        return TESTS
    return JUDGE


def extract_program(response: str, language: str) -> str | None:
    """The code a response answers with: its longest fenced block labelled with the language, else its longest
    unlabelled block; None when it has neither (then it fails as `no_code`, without running)."""
    labelled, unlabelled = [], []
    for label, body in _FENCE.findall(response):
        label = label.strip().lower()
        if label in _FENCE_LABELS.get(language, {language}):
            labelled.append(body)
        elif not label:
            unlabelled.append(body)
    blocks = labelled or unlabelled
    blocks = [b for b in blocks if b.strip()]
    return max(blocks, key=len).rstrip() + "\n" if blocks else None


def parse_tests_reply(text: str, schema: dict[str, Any]) -> dict[str, str] | Drop:
    """The entry point and test code from a tests reply."""
    value = parse_json_reply(text)
    if value is None:
        return Drop("unparseable_output", text[:300])
    problem = schema_problem(value, schema)
    if problem:
        return Drop("off_schema", problem)
    code = str(value["test_code"]).strip()
    if not code:
        return Drop("empty_tests")
    return {"entry_point": str(value["entry_point"]).strip(), "test_code": code + "\n"}


# ---------------------------------------------------------------- position bias: a stable shuffle, recorded


def judge_order(question_id: str, samples: list[int], seed: str) -> list[int]:
    """The order (sample indices) the judge sees a question's candidates in: a shuffle fixed by a hash of the seed,
    the question and the sample, so every position is equally likely for every sample and reruns agree."""
    return sorted(samples, key=lambda s: stable_id(seed, question_id, str(s)))


def judge_schema(n: int) -> dict[str, Any]:
    """The verdict's JSON schema for n candidates: a reason first, then a score per shown answer, then the best.

    Enums, not ranges, so every guided-decoding backend keeps the values in bounds; maxLength on the string."""
    scores = {f"score_{i}": {"type": "integer", "enum": list(range(1, 11))} for i in range(1, n + 1)}
    return {"type": "object",
            "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 600}, **scores,
                           "best": {"type": "integer", "enum": list(range(1, n + 1))}},
            "required": ["reason", *scores, "best"], "additionalProperties": False}


class Verdict(NamedTuple):
    """A judge's verdict in shown positions (0-based): the best, each candidate's score, why, and whether tied."""

    best: int
    scores: list[int]
    reason: str
    tied: bool  # another candidate got the best's score; the judge's `best` broke the tie


def read_verdict(text: str, n: int) -> Verdict | Drop:
    """A verdict from the judge's reply: `unparseable_verdict` when there is no JSON object, `malformed_verdict`
    when it misses or mistypes a field, `inconsistent_verdict` when the best is scored below another."""
    value = parse_json_reply(text)
    if value is None:
        return Drop("unparseable_verdict", text[:300])
    problem = schema_problem(value, judge_schema(n))
    if problem:
        return Drop("malformed_verdict", problem)
    scores = [int(value[f"score_{i}"]) for i in range(1, n + 1)]
    best = int(value["best"]) - 1
    reason = str(value["reason"]).strip()
    if not reason:
        return Drop("malformed_verdict", "empty reason")
    if scores[best] < max(scores):
        return Drop("inconsistent_verdict", f"best={best + 1} scored {scores[best]} below {max(scores)}")
    return Verdict(best, scores, reason, tied=scores.count(scores[best]) > 1)


# ---------------------------------------------------------------- selections


class Selection(NamedTuple):
    """A question's verified outcome: the chosen pair (verification columns filled) and its preference pairs."""

    chosen: Pair
    preference: list[PreferencePair]


def preference_pair(chosen: Pair, rejected: Pair, chosen_score: float, rejected_score: float, reason: str,
                    method: str) -> PreferencePair:
    return PreferencePair(
        id=stable_id(chosen.id, rejected.id), question_id=chosen.question_id, seed_id=chosen.seed_id, url=chosen.url,
        prompt=chosen.instruction, chosen=chosen.response, rejected=rejected.response, chosen_id=chosen.id,
        rejected_id=rejected.id, chosen_score=float(chosen_score), rejected_score=float(rejected_score),
        reason=reason, method=method, language=chosen.language, programming_language=chosen.programming_language,
        category=chosen.category, subcategory=chosen.subcategory, tier=chosen.tier)


def select_by_verdict(candidates: list[Pair], order: list[int], verdict: Verdict, min_score: int = 0
                      ) -> Selection | Drop:
    """The judge's best as the chosen pair; every candidate it scored strictly lower is a rejected one."""
    by_sample = {p.sample_index: p for p in candidates}
    shown = [by_sample[s] for s in order]
    best, best_score = shown[verdict.best], verdict.scores[verdict.best]
    if best_score < min_score:
        return Drop("low_score", f"best scored {best_score} < {min_score}")
    chosen = best._replace(verification_method=JUDGE, verification_passed=None,
                           verification_score=float(best_score), verification_reason=verdict.reason,
                           verification_candidates=len(candidates), verification_pass_rate=None,
                           verification_sandbox="", verification_order=",".join(map(str, order)))
    pairs = [preference_pair(chosen, other, best_score, score, verdict.reason, JUDGE)
             for other, score in zip(shown, verdict.scores, strict=True) if score < best_score]
    return Selection(chosen, sorted(pairs, key=lambda p: p.rejected_id))


class SandboxDecision(NamedTuple):
    """What the tests say about a question: `selected` (with the selection), or why the judge decides instead
    (`suspect_tests`, `no_runtime`, `no_code`), or `sandbox_error` when nothing could be run at all."""

    outcome: str
    selection: Selection | None = None
    detail: str = ""


def select_by_tests(candidates: list[Pair], statuses: dict[str, str], level: str) -> SandboxDecision:
    """Keep the responses that pass; choose the one with the lowest sample index (the samples are i.i.d. draws, so
    this is a fair, reproducible pick); each response that failed through its own fault is a rejected one.

    A test program that no response passes is suspect (CodeT's dual agreement: a test no solution agrees with adds
    nothing to any consensus set, so it cannot condemn them all): the judge decides that question instead. So it
    does when no response has code, or when the language has no runtime; when the sandbox itself failed on every
    run, the question is a dead letter for a rerun.
    """
    ran = [p for p in candidates if statuses.get(p.id) in FAILING | {PASSED}]
    passed = [p for p in ran if statuses[p.id] == PASSED]
    counts = {s: list(statuses.values()).count(s) for s in sorted(set(statuses.values()))}
    detail = ", ".join(f"{s}={n}" for s, n in counts.items())
    if not passed:
        if ran and all(statuses[p.id] == "no_code" for p in ran):
            return SandboxDecision("no_code", detail=detail)
        if ran:
            return SandboxDecision("suspect_tests", detail=detail)
        if candidates and all(statuses.get(p.id) == "no_runtime" for p in candidates):
            return SandboxDecision("no_runtime", detail=detail)
        return SandboxDecision("sandbox_error", detail=detail)
    best = min(passed, key=lambda p: p.sample_index)
    rate = len(passed) / len(candidates)
    reason = f"passed the generated tests ({len(passed)} of {len(candidates)} passed; {detail})"
    chosen = best._replace(verification_method=TESTS, verification_passed=True, verification_score=1.0,
                           verification_reason=reason, verification_candidates=len(candidates),
                           verification_pass_rate=rate, verification_sandbox=level, verification_order="")
    pairs = [preference_pair(chosen, p, 1.0, 0.0, f"chosen passed the generated tests; rejected: {statuses[p.id]}",
                             TESTS) for p in ran if statuses[p.id] != PASSED]
    return SandboxDecision("selected", Selection(chosen, sorted(pairs, key=lambda p: p.rejected_id)), detail)
