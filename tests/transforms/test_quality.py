from __future__ import annotations

from ledger.drop import Drop
from ledger.records import Seed
from transforms.quality import QualityConfig, QualityFn, count_words, decide_quality, quality_metrics

PROSE = ("The function below reads a configuration file and returns a dictionary of settings. It raises an error "
         "when a required key is missing, so callers learn early that the file is incomplete. ")
CODE = "```python\nimport json\n\ndef load(path):\n    with open(path) as fh:\n        return json.load(fh)\n```\n"
GOOD = PROSE + "\n" + CODE + "Call it once at start-up and pass the result to the components that need it."


def _reason(text: str, **overrides) -> str | None:
    drop = decide_quality(quality_metrics(text), QualityConfig(**overrides))
    return drop.reason if drop else None


def test_a_page_with_code_and_explanation_passes():
    assert _reason(GOOD) is None
    metrics = quality_metrics(GOOD)
    assert metrics.code_lines == 4 and metrics.prose_words > 40


def test_each_rule_has_its_named_reason():
    assert _reason(PROSE * 3) == "too_few_code_lines"
    assert _reason("Short note.\n" + CODE) == "too_few_prose_words"
    assert _reason(GOOD, max_code_fraction=0.1) == "code_prose_imbalance"
    assert _reason(GOOD + "\n" + "x" * 4000) == "line_too_long"
    assert _reason(GOOD + "\n" + "\n".join(["Subscribe to our newsletter for weekly updates today"] * 20)) in (
        "repeated_lines", "boilerplate")
    assert _reason(GOOD + "\n" + CODE * 4) == "repeated_code_blocks"
    assert _reason(GOOD + " " + "buy now " * 200) == "repeated_ngrams"
    lines = "\n".join(["Accept all cookies", "Privacy policy", "Sign in", "Follow us", "Log in to comment"])
    assert _reason(GOOD + "\n" + lines, max_dup_line_fraction=1.0) == "boilerplate"


def test_code_symbols_and_short_lines_are_not_held_against_a_page():
    braces = PROSE * 2 + "\n```c\nint main(void) {\n  if (x) {\n    y();\n  }\n  return 0;\n}\n```\n" + PROSE[::-1][:0]
    assert _reason(braces) is None


def test_chinese_words_are_counted_per_character():
    assert count_words("向量是数组 push 方法") == 5 + 2 + 1


def test_stage_fills_the_metrics():
    fn = QualityFn(QualityConfig())
    fn.setup()
    seed = Seed("i", "u", "d", "r", "w", "c", "f", 0, "t", GOOD, len(GOOD), len(GOOD.split()))
    kept = fn.decide(seed)
    assert kept.code_lines == 4 and kept.prose_words == quality_metrics(GOOD).prose_words
    assert isinstance(fn.decide(seed._replace(text=PROSE)), Drop)
