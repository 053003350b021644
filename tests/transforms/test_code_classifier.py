from __future__ import annotations

import pytest

from ledger.drop import Drop
from ledger.records import Page
from tests.conftest import REPO
from transforms.code_classifier import (
    CodeClassifierConfig,
    CodeClassifierFn,
    classifier_text,
    code_probability,
    decide_code,
)
from transforms.first_pass import plain_text, screen_page

MODEL = REPO / "models" / "code_classifier.ftz"


def test_classifier_text_splits_punctuation_and_joins_lines():
    assert classifier_text("def f(x):\n    return x;") == "def f ( x ) : return x ;"
    assert classifier_text("a" * 50, max_chars=10) == "a" * 10


def test_decide_code_names_the_drop_and_keeps_the_score():
    assert decide_code(0.2, 0.5) == Drop("not_code", "0.2000")
    assert decide_code(0.5, 0.5) is None


@pytest.fixture(scope="module")
def classifier():
    fn = CodeClassifierFn(CodeClassifierConfig(model_path=str(MODEL)))
    fn.setup()
    return fn


def _screened(html: str):
    page = Page("id", "https://example.org/x", "r", "d", "c", "f", 0, "text/html", "utf-8", html)
    text = plain_text(html)
    return screen_page(page, text)


def test_bundled_model_tells_code_docs_from_news(classifier):
    code = _screened("<html><body><h1>Reading files in Python</h1><p>Open the file with a context manager so it is "
                     "closed even when an exception is raised.</p><pre>import json\n\nwith open('data.json') as fh:\n"
                     "    data = json.load(fh)\nfor key, value in data.items():\n    print(key, value)\n</pre>"
                     "<p>The <code>json.load</code> function parses the whole file; use <code>ijson</code> for "
                     "streams.</p></body></html>")
    news = _screened("<html><body><h1>Council approves new park</h1><p>The city council voted on Tuesday to turn "
                     "the old rail yard into a park with a playground, a pond and walking trails. Residents who "
                     "spoke at the meeting said the neighbourhood has waited a decade for green space, and the "
                     "mayor promised that construction would begin next spring.</p></body></html>")
    kept = classifier.decide(code)
    assert not isinstance(kept, Drop) and kept.code_score >= 0.5
    dropped = classifier.decide(news)
    assert isinstance(dropped, Drop) and dropped.reason == "not_code"
    assert code_probability(classifier.model, "") == 0.0
