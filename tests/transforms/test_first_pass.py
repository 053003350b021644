from __future__ import annotations

from ledger.records import Page
from transforms.first_pass import code_signals, plain_text, screen_page

HTML = "<html><body><p>Hello world</p><pre>def f(x):\n    return x\n</pre><code>a</code></body></html>"


def test_plain_text_keeps_lines_and_indentation():
    assert plain_text(HTML) == "Hello world\n\ndef f(x):\n    return x\na"


def test_code_signals_count_tags_and_code_lines():
    signals = code_signals(HTML, plain_text(HTML))
    assert (signals.n_pre, signals.n_code, signals.code_like_lines) == (1, 1, 2)


def test_screen_page_keeps_the_page_fields():
    page = Page("i", "u", "r", "d", "c", "f", 3, "text/html", "utf-8", HTML)
    screened = screen_page(page, "t")
    assert screened.offset == 3 and screened.html == HTML and screened.code_score == -1.0


def test_first_pass_drop_reasons_are_exact():
    from ledger.drop import Drop
    from transforms.first_pass import FirstPassConfig, decide_first_pass

    page = Page("i", "u", "r", "d", "c", "f", 3, "text/html", "utf-8", HTML)
    assert decide_first_pass(page, FirstPassConfig(min_text_chars=1000)) == Drop("no_text", "37")
    screened = decide_first_pass(page, FirstPassConfig(min_text_chars=10))
    assert screened.plain_text.splitlines()[0] == "Hello world" and screened.code_score == -1.0
